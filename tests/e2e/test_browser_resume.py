"""The web page follows its conversation across connections, in a real headless Chromium with
the real server and models: a link continues it in another tab (which takes it over), a network
blip resumes it in place, and a bad link falls back to a new conversation.

The microphone is test_browser's scripted one (a WebAudio stream the test speaks Piper's WAVs
into), so each tab says exactly what the test makes it say and the texts compare exactly.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.e2e.test_browser import (
    BASE_ARGS,
    CHROMIUM,
    HEARD,
    QUESTION,
    SCRIPTED_MIC,
    Page,
    sync_api,
)
from tests.support import FlakyProxy, running_server

pytestmark = pytest.mark.browser

TAKEN_OVER = "This conversation continued in another tab or device"
NOT_CONTINUED = "could not be continued"


@pytest.fixture(autouse=True)
def _no_leaked_tasks() -> Iterator[None]:
    """As in test_browser: Playwright's sync API runs its own loop on this thread."""
    yield


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with running_server() as base:
        yield base


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """test_browser's Chromium; every page here speaks through the scripted microphone."""
    with sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=BASE_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


def shown(page: Page) -> list[dict[str, str]]:
    """The turns the conversation log shows, in order: role, item id, text."""
    turns: list[dict[str, str]] = page.page.eval_on_selector_all(
        "#conversation-log .turn",
        """nodes => nodes.map(n => ({role: n.classList.contains('user') ? 'user' : 'bot',
                                    id: n.dataset.itemId || '', text: n.querySelector('.final').textContent.trim()}))""")
    return turns


def talk_once(page: Page, text: str, replies: int) -> None:
    """Say ``text`` into the scripted mic; wait for reply number ``replies`` to finish playing."""
    page.say(text)
    page.wait_for(f"() => window.voxloop.botTranscripts.length >= {replies}", f"reply {replies}")
    page.wait_for("() => window.voxloop.state === 'listening' && "
                  "window.voxloop.lastEvents.lastIndexOf('response.done') >= 0", "the reply to end")


def unlock_audio(page: Page) -> None:
    """A page opened from a link (no click yet) connects at once, but the browser holds its audio
    back until the user interacts: the notice's button turns it on."""
    sync_api.expect(page.page.locator("#notice-action")).to_have_text("Turn on sound and microphone")
    page.page.click("#notice-action")
    page.wait_for("() => !window.voxloop.audioLocked && window.voxloop.state === 'listening'", "the audio",
                  timeout=10_000)


def start(page: Page, path: str = "/") -> None:
    page.page.goto(path)
    page.page.click("#talk")
    page.wait_for("() => window.voxloop.connected && window.voxloop.sessionIds.length > 0", "the session",
                  timeout=30_000)


def test_a_link_continues_the_conversation_in_another_tab_which_takes_it_over(browser: Any, server: str) -> None:
    expect = sync_api.expect
    tab1 = Page(browser, server, init_script=SCRIPTED_MIC)
    tab2 = Page(browser, server, init_script=SCRIPTED_MIC)  # another context: another "device"
    try:
        tab1.page.goto("/")
        expect(tab1.page.locator("#continue")).to_be_disabled()  # no conversation yet
        start(tab1)
        talk_once(tab1, QUESTION, 1)
        before = shown(tab1)
        assert [t["role"] for t in before] == ["user", "bot"], before
        assert HEARD.search(before[0]["text"]) and before[1]["text"], before
        assert all(t["id"].startswith("item_") for t in before), before

        tab1.page.click("#continue")
        expect(tab1.page.locator("#continue-panel")).to_be_visible()
        link = tab1.page.input_value("#continue-link")
        parts = urlsplit(link)
        assert f"{parts.scheme}://{parts.netloc}" == server and parts.path == "/" and not parts.query, link
        assert re.fullmatch(r"resume=[A-Za-z0-9_%-]{40,}", parts.fragment), link

        attempts = tab1.debug()["stats"]["connectAttempts"]
        tab2.page.goto(link)  # loading the link connects at once, with the token
        tab2.wait_for("() => window.voxloop.connected && window.voxloop.replayedItems >= 2", "the replayed history",
                      timeout=30_000)
        assert "resume" not in tab2.page.url, tab2.page.url  # out of the address bar
        expect(tab2.page.locator(".turn.user .final").first).to_have_text(before[0]["text"])
        assert shown(tab2) == before  # same items, same order, same words, nothing twice
        assert tab2.debug()["sessionIds"] == tab1.debug()["sessionIds"]  # the same conversation
        assert tab2.debug()["audioLocked"]  # history shown before any click

        # the first tab hears it was taken over, stops, and does not reconnect
        tab1.wait_for("() => window.voxloop.takenOver && !window.voxloop.connected", "the takeover", timeout=30_000)
        expect(tab1.page.locator("#notice")).to_contain_text(TAKEN_OVER)
        expect(tab1.page.locator("#talk")).to_have_attribute("aria-pressed", "false")
        time.sleep(3)  # longer than the first two retry delays
        state = tab1.debug()
        assert not state["connected"] and state["stats"]["connectAttempts"] == attempts, state["stats"]
        assert [e["code"] for e in state["errors"]] == ["session_taken_over"]
        expect(tab1.page.locator("#notice")).to_contain_text(TAKEN_OVER)
        assert shown(tab1) == before  # what it showed stays

        # the conversation goes on in the second tab
        unlock_audio(tab2)
        talk_once(tab2, "And what is the capital of Italy?", 1)
        after = shown(tab2)
        assert after[:2] == before and [t["role"] for t in after[2:]] == ["user", "bot"], after
        assert not tab2.debug()["errors"]
    finally:
        tab1.close()
        tab2.close()


