"""RemoteASR against a fake OpenAI-compatible /v1/audio/transcriptions server on 127.0.0.1."""

from __future__ import annotations

import io
import json
import socket
import threading
import time
import wave
from collections.abc import Callable, Iterator
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
import pytest

from voxloop.audio.pcm import Audio
from voxloop.engines import create_engine
from voxloop.engines.asr.remote import RemoteASR, language_code
from voxloop.engines.types import TranscribeOptions
from voxloop.errors import BackendError, BackendUnavailable, InvalidRequest

VERBOSE = {
    "task": "transcribe",
    "language": "english",
    "duration": 2.0,
    "text": "Hello world. Again.",
    "segments": [
        {
            "id": 0,
            "start": 0.0,
            "end": 1.2,
            "text": " Hello world.",
            "avg_logprob": -0.2,
            "no_speech_prob": 0.01,
        },
        {
            "id": 1,
            "start": 1.2,
            "end": 2.0,
            "text": " Again.",
            "avg_logprob": -0.3,
            "no_speech_prob": 0.02,
        },
    ],
    "words": [
        {"word": "Hello", "start": 0.1, "end": 0.5},
        {"word": "world.", "start": 0.5, "end": 1.1},
        {"word": "Again.", "start": 1.3, "end": 1.9},
    ],
}

Behaviour = Callable[["Handler"], None]


