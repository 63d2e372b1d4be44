"""RemoteTTS against a fake OpenAI-compatible /v1/audio/speech server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import numpy as np
import pytest

from tests.fake_http import FakeServer, serving
from voxloop.engines import create_engine
from voxloop.engines.tts.remote import RemoteTTS
from voxloop.engines.tts.stream import tts_stream
from voxloop.engines.types import TTSOptions
from voxloop.errors import BackendError, BackendUnavailable

# 0.5 s of a 24 kHz ramp as PCM16: every sample value is checkable after the trip.
RAMP = (np.arange(12000) - 6000).astype("<i2")
PCM = RAMP.tobytes()

Behaviour = Callable[["Handler", dict[str, Any]], None]


class Handler(BaseHTTPRequestHandler):
    server: FakeServer

    def do_POST(self) -> None:  # noqa: N802 - stdlib name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append((self.path, dict(self.headers), body))
        self.server.behaviour(self, body)

    def log_message(self, *args: Any) -> None:
        pass

    def error(self, status: int, payload: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def pcm(self, data: bytes, piece: int = 1001, delay: float = 0.0) -> None:
        """Send ``data`` in odd-sized pieces (samples split across writes)."""
        self.send_response(200)
        self.send_header("Content-Type", "audio/pcm")
        self.end_headers()
        try:
            for i in range(0, len(data), piece):
                self.wfile.write(data[i : i + piece])
                self.wfile.flush()
                self.server.sent += 1
                time.sleep(delay)
        except (BrokenPipeError, ConnectionResetError):
            self.server.disconnected.set()


@pytest.fixture
def serve() -> Iterator[Callable[[Behaviour], FakeServer]]:
    yield from serving(Handler)


async def test_streams_pcm_and_sends_an_openai_request(serve: Callable[[Behaviour], FakeServer]) -> None:
    server = serve(lambda h, body: h.pcm(PCM))
    tts = RemoteTTS(server.url + "?model=kokoro&voice=af_sky", api_key="k")
    chunks = [a async for a in tts.synthesize("Hello there.", TTSOptions(speed=1.25))]
    assert len(chunks) > 1 and {a.sample_rate for a in chunks} == {24000}
    samples = np.concatenate([a.samples for a in chunks])
    assert np.array_equal(np.round(samples * 32768).astype(np.int16), RAMP)
    path, headers, body = server.requests[0]
    assert path == "/v1/audio/speech"
    assert headers["Authorization"] == "Bearer k"
    assert body == {"model": "kokoro", "input": "Hello there.", "voice": "af_sky", "response_format": "pcm", "speed": 1.25}


async def test_options_voice_overrides_and_defaults(serve: Callable[[Behaviour], FakeServer]) -> None:
    server = serve(lambda h, body: h.pcm(PCM[:100]))
    tts = RemoteTTS(server.url)
    [a async for a in tts.synthesize("Hi.", TTSOptions(voice="nova"))]
    assert server.requests[0][2]["voice"] == "nova" and server.requests[0][2]["model"] == "tts-1"
    [a async for a in tts.synthesize("Hi.")]
    assert server.requests[1][2]["voice"] == "alloy"
    assert [a async for a in tts.synthesize("   ")] == []  # nothing to say: no request
    assert len(server.requests) == 2


def test_blocking_synthesis(serve: Callable[[Behaviour], FakeServer]) -> None:
    server = serve(lambda h, body: h.pcm(PCM))
    tts = RemoteTTS(server.url)
    try:
        samples = np.concatenate(list(tts.synthesize_sync("Hello.")))
    finally:
        tts.close()
    assert np.array_equal(np.round(samples * 32768).astype(np.int16), RAMP)


async def test_closing_the_iterator_closes_the_response(serve: Callable[[Behaviour], FakeServer]) -> None:
    server = serve(lambda h, body: h.pcm(PCM * 40, piece=4096, delay=0.01))
    chunks = RemoteTTS(server.url).synthesize("A long text.")
    async for _ in chunks:
        break
    await chunks.aclose()  # type: ignore[attr-defined]
    assert await asyncio.to_thread(server.disconnected.wait, 5)
    assert server.sent < len(PCM) * 40 // 4096


async def test_streaming_tts_adapter_with_remote_backend(serve: Callable[[Behaviour], FakeServer]) -> None:
    server = serve(lambda h, body: h.pcm(PCM))
    stream = tts_stream(RemoteTTS(server.url), TTSOptions(), sample_rate=16000)
    stream.push("First sentence here. Second one.")
    stream.end_input()
    chunks = [c async for c in stream]
    await stream.aclose()
    assert [c.text for c in chunks if c.text] == ["First sentence here.", "Second one."]
    assert {c.audio.sample_rate for c in chunks} == {16000}
    total = sum(len(c.audio.samples) for c in chunks)
    assert abs(total - 2 * 8000) <= 4  # two clauses of 0.5 s each


@pytest.mark.parametrize(
    ("status", "payload", "message", "retryable"),
    [
        (400, b'{"error": {"message": "voice not found: bob"}}', "voice not found: bob", False),
        (503, b"overloaded", "overloaded", True),
    ],
)
async def test_http_errors(
    serve: Callable[[Behaviour], FakeServer], status: int, payload: bytes, message: str, retryable: bool
) -> None:
    server = serve(lambda h, body: h.error(status, payload))
    tts = RemoteTTS(server.url)
    with pytest.raises(BackendError) as info:
        [a async for a in tts.synthesize("Hi.")]
    assert message in str(info.value) and str(status) in str(info.value)
    assert info.value.retryable is retryable and not isinstance(info.value, BackendUnavailable)
    with pytest.raises(BackendError, match=message):
        list(tts.synthesize_sync("Hi."))
    tts.close()


async def test_connection_refused_is_unavailable() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    tts = RemoteTTS(f"http://127.0.0.1:{port}/v1")
    with pytest.raises(BackendUnavailable):
        [a async for a in tts.synthesize("Hi.")]
    with pytest.raises(BackendUnavailable):
        list(tts.synthesize_sync("Hi."))
    tts.close()


def test_registry() -> None:
    tts = create_engine("tts", "openai:http://127.0.0.1:9/v1?voice=echo")
    assert isinstance(tts, RemoteTTS) and tts.sample_rate == 24000
    assert tts.describe()["voice"] == "echo"