def test_a_network_blip_resumes_the_same_conversation(browser: Any, server: str) -> None:
    port = urlsplit(server).port
    assert port is not None
    with FlakyProxy(("127.0.0.1", port)) as proxy:
        page = Page(browser, proxy.base, init_script=SCRIPTED_MIC)
        try:
            start(page)
            talk_once(page, QUESTION, 1)
            before = shown(page)
            assert [t["role"] for t in before] == ["user", "bot"] and HEARD.search(before[0]["text"]), before
            sid = page.debug()["sessionIds"][0]

            proxy.blip(3.0)
            page.wait_for("() => window.voxloop.stats.disconnects >= 1", "the drop", timeout=10_000)
            sync_api.expect(page.page.locator("#status")).to_contain_text("Server disconnected")
            page.wait_for("() => window.voxloop.connected && window.voxloop.stats.reconnects >= 1"
                          " && window.voxloop.sessionIds.length >= 2", "the resumed session", timeout=30_000)
            state = page.debug()
            assert state["stats"]["disconnects"] >= 2  # at least one try was refused
            assert state["sessionIds"] == [sid, sid]  # resumed: the same conversation
            assert state["replayedItems"] == 0  # the tab had every item already
            assert shown(page) == before  # the earlier turn, exactly once
            sockets = [r for r in proxy.requests if r.startswith("GET /v1/realtime")]
            assert "resume=" not in sockets[0] and all("resume=" in r for r in sockets[1:]), sockets
            assert len(sockets) >= 2

            talk_once(page, "And what is the capital of Italy?", 2)  # a new turn after the blip
            after = shown(page)
            assert after[:2] == before and [t["role"] for t in after[2:]] == ["user", "bot"], after
            assert len({t["id"] for t in after}) == 4
            assert page.debug()["sessionIds"] == [sid, sid]
            assert not page.debug()["errors"]
        finally:
            page.close()


def test_a_bad_link_says_so_and_starts_a_new_conversation(browser: Any, server: str) -> None:
    expect = sync_api.expect
    page = Page(browser, server, init_script=SCRIPTED_MIC)
    try:
        page.page.goto("/#resume=not-a-real-token")
        page.wait_for("() => window.voxloop.connected && window.voxloop.sessionIds.length === 1",
                      "a new session", timeout=30_000)
        assert "resume" not in page.page.url
        expect(page.page.locator("#notice")).to_contain_text(NOT_CONTINUED)
        state = page.debug()
        assert state["stats"]["resumeFailures"] == 1
        assert [e["code"] for e in state["errors"]] == ["invalid_resume_token"]
        assert state["sessionIds"][0].startswith("sess_")
        expect(page.page.locator("#continue")).to_be_enabled()  # the new conversation's token
        assert "not-a-real-token" not in page.page.evaluate("() => sessionStorage.getItem('voxloop.resume')")

        unlock_audio(page)
        talk_once(page, QUESTION, 1)  # the fresh session works
        assert [t["role"] for t in shown(page)] == ["user", "bot"]
        expect(page.page.locator("#notice")).to_contain_text(NOT_CONTINUED)  # still says why
    finally:
        page.close()
