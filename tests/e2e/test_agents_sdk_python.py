"""Conformance: the OpenAI Agents SDK for Python (openai-agents) holds voice, text and barge-in
conversations with voxloop, and surfaces no error event. The SDK validates every server event
against the OpenAI types, so a shape or sequence we get wrong shows up here as an error."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from tests.support import running_server, silence, speak
from voxloop.audio.pcm import float_to_pcm16

pytestmark = pytest.mark.models
realtime = pytest.importorskip("agents.realtime", reason="pip install openai-agents (the dev extra has it)")

MODEL_SETTINGS: dict[str, Any] = {
    "model_name": "voxloop",
    "voice": "alloy",
    "modalities": ["audio"],
    "input_audio_format": "pcm16",
    "output_audio_format": "pcm16",
    "input_audio_transcription": {"model": "whisper-1"},
    # server_vad: semantic_vad (the SDK's default) needs Smart Turn, an optional extra
    "turn_detection": {"type": "server_vad", "interrupt_response": True, "create_response": True},
}


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with running_server() as base:
        yield base


class Recorder:
    """Runs one SDK session and records its events in the background."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.events: list[Any] = []
        self._task = asyncio.get_running_loop().create_task(self._run(), name="agents-sdk-events")
        self._got = asyncio.Event()

    async def _run(self) -> None:
        try:
            async for event in self.session:
                self.events.append(event)
                self._got.set()
        except Exception as e:  # the SDK raises what it could not handle: count it as an error
            self.events.append(SimpleNamespace(type="error", error=e))
            self._got.set()

    async def until(self, pred: Any, timeout: float = 90.0) -> Any:
        async def wait() -> Any:
            seen = 0
            while True:
                for ev in self.events[seen:]:
                    if pred(ev):
                        return ev
                seen = len(self.events)
                self._got.clear()
                await self._got.wait()

        try:
            return await asyncio.wait_for(wait(), timeout)
        except TimeoutError:
            raise AssertionError(f"timed out; events: {[self.kind(e) for e in self.events]}") from None

    @staticmethod
    def kind(ev: Any) -> str:
        if ev.type == "raw_model_event":
            data = getattr(ev.data, "data", None)
            return f"raw:{data.get('type') if isinstance(data, dict) else ev.data.type}"
        return str(ev.type)

    def raw(self, type_: str) -> list[dict[str, Any]]:
        out = []
        for ev in self.events:
            data = getattr(ev.data, "data", None) if ev.type == "raw_model_event" else None
            if isinstance(data, dict) and data.get("type") == type_:
                out.append(data)
        return out

    def errors(self) -> list[Any]:
        return [e for e in self.events if e.type == "error"]

    async def close(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


async def _open(server: str, instructions: str, tools: list[Any] | None = None) -> tuple[Any, Recorder]:
    agent = realtime.RealtimeAgent(name="Assistant", instructions=instructions, tools=tools or [])
    runner = realtime.RealtimeRunner(starting_agent=agent, config={"model_settings": MODEL_SETTINGS})
    url = server.replace("http", "ws") + "/v1/realtime?model=voxloop"
    session = await runner.run(model_config={"url": url, "api_key": "not-needed"})
    await session.__aenter__()
    return session, Recorder(session)


async def _send_audio(session: Any, samples: np.ndarray, speed: float = 2.0) -> None:
    step = 2400  # 100 ms at 24 kHz
    for i in range(0, len(samples), step):
        await session.send_audio(float_to_pcm16(samples[i : i + step]))
        await asyncio.sleep(0.1 / speed)


def _texts(history: list[Any]) -> list[tuple[str, str]]:
    """(role, text) of each message item in the SDK's history, in its order."""
    out = []
    for item in history:
        if getattr(item, "type", None) != "message":
            continue
        parts = []
        for c in item.content:
            parts.append(getattr(c, "text", None) or getattr(c, "transcript", None) or "")
        out.append((item.role, " ".join(p for p in parts if p)))
    return out


async def test_text_and_voice_turns_in_order_with_no_errors(server: str) -> None:
    session, rec = await _open(server, "You are a helpful assistant. Answer in one short sentence.")
    try:
        await session.send_message("What is the capital of France?")
        await rec.until(lambda e: e.type == "agent_end")
        await _send_audio(session, np.concatenate([silence(0.3), speak("Why is the sky blue?"), silence(1.5)]))
        await rec.until(lambda e: e.type == "agent_end" and sum(x.type == "agent_end" for x in rec.events) >= 2)
        await asyncio.sleep(1.0)  # the SDK retrieves items after transcripts: let those answers arrive
        assert rec.errors() == [], rec.errors()
        history = _texts(session._history)
        roles = [r for r, _ in history]
        assert roles == ["user", "assistant", "user", "assistant"], history
        assert "france" in history[0][1].lower()
        assert "sky" in history[2][1].lower()  # the spoken question's transcript
        assert history[1][1] and history[3][1]
        assert any(e.type == "audio" for e in rec.events)
        # every response.created got exactly one response.done
        created = [e["response"]["id"] for e in rec.raw("response.created")]
        done = [e["response"]["id"] for e in rec.raw("response.done")]
        assert sorted(created) == sorted(done) and len(created) == 2
    finally:
        await rec.close()
        await session.close()


async def test_barge_in_interrupts_the_reply_with_no_errors(server: str) -> None:
    session, rec = await _open(server, "You are a storyteller. Always tell long, detailed stories.")
    try:
        await session.send_message("Tell me a long story about a dragon and a knight.")
        for n in range(1, 6):
            await rec.until(lambda e, n=n: e.type == "audio" and sum(x.type == "audio" for x in rec.events) >= n)
        await _send_audio(session, np.concatenate([speak("Stop. Wait a moment please."), silence(1.5)]), speed=1.0)
        await rec.until(lambda e: e.type == "audio_interrupted")
        await rec.until(lambda e: e.type == "agent_end" and sum(x.type == "agent_end" for x in rec.events) >= 2)
        await asyncio.sleep(1.0)
        assert rec.errors() == [], rec.errors()
        first = rec.raw("response.done")[0]["response"]
        assert first["status"] == "cancelled"
        started = next(i for i, e in enumerate(rec.events) if rec.kind(e) == "raw:input_audio_buffer.speech_started")
        late = [e for e in rec.events[started + 1 :] if rec.kind(e) == "raw:response.output_audio.delta"
                and e.data.data["response_id"] == first["id"]]
        assert late == []  # nothing of the interrupted reply after the speech that interrupted it
        roles = [r for r, _ in _texts(session._history)]
        assert roles[:3] == ["user", "assistant", "user"], roles
    finally:
        await rec.close()
        await session.close()


async def test_a_function_tool_runs_end_to_end(server: str) -> None:
    """The model calls a ``@function_tool``, the SDK runs it and sends its output back, and the
    model answers in words — with no error event."""
    from agents import function_tool

    calls: list[str] = []

    @function_tool
    def get_weather(city: str) -> str:
        """Get the current weather in a city.

        Args:
            city: The city.
        """
        calls.append(city)
        return f"It is 18 degrees and sunny in {city}."

    session, rec = await _open(server, "You are a helpful assistant. Answer in one short sentence.", [get_weather])
    try:
        await session.send_message("What is the weather like in Paris today?")
        await rec.until(lambda e: e.type == "tool_end")

        def answered(_: Any) -> bool:  # an agent_end after the tool ran: the answer is complete
            kinds = [x.type for x in rec.events]
            return "agent_end" in kinds[kinds.index("tool_end"):]

        await rec.until(answered)
        await asyncio.sleep(1.0)
        assert rec.errors() == [], rec.errors()
        assert len(calls) == 1 and "paris" in calls[0].lower(), calls
        outputs = [i for i in session._history if getattr(i, "type", None) == "function_call"]
        assert outputs and outputs[0].output and "sunny" in outputs[0].output
        history = _texts(session._history)
        assert history[0][0] == "user" and history[-1][0] == "assistant" and history[-1][1], history
    finally:
        await rec.close()
        await session.close()
