"""A large upload through ``POST /v1/audio/transcriptions`` does not delay a live turn: its final
transcript arrives about as fast as without the upload (real models, real sockets).

Latency is compared within one run (a ratio, no absolute threshold): the same kind of turn is
timed with the server idle, then while the upload is being transcribed.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator

import httpx
import numpy as np
import pytest

from tests.e2e.test_realtime import Client, connect
from tests.support import running_server, silence, speak
from voxloop.audio import Audio, wav_bytes

pytestmark = pytest.mark.models

UPLOAD_SECONDS = 360.0
SENTENCES = ("The museum opens at nine in the morning and closes at six.",
             "Please bring the blue folder to the meeting on Thursday.",
             "Rain is expected over the mountains later this week.")
TURNS = ("The quick brown fox jumps over the lazy dog.", "Seven green apples sat on the table.")
HEARD = ("fox", "table")  # a word of each that tiny.en gets right


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with running_server() as base:
        yield base


def long_speech(seconds: float) -> bytes:
    """A 16 kHz WAV of ``seconds``: the sentences spoken by Piper with pauses, over and over."""
    one = np.concatenate([np.concatenate([speak(s, 16000), silence(0.8, 16000)]) for s in SENTENCES])
    repeats = int(np.ceil(seconds * 16000 / len(one)))
    return wav_bytes(Audio(np.tile(one, repeats)[: int(seconds * 16000)], 16000))


async def turn_latency(c: Client, text: str) -> tuple[float, str]:
    """Seconds from the end of the spoken ``text`` on the wire to its final transcript."""
    done = len(c.of("conversation.item.input_audio_transcription.completed"))
    c.stream_audio(np.concatenate([silence(0.3), speak(text)]), speed=2.0)
    await c.wait_sent()
    spoken = time.monotonic()
    c.stream_audio(silence(1.5), speed=2.0)
    while len(c.of("conversation.item.input_audio_transcription.completed")) <= done:
        await c.until(lambda e: e["type"] == "conversation.item.input_audio_transcription.completed", 120)
    latency = time.monotonic() - spoken
    await c.wait_sent()
    return latency, str(c.of("conversation.item.input_audio_transcription.completed")[-1]["transcript"])


class Upload:
    """The upload streamed back as Server-Sent Events, read in the background."""

    def __init__(self, base: str, data: bytes) -> None:
        self.base, self.data = base, data
        self.started = asyncio.Event()  # the first piece is transcribed: decoding is under way
        self.finished: float | None = None
        self.text = ""

    async def run(self) -> None:
        files = {"file": ("long.wav", self.data, "audio/wav")}
        async with httpx.AsyncClient(timeout=600) as http, http.stream(
                "POST", f"{self.base}/v1/audio/transcriptions", files=files,
                data={"model": "whisper-1", "stream": "true"}) as r:
            assert r.status_code == 200, await r.aread()
            async for line in r.aiter_lines():
                if not line.startswith("data: "):
                    continue
                event = json.loads(line[6:])
                assert event["type"] != "error", event
                self.started.set()
                if event["type"] == "transcript.text.done":
                    self.finished = time.monotonic()
                    self.text = event["text"]


async def test_a_live_turn_is_not_delayed_by_a_large_upload(server: str) -> None:
    data = long_speech(UPLOAD_SECONDS)
    async for c in connect(server, "intent=transcription"):
        await c.send("session.update", session={"type": "transcription", "audio": {"input": {
            "transcription": {"model": "whisper-1"}, "turn_detection": {"type": "server_vad"}}}})
        await c.until(lambda e: e["type"] == "session.updated")
        await turn_latency(c, TURNS[0])  # warm-up
        idle = [await turn_latency(c, t) for t in TURNS]

        upload = Upload(server, data)
        task = asyncio.get_running_loop().create_task(upload.run(), name="test-upload")
        try:
            await asyncio.wait_for(upload.started.wait(), 120)
            loaded = [await turn_latency(c, t) for t in TURNS]
            assert upload.finished is None, "the upload ended before the live turns: nothing was measured"
            await asyncio.wait_for(task, 600)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    print(f"final transcript after speech: idle {[round(t, 2) for t, _ in idle]} s, "
          f"during the upload {[round(t, 2) for t, _ in loaded]} s")
    for (_, heard), word in zip(idle + loaded, HEARD * 2, strict=True):
        assert word in heard.lower(), (heard, word)
    baseline = sum(t for t, _ in idle) / len(idle)
    worst = max(t for t, _ in loaded)
    assert worst <= 3.0 * baseline + 1.0, (idle, loaded)
    assert "museum" in upload.text.lower() and "blue folder" in upload.text.lower()
