"""``POST /v1/audio/speech`` with a fake voice (no models): formats, streaming, errors."""

from __future__ import annotations

import struct
from typing import Any

import httpx
import numpy as np
import pytest
from starlette.applications import Starlette

from tests.unit.test_rest_transcriptions import FakeStack, FakeTTS, assert_error, client, make_app
from voxloop.audio import decode_audio, pcm16_to_float
from voxloop.server.rest_speech import SPEECH_RATE, _Encoder, _Sink, supported_speech_formats


async def speak(app: Starlette, **body: Any) -> httpx.Response:
    payload = {"model": "tts-1", "input": "one two three four", "voice": "alloy", **body}
    async with client(app) as c:
        return await c.post("/v1/audio/speech", json=payload)


async def test_pcm_is_24khz_pcm16() -> None:
    r = await speak(make_app(), response_format="pcm")
    assert r.status_code == 200 and r.headers["content-type"] == "audio/pcm"
    samples = pcm16_to_float(r.content)
    assert len(samples) == pytest.approx(4 * 0.25 * SPEECH_RATE, abs=100)  # four words, 0.25 s each
    assert 0.2 < float(np.abs(samples).max()) < 0.4


async def test_wav_has_a_streaming_header_and_decodes() -> None:
    r = await speak(make_app(), response_format="wav")
    assert r.headers["content-type"] == "audio/wav"
    data = r.content
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE" and data[36:40] == b"data"
    channels, rate = struct.unpack("<HI", data[22:28])
    assert (channels, rate) == (1, SPEECH_RATE)
    audio = decode_audio(data, 16000)
    assert audio.duration == pytest.approx(1.0, abs=0.05)


@pytest.mark.parametrize("fmt", ["mp3", "opus", "flac", "aac"])
async def test_encoded_formats_decode_back(fmt: str) -> None:
    if fmt not in supported_speech_formats():
        pytest.skip(f"this PyAV build cannot encode {fmt}")
    r = await speak(make_app(), response_format=fmt)
    assert r.status_code == 200, r.text
    audio = decode_audio(r.content, 16000)
    assert audio.duration == pytest.approx(1.0, abs=0.1)


async def test_default_format_is_mp3_when_available() -> None:
    r = await speak(make_app())
    expected = "audio/mpeg" if "mp3" in supported_speech_formats() else "audio/wav"
    assert r.headers["content-type"] == expected


async def test_voice_and_speed_reach_the_engine() -> None:
    tts = FakeTTS()
    app = make_app(FakeStack(tts=tts))
    await speak(app, voice="nova", speed=1.5, response_format="pcm")
    await speak(app, voice="my-voice", response_format="pcm")
    await speak(app, voice={"id": "other"}, response_format="pcm")
    assert [(o.voice, o.speed) for _, o in tts.calls] == [(None, 1.5), ("my-voice", 1.0), ("other", 1.0)]


async def test_bad_requests_name_the_field() -> None:
    app = make_app(max_speech_chars=50)
    assert_error(await speak(app, input=""), 400, "input")
    assert_error(await speak(app, input="word " * 20), 400, "input")
    assert_error(await speak(app, model=None), 400, "model")
    assert_error(await speak(app, voice=7), 400, "voice")
    assert_error(await speak(app, speed=9), 400, "speed")
    assert_error(await speak(app, speed="fast"), 400, "speed")
    assert_error(await speak(app, stream_format="sse"), 400, "stream_format")
    error = assert_error(await speak(app, response_format="ogg"), 400, "response_format")
    assert "wav" in error["message"] and "pcm" in error["message"]
    async with client(app) as c:
        assert_error(await c.post("/v1/audio/speech", content=b"{not json"), 400)
        assert_error(await c.post("/v1/audio/speech", json=["a list"]), 400)
    assert (await speak(app, response_format="pcm")).status_code == 200


async def test_failure_before_any_audio_is_an_error_status() -> None:
    app = make_app()
    error = assert_error(await speak(app, input="please explode now"), 502)
    assert error["code"] == "backend_error"
    assert (await speak(app, response_format="pcm")).status_code == 200


def test_encoder_streams_chunk_by_chunk() -> None:
    chunk = (0.2 * np.sin(np.arange(11025) / 10)).astype(np.float32)
    for fmt in supported_speech_formats():
        encoder = _Encoder(fmt, 22050)
        parts = [encoder.header(), *(encoder.encode(chunk) for _ in range(6)), encoder.finish()]
        assert sum(len(p) for p in parts[:-1]) > 0, fmt  # audio leaves before the end
        if fmt != "pcm":
            assert decode_audio(b"".join(parts), 16000).duration == pytest.approx(3.0, abs=0.15), fmt


def test_sink_drops_patches_of_bytes_already_sent() -> None:
    sink = _Sink()
    sink.write(b"abcd")
    assert sink.take() == b"abcd"
    sink.write(b"ef")
    sink.seek(2)
    sink.write(b"XYZ")  # "XY" patches sent bytes (dropped), "Z" lands on "e"
    assert sink.tell() == 5
    sink.seek(0, 2)
    sink.write(b"g")
    assert sink.take() == b"Zfg"
