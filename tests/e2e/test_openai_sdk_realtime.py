"""The official ``openai`` SDK's realtime client holds a spoken conversation with barge-in."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from tests.support import running_server, sdk_until, silence, speak
from voxloop.audio.pcm import Audio, float_to_pcm16, pcm16_to_float

pytestmark = pytest.mark.models
openai = pytest.importorskip("openai")


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with running_server() as base:
        yield base


async def _send_audio(conn: Any, samples: np.ndarray, speed: float = 2.0) -> None:
    step = 2400  # 100 ms at 24 kHz
    for i in range(0, len(samples), step):
        await conn.input_audio_buffer.append(audio=base64.b64encode(float_to_pcm16(samples[i : i + step])).decode())
        await asyncio.sleep(0.1 / speed)


async def test_openai_sdk_spoken_conversation_with_barge_in(server: str, real_asr: Any) -> None:
    client = openai.AsyncOpenAI(api_key="not-needed", base_url=f"{server}/v1",
                                websocket_base_url=server.replace("http", "ws") + "/v1")
    async with client.realtime.connect(model="voxloop") as conn:
        seen: list[Any] = []
        await sdk_until(conn, seen, lambda e: e.type == "session.created", 10)
        await conn.session.update(session={
            "type": "realtime",
            "instructions": "You are a helpful assistant. Answer in one short sentence.",
            "output_modalities": ["audio"],
            "audio": {"input": {"format": {"type": "audio/pcm", "rate": 24000},
                                "turn_detection": {"type": "server_vad", "silence_duration_ms": 500},
                                "transcription": {"model": "whisper-1"}},
                      "output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "alloy"}},
        })
        await sdk_until(conn, seen, lambda e: e.type == "session.updated", 10)

        # turn 1: a spoken question, answered in voice
        sender = asyncio.create_task(_send_audio(conn, np.concatenate(
            [silence(0.3), speak("Why is the sky blue?"), silence(1.2)])))
        done = await sdk_until(conn, seen, lambda e: e.type == "response.done")
        await sender
        assert done.response.status == "completed"
        transcripts = [e.transcript for e in seen
                       if e.type == "conversation.item.input_audio_transcription.completed"]
        assert transcripts and "sky" in transcripts[0].lower()
        audio = np.concatenate([pcm16_to_float(base64.b64decode(e.delta)) for e in seen
                                if e.type == "response.output_audio.delta"])
        said = real_asr.transcribe_sync(Audio(audio, 24000).to(16000)).text
        assert len(said.split()) >= 2

        # turn 2: ask again, and interrupt the answer while it plays
        await conn.conversation.item.create(item={
            "type": "message", "role": "user",
            "content": [{"type": "input_text", "text": "Tell me a long story about the sea."}]})
        await conn.response.create(response={"instructions": "You are a storyteller. Tell long, detailed stories."})
        created = await sdk_until(conn, seen, lambda e: e.type == "response.created")
        rid = created.response.id
        await sdk_until(conn, seen, lambda e: e.type == "response.output_audio.delta")
        barge = asyncio.create_task(_send_audio(conn, np.concatenate([speak("Hold on, stop."), silence(1.0)]), 1.0))
        done2 = await sdk_until(conn, seen, lambda e: e.type == "response.done" and e.response.id == rid)
        await barge
        assert done2.response.status == "cancelled"
        index = seen.index(done2)
        assert not [e for e in seen[index:] if e.type == "response.output_audio.delta" and e.response_id == rid]
        assert any(e.type == "input_audio_buffer.speech_started" for e in seen[:index])
