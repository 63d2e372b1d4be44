"""The duplex session with scripted fakes on a virtual clock: turns, speculation, barge-in,
ordering. Audio is fed at real time, but no test waits for real: sleeps take no time."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.fakes import FakeLLM, FakeTTS, fake_stack, quiet, tone
from tests.virtual_time import VirtualTimeLoop, VirtualTimePolicy
from voxloop.aio import cancel_and_wait
from voxloop.audio.pcm import float_to_pcm16
from voxloop.server.pacer import Pacer
from voxloop.session.config import SessionConfig, TurnDetection
from voxloop.session.session import Session
from voxloop.session.transcriber import ASRScheduler


class Harness:
    """A session with fake engines whose events are rendered to the wire as a client sees them."""

    def __init__(self, config: SessionConfig | None = None, **engines: Any) -> None:
        self.stack = fake_stack(inline=True, **engines)
        self.events: list[dict[str, Any]] = []
        self.got = asyncio.Event()

        async def send(ev: dict[str, Any]) -> None:
            self.events.append(ev)
            self.got.set()

        self.output = Pacer(send, extensions=lambda: self.session.config.voxloop_events)
        self.session = Session(self.stack, ASRScheduler(self.stack.asr), self.output, config or SessionConfig())
        self._sender: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._sender = asyncio.get_running_loop().create_task(self.output.run(), name="test-sender")
        await self.session.start()

    async def aclose(self) -> None:
        await self.session.aclose()
        await cancel_and_wait(self._sender)

    async def feed(self, samples: Any, chunk: float = 0.1) -> None:
        """Send audio as a client would: ``chunk`` seconds every ``chunk`` seconds (virtual)."""
        step = int(24000 * chunk)
        for i in range(0, len(samples), step):
            self.session.append_audio(float_to_pcm16(samples[i : i + step]))
            await asyncio.sleep(chunk)

    async def until(self, pred: Any, timeout: float = 10.0) -> dict[str, Any]:
        async def wait() -> dict[str, Any]:
            seen = 0
            while True:
                for ev in self.events[seen:]:
                    if pred(ev):
                        return ev
                seen = len(self.events)
                self.got.clear()
                await self.got.wait()

        return await asyncio.wait_for(wait(), timeout)

    def types(self) -> list[str]:
        return [e["type"] for e in self.events]


@pytest.fixture
def event_loop_policy() -> VirtualTimePolicy:
    return VirtualTimePolicy()


@pytest.fixture
async def h() -> Any:
    harness = Harness()
    await harness.start()
    yield harness
    await harness.aclose()


async def test_a_spoken_turn_gets_a_reply_in_protocol_order(h: Harness) -> None:
    await h.feed(quiet(0.3))
    await h.feed(tone(1.0))
    await h.feed(quiet(1.0))
    done = await h.until(lambda e: e["type"] == "response.done")
    assert done["response"]["status"] == "completed"
    t = h.types()
    order = ["input_audio_buffer.speech_started", "input_audio_buffer.speech_stopped",
             "input_audio_buffer.committed", "conversation.item.input_audio_transcription.completed",
             "response.created", "response.output_audio.delta", "response.output_audio.done", "response.done"]
    assert [t.index(x) for x in order] == sorted(t.index(x) for x in order)
    assert h.session.conversation.items[0].role == "user"
    assert h.session.conversation.items[1].text.startswith("Sure.")


async def test_speculative_reply_is_discarded_when_the_user_goes_on(h: Harness) -> None:
    await h.feed(tone(0.6))
    await h.feed(quiet(0.3))  # > speculative 200 ms, < 500 ms silence: a tentative end
    await h.feed(tone(0.6))  # the user resumes
    await h.feed(quiet(1.0))
    await h.until(lambda e: e["type"] == "response.done")
    await asyncio.sleep(0.2)
    assert h.types().count("response.created") == 1
    assert h.types().count("input_audio_buffer.speech_stopped") == 1
    completed = [e for e in h.events if e["type"] == "conversation.item.input_audio_transcription.completed"]
    assert len(completed) == 1


async def test_barge_in_cancels_flushes_and_truncates() -> None:
    h = Harness(tts=FakeTTS(seconds_per_word=0.4), llm=FakeLLM("one two three four five six seven eight. " * 3))
    await h.start()
    try:
        await h.feed(tone(0.8))
        await h.feed(quiet(0.8))
        created = await h.until(lambda e: e["type"] == "response.created")
        rid = created["response"]["id"]
        await h.until(lambda e: e["type"] == "response.output_audio.delta")
        await asyncio.sleep(0.5)
        await h.feed(tone(0.5))  # the user talks over the bot
        done = await h.until(lambda e: e["type"] == "response.done")
        assert done["response"]["status"] == "cancelled"
        t = h.types()
        assert t.index("input_audio_buffer.speech_started", t.index("response.created")) < t.index("response.done")
        assert "output_audio_buffer.cleared" in t and "conversation.item.truncated" in t
        await asyncio.sleep(0.5)
        # nothing of the interrupted reply leaves after the speech_started that interrupted it
        after = h.events[t.index("input_audio_buffer.speech_started", t.index("response.created")) + 1 :]
        assert not [e for e in after if e["type"] == "response.output_audio.delta" and e["response_id"] == rid]
        assert [e["type"] for e in h.events if e.get("response", {}).get("id") == rid] == [
            "response.created", "response.done"]
        item_id = next(e["item"]["id"] for e in h.events if e["type"] == "response.output_item.added")
        item = h.session.conversation.get(item_id)
        assert item is not None and item.role == "assistant"
        heard = item.text
        assert heard and len(heard.split()) < 24  # only what was played, not the whole reply
        assert item.status == "incomplete"
        # the cancelled reply closes its part and item like a finished one
        closing = [e["type"] for e in h.events[t.index("output_audio_buffer.cleared"): t.index("response.done")]]
        assert "response.content_part.done" in closing and "conversation.item.done" in closing
        item_done = [e for e in h.events if e["type"] == "conversation.item.done" and e["item"]["id"] == item_id]
        assert item_done[-1]["item"]["status"] == "incomplete"
        assert_openai_shapes(h.events)
        # the client knows best what it played: its truncate refines the server's estimate
        from voxloop.errors import InvalidRequest

        with pytest.raises(InvalidRequest):
            h.session.truncate_item(item_id, 60_000)  # more than was ever sent
        h.session.truncate_item(item_id, 0)
        assert item.text == ""
    finally:
        await h.aclose()


async def test_push_to_talk_commit_then_response_create() -> None:
    h = Harness(SessionConfig(turn_detection=None))
    await h.start()
    try:
        await h.feed(tone(1.0))
        h.session.commit()
        h.session.create_response()
        done = await h.until(lambda e: e["type"] == "response.done")
        assert done["response"]["status"] == "completed"
        assert "input_audio_buffer.speech_started" not in h.types()
        llm = h.stack.llm
        assert isinstance(llm, FakeLLM) and llm.requests[-1][-1].role == "user"
    finally:
        await h.aclose()


async def test_short_noise_does_not_start_a_turn(h: Harness) -> None:
    await h.feed(tone(0.06))
    await h.feed(quiet(1.0))
    await asyncio.sleep(0.2)
    assert "input_audio_buffer.speech_started" not in h.types()


async def test_commit_of_an_empty_buffer_is_an_error(h: Harness) -> None:
    from voxloop.errors import InvalidRequest

    with pytest.raises(InvalidRequest):
        h.session.commit()


async def test_config_changes_turn_detection_live(h: Harness) -> None:
    h.session.apply_config(h.session.config.with_(turn_detection=TurnDetection(silence_duration_ms=300)))
    await h.feed(tone(0.8))
    await h.feed(quiet(0.6))
    await h.until(lambda e: e["type"] == "input_audio_buffer.speech_stopped")


@pytest.mark.parametrize("p,early", [(0.9, True), (0.1, False)])
async def test_semantic_turn_detection_ends_early_only_when_complete(p: float, early: bool) -> None:
    from tests.fakes import FakeTurn

    turn = FakeTurn(p)
    td = TurnDetection(semantic=True, silence_duration_ms=1500, semantic_check_ms=300)
    h = Harness(SessionConfig(turn_detection=td), turn=turn)
    await h.start()
    try:
        await h.feed(tone(0.8))
        await h.feed(quiet(0.6))  # > 200 ms pause, < 1500 ms silence
        await asyncio.sleep(0.3)
        assert turn.calls == 1
        assert ("input_audio_buffer.speech_stopped" in h.types()) == early
        if early:
            await h.until(lambda e: e["type"] == "response.done")
            await h.feed(tone(0.8))  # the user speaks again: a new turn starts
            await h.until(lambda e: e["type"] == "input_audio_buffer.speech_started" and
                          h.types().count("input_audio_buffer.speech_started") == 2)
        else:
            await h.feed(quiet(1.2))
            await h.until(lambda e: e["type"] == "input_audio_buffer.speech_stopped")
    finally:
        await h.aclose()


async def test_a_quiet_session_still_answers_after_eleven_minutes(h: Harness) -> None:
    await h.feed(quiet(660.0), chunk=1.0)  # 11 minutes of silence, far faster than real time
    assert h.session.listener.input.seconds < 10.0  # the buffer keeps only what a turn can still need
    await h.feed(tone(1.0))
    await h.feed(quiet(1.0))
    done = await h.until(lambda e: e["type"] == "response.done")
    assert done["response"]["status"] == "completed"
    assert not [e for e in h.events if e["type"] == "error"]


async def test_push_to_talk_input_is_still_capped() -> None:
    from voxloop.errors import InvalidRequest
    from voxloop.session import turns as session_module

    h = Harness(SessionConfig(turn_detection=None))
    await h.start()
    try:
        old, session_module.MAX_BUFFER_SECONDS = session_module.MAX_BUFFER_SECONDS, 2.0
        try:
            with pytest.raises(InvalidRequest) as e:
                await h.feed(quiet(3.0), chunk=0.5)
            assert e.value.code == "input_buffer_full"
        finally:
            session_module.MAX_BUFFER_SECONDS = old
    finally:
        await h.aclose()


def assert_openai_shapes(events: list[dict[str, Any]]) -> None:
    """Every event parses as an OpenAI Realtime server event (what the Agents SDKs validate)."""
    from openai.types.realtime.realtime_server_event import RealtimeServerEvent
    from pydantic import TypeAdapter

    adapter: TypeAdapter[Any] = TypeAdapter(RealtimeServerEvent)
    for ev in events:
        adapter.validate_python({**ev, "previous_item_id": ev.get("previous_item_id") or ""}
                                if "previous_item_id" in ev else ev)


async def test_items_chain_by_previous_item_id_and_extensions_are_opt_in(h: Harness) -> None:
    for n in (1, 2):
        await h.feed(tone(0.8))
        await h.feed(quiet(1.0))
        await h.until(lambda e, n=n: e["type"] == "response.done" and h.types().count("response.done") == n)
    added = [e for e in h.events if e["type"] == "conversation.item.added"]
    ids = [e["item"]["id"] for e in added]
    assert [e["item"]["role"] for e in added] == ["user", "assistant", "user", "assistant"]
    assert [e["previous_item_id"] for e in added] == [None, *ids[:-1]]
    assert [i.id for i in h.session.conversation.items] == ids
    committed = [e for e in h.events if e["type"] == "input_audio_buffer.committed"]
    assert committed[0]["previous_item_id"] is None and committed[1]["previous_item_id"] == ids[1]
    assert not [e for e in h.events if e["type"].startswith("voxloop.")]
    assert_openai_shapes(h.events)


async def test_metrics_events_for_clients_that_opt_in() -> None:
    h = Harness(SessionConfig(voxloop_events=True))
    await h.start()
    try:
        await h.feed(tone(0.8))
        await h.feed(quiet(1.0))
        done = await h.until(lambda e: e["type"] == "response.done")
        metrics = await h.until(lambda e: e["type"] == "voxloop.metrics")
        assert metrics["response_id"] == done["response"]["id"]
    finally:
        await h.aclose()


async def test_idle_timeout_prompts_a_reply_after_silence() -> None:
    h = Harness(SessionConfig(turn_detection=TurnDetection(idle_timeout_ms=2000)))
    await h.start()
    try:
        await h.feed(quiet(1.5))
        assert "input_audio_buffer.timeout_triggered" not in h.types()
        await h.feed(quiet(1.0))
        fired = await h.until(lambda e: e["type"] == "input_audio_buffer.timeout_triggered")
        assert fired["audio_end_ms"] - fired["audio_start_ms"] >= 2000
        committed = await h.until(lambda e: e["type"] == "input_audio_buffer.committed")
        assert committed["item_id"] == fired["item_id"]
        done = await h.until(lambda e: e["type"] == "response.done")
        assert done["response"]["status"] == "completed"
        assert h.types().count("input_audio_buffer.timeout_triggered") == 1  # not again while it replies
        assert_openai_shapes(h.events)
    finally:
        await h.aclose()


class CrashingLLM(FakeLLM):
    """Its first reply fails after a word: a backend bug in the middle of a reply."""

    crashes = 1

    def chat(self, messages: Any, options: Any = None) -> Any:
        from voxloop.engines.streams import LLMStream

        if not self.crashes:
            return super().chat(messages)
        self.crashes -= 1
        self.requests.append(list(messages))

        async def gen() -> Any:
            yield "Well, "
            await asyncio.sleep(0.01)
            raise RuntimeError("boom")

        return LLMStream(gen())


async def test_a_crash_inside_a_reply_fails_that_response_and_the_session_goes_on() -> None:
    h = Harness(llm=CrashingLLM())
    await h.start()
    try:
        await h.feed(tone(0.8))
        await h.feed(quiet(1.0))
        done = await h.until(lambda e: e["type"] == "response.done")
        assert done["response"]["status"] == "failed"
        assert done["response"]["status_details"]["error"]["code"] == "internal_error"
        assert [e for e in h.events if e["type"] == "error"]
        assert h.types().count("response.created") == h.types().count("response.done") == 1
        assert_openai_shapes(h.events)
        # the backend recovers: the next turn is answered
        await h.feed(tone(0.8))
        await h.feed(quiet(1.0))
        done = await h.until(lambda e: e["type"] == "response.done" and e["response"]["status"] == "completed")
    finally:
        await h.aclose()


async def test_response_create_during_a_reply_is_refused() -> None:
    from voxloop.errors import InvalidRequest

    h = Harness(tts=FakeTTS(seconds_per_word=0.3), llm=FakeLLM("one two three four five six. " * 3))
    await h.start()
    try:
        await h.feed(tone(0.8))
        await h.feed(quiet(0.8))
        await h.until(lambda e: e["type"] == "response.output_audio.delta")
        with pytest.raises(InvalidRequest) as e:
            h.session.create_response()
        assert e.value.code == "conversation_already_has_active_response"
    finally:
        await h.aclose()


async def test_without_interrupt_response_a_new_turn_waits_for_the_reply() -> None:
    td = TurnDetection(interrupt_response=False)
    h = Harness(SessionConfig(turn_detection=td), tts=FakeTTS(seconds_per_word=0.05),
                llm=FakeLLM("Sure, here is a longer answer for you. It has several sentences in it. "
                            "Each one is spoken in turn. " * 2, delay=0.05))
    await h.start()
    try:
        await h.feed(tone(0.8))
        await h.feed(quiet(0.8))
        await h.until(lambda e: e["type"] == "response.output_audio.delta")
        await h.feed(tone(0.8))  # the user speaks while the bot talks: no interruption
        await h.feed(quiet(0.8))
        await h.until(lambda e: e["type"] == "response.done" and h.types().count("response.done") == 2, 20)
        replies = [e["response_id"] for e in h.events if e["type"] == "response.output_audio.delta"]
        first, second = replies[0], replies[-1]
        assert first != second
        # one reply speaks at a time: all audio of the first, then all of the second
        assert replies == [first] * replies.count(first) + [second] * replies.count(second)
        t = h.types()
        dones = [i for i, x in enumerate(t) if x == "response.done"]
        created = [i for i, x in enumerate(t) if x == "response.created"]
        assert dones[0] < created[1]
        assert all(e["response"]["status"] == "completed" for e in h.events if e["type"] == "response.done")
    finally:
        await h.aclose()


async def test_partial_transcription_failures_are_reported_on_the_item() -> None:
    from tests.fakes import FakeASR
    from voxloop.errors import BackendError

    class FlakyASR(FakeASR):
        def transcribe_sync(self, audio: Any, options: Any = None) -> Any:
            if audio.duration < 1.0:  # partials (the final has the whole, padded utterance)
                raise BackendError("decoder fell over")
            return super().transcribe_sync(audio)

    h = Harness(asr=FlakyASR())
    await h.start()
    try:
        await h.feed(tone(1.2))  # partials run while the user speaks
        await h.feed(quiet(1.0))
        failed = await h.until(lambda e: e["type"] == "conversation.item.input_audio_transcription.failed")
        assert failed["error"]["code"] == "backend_error"
        completed = await h.until(lambda e: e["type"] == "conversation.item.input_audio_transcription.completed")
        assert completed["item_id"] == failed["item_id"] and completed["transcript"]
    finally:
        await h.aclose()


async def test_the_clock_is_virtual() -> None:
    loop = asyncio.get_running_loop()
    assert isinstance(loop, VirtualTimeLoop)
    t0, wall = loop.time(), __import__("time").monotonic()
    await asyncio.sleep(3600)
    assert loop.time() - t0 >= 3599.99 and __import__("time").monotonic() - wall < 1
