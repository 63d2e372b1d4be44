"""The realtime WebSocket over a real socket, with the real embedded models end to end."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import numpy as np
import pytest
import websockets

from tests.support import running_server, silence, speak
from voxloop.audio.pcm import Audio, float_to_pcm16, pcm16_to_float

pytestmark = pytest.mark.models


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with running_server() as base:
        yield base


class Client:
    """A minimal realtime client that records every event it receives."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.events: list[dict[str, Any]] = []
        self._sender: asyncio.Task[None] | None = None

    async def send(self, type_: str, **fields: Any) -> None:
        await self.ws.send(json.dumps({"type": type_, **fields}))

    def stream_audio(self, samples: np.ndarray, speed: float = 2.0, chunk: float = 0.1) -> None:
        """Send 24 kHz audio in ``chunk``-second appends at ``speed`` times real time (background)."""

        async def run() -> None:
            step = int(24000 * chunk)
            for i in range(0, len(samples), step):
                pcm = float_to_pcm16(samples[i : i + step])
                await self.send("input_audio_buffer.append", audio=base64.b64encode(pcm).decode())
                await asyncio.sleep(chunk / speed)

        self._sender = asyncio.get_running_loop().create_task(run(), name="test-audio-sender")

    async def wait_sent(self) -> None:
        if self._sender is not None:
            await self._sender

    async def until(self, pred: Any, timeout: float = 90.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out; last events: {[e['type'] for e in self.events[-15:]]}")
            ev = json.loads(await asyncio.wait_for(self.ws.recv(), left))
            self.events.append(ev)
            if pred(ev):
                return ev

    def of(self, type_: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == type_]

    async def close(self) -> None:
        if self._sender is not None:
            self._sender.cancel()
            await asyncio.gather(self._sender, return_exceptions=True)


async def connect(base: str, query: str = "model=voxloop") -> AsyncIterator[Client]:
    url = base.replace("http", "ws") + f"/v1/realtime?{query}"
    async with websockets.connect(url, max_size=None) as ws:
        client = Client(ws)
        try:
            await client.until(lambda e: e["type"] == "session.created", 10)
            yield client
        finally:
            await client.close()


def audio_of(events: list[dict[str, Any]], response_id: str) -> np.ndarray:
    parts = [pcm16_to_float(base64.b64decode(e["delta"])) for e in events
             if e["type"] == "response.output_audio.delta" and e["response_id"] == response_id]
    return np.concatenate(parts) if parts else np.zeros(0, np.float32)


async def test_spoken_question_gets_a_spoken_answer(server: str, real_asr: Any) -> None:
    question = np.concatenate([silence(0.5), speak("What is the capital of France?"), silence(1.5)])
    async for c in connect(server):
        await c.send("session.update", session={"type": "realtime", "voxloop": {"events": True}})
        await c.until(lambda e: e["type"] == "session.updated", 10)
        c.stream_audio(question)
        done = await c.until(lambda e: e["type"] == "response.done")
        assert done["response"]["status"] == "completed"
        heard = c.of("conversation.item.input_audio_transcription.completed")[0]["transcript"].lower()
        assert "capital" in heard and "france" in heard
        assert c.of("input_audio_buffer.speech_started") and c.of("input_audio_buffer.speech_stopped")
        reply = audio_of(c.events, done["response"]["id"])
        assert len(reply) > 24000 * 0.5
        said = real_asr.transcribe_sync(Audio(reply, 24000).to(16000)).text
        assert len(said.split()) >= 2, said
        metrics = await c.until(lambda e: e["type"] == "voxloop.metrics")
        assert metrics["metrics"]["voice_to_voice_ms"] is not None


async def test_barge_in_cancels_the_reply_and_truncates_history(server: str) -> None:
    async for c in connect(server):
        await c.send("session.update", session={
            "type": "realtime", "instructions": "You are a storyteller. Always tell long, detailed stories.",
            "max_output_tokens": 400, "voxloop": {"events": True}})
        await c.send("conversation.item.create", item={
            "type": "message", "role": "user",
            "content": [{"type": "input_text", "text": "Tell me a long story about a dragon and a knight."}]})
        await c.send("response.create")
        created = await c.until(lambda e: e["type"] == "response.created")
        rid = created["response"]["id"]
        for _ in range(5):
            await c.until(lambda e: e["type"] == "response.output_audio.delta")
        # the user talks over the bot
        c.stream_audio(np.concatenate([speak("Stop. Wait a moment please."), silence(1.0)]), speed=1.0)
        await c.until(lambda e: e["type"] == "input_audio_buffer.speech_started")
        done = await c.until(lambda e: e["type"] == "response.done" and e["response"]["id"] == rid)  # noqa: B023
        assert done["response"]["status"] == "cancelled"
        types = [e["type"] for e in c.events]
        assert "output_audio_buffer.cleared" in types
        truncated = [e for e in c.of("conversation.item.truncated")]
        assert truncated, "history was not truncated"
        # no audio of the cancelled response after its response.done
        after = c.events[types.index("response.done") + 1 :]
        await c.wait_sent()
        more = await asyncio.wait_for(_drain(c, 1.5), 10)
        assert not [e for e in after + more if e["type"] == "response.output_audio.delta" and e["response_id"] == rid]
        # what is kept is a prefix of what was sent
        sent = " ".join(e["delta"].strip() for e in c.events if e["type"] == "response.output_audio_transcript.delta"
                        and e["response_id"] == rid)
        kept = done["response"]["output"][0]["content"][0]["transcript"]
        assert kept, "the user heard part of the reply before talking over it"
        assert sent.startswith(kept.rsplit(" ", 1)[0])
        metrics = [e for e in c.of("voxloop.metrics") if e["response_id"] == rid]
        assert metrics and metrics[0]["metrics"]["barge_in_stop_ms"] is not None


async def _drain(c: Client, seconds: float) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        try:
            out.append(json.loads(await asyncio.wait_for(c.ws.recv(), left)))
        except TimeoutError:
            break
    c.events.extend(out)
    return out


async def test_bad_input_gets_error_events_and_the_session_goes_on(server: str) -> None:
    async for c in connect(server):
        bad = [
            "{not json",
            json.dumps({"type": "no.such.event"}),
            json.dumps({"type": "input_audio_buffer.append", "audio": "%%%not-base64%%%"}),
            json.dumps({"type": "input_audio_buffer.append", "audio": base64.b64encode(b"\x01\x02\x03").decode()}),
            json.dumps({"type": "input_audio_buffer.append", "audio": "A" * (2 << 20)}),
            json.dumps([1, 2, 3]),
            json.dumps({"type": "session.update", "session": {"audio": {"input": {"format": {"type": "audio/pcmu"}}}}}),
            json.dumps({"type": "response.cancel"}),
            json.dumps({"type": "input_audio_buffer.commit"}),
        ]
        for msg in bad:
            await c.ws.send(msg)
            err = await c.until(lambda e: e["type"] == "error", 10)
            assert err["error"]["message"]
        codes = [e["error"]["code"] for e in c.of("error")]
        assert codes[:5] == ["invalid_json", "unknown_event", "invalid_audio", "invalid_audio", "message_too_large"]
        await c.send("session.update", session={"type": "realtime", "instructions": "Be brief."})
        updated = await c.until(lambda e: e["type"] == "session.updated", 10)
        assert updated["session"]["instructions"] == "Be brief."


async def test_client_vanishing_mid_reply_leaves_no_tasks(server: str) -> None:
    async with httpx.AsyncClient() as http:
        baseline = (await http.get(f"{server}/healthz")).json()
        async for c in connect(server):
            await c.send("conversation.item.create", item={
                "type": "message", "role": "user", "content": [{"type": "input_text", "text": "Tell me a story."}]})
            await c.send("response.create")
            await c.until(lambda e: e["type"] == "response.output_audio.delta")
        # the socket is gone mid-reply; the server must free everything
        for _ in range(100):
            health = (await http.get(f"{server}/healthz")).json()
            if health["sessions"] == 0 and health["tasks"] <= baseline["tasks"]:
                break
            await asyncio.sleep(0.1)
        assert health["sessions"] == 0
        assert health["tasks"] <= baseline["tasks"], (health, baseline)


async def test_push_to_talk_and_text_modality(server: str) -> None:
    async for c in connect(server):
        await c.send("session.update", session={"type": "realtime", "output_modalities": ["text"],
                                                "audio": {"input": {"turn_detection": None}}})
        await c.until(lambda e: e["type"] == "session.updated")
        # padded with silence as a microphone would be: Whisper hears "the sky" as "this guy" on some CPUs
        # when the clip starts and ends on a word edge, so the check below keys on the first content word
        c.stream_audio(np.concatenate([silence(0.3), speak("What color is the sky?"), silence(0.5)]), speed=4.0)
        await c.wait_sent()
        await c.send("input_audio_buffer.commit")
        await c.send("response.create")
        done = await c.until(lambda e: e["type"] == "response.done")
        assert done["response"]["status"] == "completed"
        heard = c.of("conversation.item.input_audio_transcription.completed")[0]["transcript"].lower()
        assert "color" in heard, heard
        assert c.of("response.output_text.delta") and not c.of("response.output_audio.delta")
        assert not c.of("input_audio_buffer.speech_started")


async def test_semantic_vad_with_smart_turn(server: str) -> None:
    import importlib.util

    if importlib.util.find_spec("pipecat") is None:
        pytest.skip("Smart Turn ships in pipecat-ai (make setup installs it)")
    async for c in connect(server):
        await c.send("session.update", session={"type": "realtime", "audio": {"input": {
            "turn_detection": {"type": "semantic_vad", "eagerness": "high"}}}})
        updated = await c.until(lambda e: e["type"] == "session.updated")
        assert updated["session"]["audio"]["input"]["turn_detection"]["type"] == "semantic_vad"
        c.stream_audio(np.concatenate([silence(0.3), speak("What is the capital of France?"), silence(2.0)]))
        done = await c.until(lambda e: e["type"] == "response.done")
        assert done["response"]["status"] == "completed"
        heard = c.of("conversation.item.input_audio_transcription.completed")[0]["transcript"].lower()
        assert "capital" in heard
