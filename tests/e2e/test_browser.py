"""The web page in a real headless Chromium whose fake microphone plays a WAV spoken by Piper.

One voxloop server and one browser serve the whole module; each test gets a fresh browser
context (page, permissions). Waits are generous and nothing asserts on timing.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.support import running_server, silence, speak

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOT = Path("/tmp/voxloop-browser.png")
QUESTION = "What is the capital of France?"
HEARD = re.compile(r"capital|france", re.IGNORECASE)
WAIT_MS = 120_000  # model-bound steps on a small, busy machine

# A microphone the test speaks into on cue: getUserMedia returns a WebAudio stream, and
# window.__testSay(base64 WAV) plays a clip into it (used where timing matters: barge-in).
SCRIPTED_MIC = """
(() => {
  let mic = null;
  const ensure = () => {
    if (!mic) {
      const ctx = new AudioContext();
      mic = { ctx, dest: ctx.createMediaStreamDestination() };
    }
    return mic;
  };
  navigator.mediaDevices.getUserMedia = async () => ensure().dest.stream;
  window.__testSay = async (b64) => {
    const { ctx, dest } = ensure();
    await ctx.resume();
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const clip = await ctx.decodeAudioData(bytes.buffer);
    const source = ctx.createBufferSource();
    source.buffer = clip;
    source.connect(dest);
    source.start();
    return clip.duration;
  };
})();
"""

pytestmark = pytest.mark.browser

sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)", allow_module_level=True)

# Flags that keep Chromium off the network and feed it a fake microphone.
BASE_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
]


@pytest.fixture(autouse=True)
def _no_leaked_tasks() -> Iterator[None]:
    """Replaces the package's asyncio task-leak guard for this module: these tests are synchronous
    and Playwright's sync API keeps its own event loop running on this thread, so an async
    autouse fixture could not run here."""
    yield


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with running_server() as base:
        yield base


@pytest.fixture(scope="module")
def question_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """1 s of silence, the question, then 7 s of silence (Chromium loops the file)."""
    from voxloop.audio import Audio, write_wav

    rate = 48000
    samples = np.concatenate([silence(1.0, rate), speak(QUESTION, rate), silence(7.0, rate)])
    path = tmp_path_factory.mktemp("browser") / "question.wav"
    write_wav(path, Audio(samples.astype(np.float32), rate))
    return path


@pytest.fixture(scope="module")
def browser(question_wav: Path) -> Iterator[Any]:
    with sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[*BASE_ARGS, f"--use-file-for-fake-audio-capture={question_wav}"],
            headless=True,
        )
        try:
            yield chromium
        finally:
            chromium.close()


class Page:
    """A page in a fresh context that records uncaught script errors."""

    def __init__(self, browser: Any, server: str, *, microphone: bool = True, init_script: str | None = None):
        self.context = browser.new_context(
            permissions=["microphone"] if microphone else [],
            viewport={"width": 960, "height": 720},
            base_url=server,
        )
        if init_script:
            self.context.add_init_script(init_script)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def say(self, text: str) -> None:
        """Speak ``text`` (Piper) into the scripted microphone, then 1.5 s of silence."""
        from voxloop.audio import Audio, wav_bytes

        samples = np.concatenate([speak(text, 24000), silence(1.5, 24000)])
        clip = base64.b64encode(wav_bytes(Audio(samples.astype(np.float32), 24000))).decode()
        self.page.evaluate("(clip) => window.__testSay(clip)", clip)

    def debug(self) -> dict[str, Any]:
        state: dict[str, Any] = self.page.evaluate("() => JSON.parse(JSON.stringify(window.voxloop))")
        return state

    def wait_for(self, predicate_js: str, what: str, timeout: int = WAIT_MS) -> None:
        try:
            self.page.wait_for_function(predicate_js, timeout=timeout)
        except sync_api.TimeoutError:
            pytest.fail(f"timed out waiting for {what}; page state: {self.debug()}")

    def close(self) -> None:
        self.context.close()
        assert not self.errors, f"uncaught errors in the page: {self.errors}"


@pytest.fixture
def page(browser: Any, server: str) -> Iterator[Page]:
    p = Page(browser, server)
    yield p
    p.close()


def test_conversation_spoken_question_gets_a_spoken_answer(page: Page) -> None:
    expect = sync_api.expect
    pg = page.page
    pg.goto("/")
    expect(pg.locator("#status")).to_contain_text("Ready")
    pg.click("#talk")
    expect(pg.locator("#talk")).to_have_attribute("aria-pressed", "true")

    page.wait_for("() => window.voxloop.userTranscripts.some(t => /capital|france/i.test(t))",
                  "the user's transcript")
    page.wait_for("() => window.voxloop.botTranscripts.some(t => t.trim().length > 0)", "the bot's transcript")
    page.wait_for("() => window.voxloop.stats.samplesPlayed > 0", "the player worklet to output audio")
    page.wait_for("() => window.voxloop.metrics.length > 0", "a voxloop.metrics event")

    # What a person sees: their words, the bot's words, the turn's latency.
    expect(pg.locator(".turn.user .final").first).to_contain_text(HEARD)
    expect(pg.locator(".turn.bot .final").first).not_to_be_empty()
    expect(pg.locator(".turn.bot .latency").first).to_contain_text("ms")

    state = page.debug()
    stats = state["stats"]
    assert state["connected"] and state["micError"] is None
    assert stats["audioChunksSent"] > 0
    assert stats["audioDeltasReceived"] > 0 and stats["audioSamplesReceived"] > 0
    assert 0 < stats["samplesPlayed"] <= stats["audioSamplesReceived"]
    assert any(m.get("voice_to_voice_ms") is not None for m in state["metrics"])
    assert not state["errors"], state["errors"]
    pg.screenshot(path=str(SCREENSHOT))

    pg.click("#talk")
    expect(pg.locator("#talk")).to_have_attribute("aria-pressed", "false")
    page.wait_for("() => window.voxloop.state === 'idle' && !window.voxloop.connected", "the session to stop",
                  timeout=10_000)


def test_dictation_shows_final_paragraphs_and_builds_srt(page: Page) -> None:
    expect = sync_api.expect
    pg = page.page
    pg.goto("/#dictation")
    expect(pg.locator("#tab-dictation")).to_have_attribute("aria-selected", "true")
    expect(pg.locator("#dictation-srt")).to_be_disabled()
    pg.click("#dictate")

    page.wait_for("() => window.voxloop.dictation.some(d => /capital|france/i.test(d.text))",
                  "a final dictation transcript")
    expect(pg.locator("#dictation-doc .para .final").first).to_contain_text(HEARD)
    expect(pg.locator("#dictation-doc .para .stamp").first).to_have_text(re.compile(r"^\d+:\d\d$"))
    first = page.debug()["dictation"][0]
    assert 0 <= first["start_ms"] < first["end_ms"]

    expect(pg.locator("#dictation-srt")).to_be_enabled()
    with pg.expect_download() as download:
        pg.click("#dictation-srt")
    srt = Path(download.value.path()).read_text(encoding="utf-8")
    assert download.value.suggested_filename.endswith(".srt")
    assert re.match(r"1\n\d\d:\d\d:\d\d,\d{3} --> \d\d:\d\d:\d\d,\d{3}\n", srt), srt
    assert HEARD.search(srt), srt

    pg.click("#dictate")
    page.wait_for("() => window.voxloop.state === 'idle'", "dictation to stop", timeout=10_000)


def test_denied_microphone_shows_a_clear_message(browser: Any, server: str) -> None:
    deny = ("navigator.mediaDevices.getUserMedia = async () => "
            "{ throw new DOMException('Permission denied', 'NotAllowedError'); };")
    page = Page(browser, server, microphone=False, init_script=deny)
    try:
        expect = sync_api.expect
        pg = page.page
        pg.goto("/")
        pg.click("#talk")
        expect(pg.locator("#notice")).to_be_visible()
        expect(pg.locator("#notice")).to_contain_text("Microphone access was denied")
        expect(pg.locator("#talk")).to_have_attribute("aria-pressed", "false")
        state = page.debug()
        assert state["micError"] == "denied"
        assert not state["connected"] and state["stats"]["audioChunksSent"] == 0
    finally:
        page.close()


def test_lost_server_connection_is_announced_and_retried(page: Page) -> None:
    """While the route drops every socket the page says so and retries; "Reconnect now" recovers."""
    expect = sync_api.expect
    pg = page.page
    attempts: list[str] = []
    server_back = False

    def route(ws: Any) -> None:
        attempts.append(ws.url)
        if server_back:
            ws.connect_to_server()
        else:
            ws.close(code=1011, reason="test drops the socket")  # a mocked socket that dies at once

    pg.route_web_socket(re.compile(r"/v1/realtime"), route)
    pg.goto("/")
    pg.click("#talk")
    expect(pg.locator("#notice")).to_contain_text("Server disconnected")
    expect(pg.locator("#status")).to_contain_text("Server disconnected — retrying")
    page.wait_for("() => window.voxloop.stats.disconnects >= 2", "an automatic retry", timeout=30_000)
    assert not page.debug()["connected"]

    server_back = True
    pg.click("#notice-action")
    page.wait_for("() => window.voxloop.connected", "the reconnection", timeout=30_000)
    expect(pg.locator("#notice")).to_be_hidden()
    expect(pg.locator("#status")).not_to_contain_text("disconnected")
    assert all("/v1/realtime?model=" in url for url in attempts), attempts
    pg.click("#talk")
    expect(pg.locator("#talk")).to_have_attribute("aria-pressed", "false")


def test_barge_in_flushes_the_players_queue(browser: Any, server: str) -> None:
    """Speaking while the bot talks: the page drops its queued audio and marks the turn."""
    page = Page(browser, server, init_script=SCRIPTED_MIC)
    try:
        expect = sync_api.expect
        pg = page.page
        pg.goto("/")
        pg.click("#talk")
        page.wait_for("() => window.voxloop.connected", "the connection", timeout=30_000)
        interrupted = False
        for _ in range(3):  # a reply too short to interrupt is possible; ask again
            page.say("Tell me a long story about a brave little dragon who lived in the mountains.")
            page.wait_for("() => window.voxloop.state === 'bot-speaking'", "the bot to start speaking")
            replies = len(page.debug()["botTranscripts"])
            page.say("Wait, stop. Tell me about the weather instead.")
            page.wait_for(f"() => window.voxloop.interruptions.length > 0 || "
                          f"window.voxloop.botTranscripts.length > {replies}", "an interruption or the reply's end")
            if page.debug()["interruptions"]:
                interrupted = True
                break
        assert interrupted, f"no barge-in in three tries; page state: {page.debug()}"

        page.wait_for("() => window.voxloop.metrics.some(m => m.barge_in_stop_ms != null)",
                      "barge_in_stop_ms in voxloop.metrics")
        expect(pg.locator(".turn.bot.interrupted .tag").first).to_have_text("interrupted")
        state = page.debug()
        stats = state["stats"]
        assert state["interruptions"][0]["samplesReceived"] > 0
        assert stats["playbackClears"] >= 1 and stats["clearsAcknowledged"] >= 1
        assert stats["deltasAfterClear"] == 0, "audio deltas followed output_audio_buffer.cleared"
        assert stats["samplesPlayed"] + stats["samplesFlushed"] <= stats["audioSamplesReceived"]
    finally:
        page.close()