class Handler(BaseHTTPRequestHandler):
    server: FakeASRServer

    def do_POST(self) -> None:  # noqa: N802 - stdlib name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        head = f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode()
        msg = BytesParser(policy=HTTP).parsebytes(head + body)
        fields: dict[str, list[Any]] = {}
        for part in msg.iter_parts():
            name = part.get_param("name", header="content-disposition")
            value = part.get_payload(decode=True) if part.get_filename() else part.get_content()
            fields.setdefault(str(name), []).append(value)
        self.server.requests.append((self.path, dict(self.headers), fields))
        self.server.behaviour(self)

    def reply(self, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode() if not isinstance(payload, bytes) else payload
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


class FakeASRServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.requests: list[tuple[str, dict[str, str], dict[str, list[Any]]]] = []
        self.behaviour: Behaviour = lambda h: h.reply(200, VERBOSE)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


@pytest.fixture
def server() -> Iterator[FakeASRServer]:
    srv = FakeASRServer()
    thread = threading.Thread(
        target=srv.serve_forever, args=(0.02,), name="fake-asr-server", daemon=True
    )
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()
    thread.join(5)


@pytest.fixture
def audio() -> Audio:
    t = np.arange(24000) / 24000
    return Audio((0.2 * np.sin(2 * np.pi * 300 * t)).astype(np.float32), 24000)


def test_request_and_mapping(server: FakeASRServer, audio: Audio) -> None:
    asr = RemoteASR(server.url, model="whisper-large", api_key="sk-test")
    try:
        options = TranscribeOptions(
            language="en",
            prompt="A greeting.",
            hotwords=("Voxloop", "Kubernetes"),
            word_timestamps=True,
        )
        result = asr.transcribe_sync(audio, options)
    finally:
        asr.close()
    path, headers, fields = server.requests[0]
    assert path == "/v1/audio/transcriptions"
    assert headers["Authorization"] == "Bearer sk-test"
    assert fields["model"] == ["whisper-large"]
    assert fields["response_format"] == ["verbose_json"]
    assert sorted(fields["timestamp_granularities[]"]) == ["segment", "word"]
    assert fields["language"] == ["en"]
    assert fields["prompt"] == ["Voxloop, Kubernetes A greeting."]
    with wave.open(io.BytesIO(fields["file"][0])) as w:  # sent as 16 kHz mono PCM16 WAV
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (16000, 1, 2)
        assert w.getnframes() == 16000

    assert result.text == "Hello world. Again."
    assert result.language == "en"
    assert result.duration == 2.0
    assert [s.text for s in result.segments] == ["Hello world.", "Again."]
    assert [w.word for w in result.segments[0].words] == ["Hello", "world."]
    assert [w.word for w in result.segments[1].words] == ["Again."]
    assert result.segments[0].avg_logprob == -0.2


def test_minimal_reply_and_defaults(server: FakeASRServer, audio: Audio) -> None:
    server.behaviour = lambda h: h.reply(200, {"text": " just text "})
    asr = RemoteASR(server.url)
    try:
        result = asr.transcribe_sync(audio)
    finally:
        asr.close()
    _, headers, fields = server.requests[0]
    assert "Authorization" not in headers
    assert "language" not in fields and "prompt" not in fields
    assert fields["timestamp_granularities[]"] == ["segment"]
    assert fields["model"] == ["whisper-1"]
    assert result.text == "just text"
    assert result.duration == pytest.approx(1.0)
    assert result.segments[0].text == "just text"


@pytest.mark.parametrize(
    ("status", "retryable"), [(400, False), (401, False), (429, True), (500, True)]
)
def test_http_errors_carry_the_server_message(
    server: FakeASRServer, audio: Audio, status: int, retryable: bool
) -> None:
    server.behaviour = lambda h: h.reply(
        status, {"error": {"message": "file too short", "type": "x"}}
    )
    asr = RemoteASR(server.url)
    try:
        with pytest.raises(BackendError) as err:
            asr.transcribe_sync(audio)
    finally:
        asr.close()
    assert not isinstance(err.value, BackendUnavailable)
    assert "file too short" in str(err.value) and str(status) in str(err.value)
    assert err.value.retryable is retryable


def test_non_json_error_body(server: FakeASRServer, audio: Audio) -> None:
    server.behaviour = lambda h: h.reply(502, b"upstream exploded")
    asr = RemoteASR(server.url)
    try:
        with pytest.raises(BackendError, match="upstream exploded"):
            asr.transcribe_sync(audio)
    finally:
        asr.close()


def test_unexpected_reply(server: FakeASRServer, audio: Audio) -> None:
    server.behaviour = lambda h: h.reply(200, ["not", "an", "object"])
    asr = RemoteASR(server.url)
    try:
        with pytest.raises(BackendError, match="unexpected"):
            asr.transcribe_sync(audio)
    finally:
        asr.close()


def test_unreachable_server(audio: Audio) -> None:
    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    asr = RemoteASR(f"http://127.0.0.1:{port}/v1")
    try:
        with pytest.raises(BackendUnavailable, match="unreachable"):
            asr.transcribe_sync(audio)
    finally:
        asr.close()


def test_timeout(server: FakeASRServer, audio: Audio) -> None:
    def slow(handler: Handler) -> None:
        time.sleep(0.5)
        handler.reply(200, VERBOSE)

    server.behaviour = slow
    asr = RemoteASR(server.url, timeout=0.2)
    try:
        with pytest.raises(BackendUnavailable, match="timed out"):
            asr.transcribe_sync(audio)
    finally:
        asr.close()


async def test_async_transcribe_via_registry(server: FakeASRServer, audio: Audio) -> None:
    asr = create_engine("asr", f"openai:{server.url}")
    assert isinstance(asr, RemoteASR)
    assert asr.describe() == {"backend": "openai", "url": server.url, "model": "whisper-1"}
    try:
        result = await asr.transcribe(audio)
    finally:
        asr.close()
    assert result.text == "Hello world. Again."


@pytest.mark.parametrize("arg", [None, "", "127.0.0.1:9000", "ftp://x"])
def test_needs_a_base_url(arg: str | None) -> None:
    with pytest.raises(InvalidRequest, match="base URL"):
        RemoteASR(arg)


def test_language_codes() -> None:
    assert language_code("english") == "en"
    assert language_code("Chinese") == "zh"
    assert language_code("haitian creole") == "ht"
    assert language_code("en") == "en"
    assert language_code(None, "fr") == "fr"
