"""OpenAI-compatible REST API with scripted fake engines (no models): transcriptions, models,
errors. The fakes here are shared with ``test_rest_speech``."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import numpy as np
import pytest
from starlette.applications import Starlette

from voxloop.audio import Audio, wav_bytes
from voxloop.audio.pcm import Float32Array
from voxloop.dialogue.vocabulary import Vocabulary
from voxloop.engines.base import ASREngine, Engine, TTSEngine
from voxloop.engines.stack import EngineStack
from voxloop.engines.types import Segment, TranscribeOptions, Transcript, TTSOptions, Word
from voxloop.engines.vad.energy import EnergyVAD
from voxloop.errors import BackendError, MissingDependency
from voxloop.server.app import create_app
from voxloop.server.config import ServerConfig

RATE = 16000


class FakeASR(ASREngine):
    """Says ``script[i]`` for its i-th call; word times spread evenly over the piece."""

    name = "fake"

    def __init__(self, script: tuple[str, ...] = ("hello world",)) -> None:
        super().__init__(workers=1)
        self.script = script
        self.calls: list[TranscribeOptions] = []
        self.fail = False

    def describe(self) -> dict[str, str]:
        return {"backend": "fake", "model": "fake-asr"}

    def transcribe_sync(self, audio: Audio, options: TranscribeOptions = TranscribeOptions()) -> Transcript:  # noqa: B008
        if self.fail:
            raise BackendError("the fake recognizer crashed")
        text = self.script[len(self.calls) % len(self.script)]
        self.calls.append(options)
        duration = audio.duration
        words: tuple[Word, ...] = ()
        if options.word_timestamps:
            parts = text.split()
            step = duration / len(parts)
            words = tuple(Word(i * step, (i + 1) * step, f" {w}") for i, w in enumerate(parts))
        segment = Segment(0.0, duration, text, words)
        return Transcript(text, "en", duration, (segment,))


class FakeTTS(TTSEngine):
    """One 0.25 s tone chunk per word."""

    name = "fake"
    sample_rate = 22050

    def __init__(self) -> None:
        super().__init__(workers=1)
        self.calls: list[tuple[str, TTSOptions]] = []

    def describe(self) -> dict[str, str]:
        return {"backend": "fake", "voice": "fake-voice"}

    def synthesize_sync(self, text: str, options: TTSOptions = TTSOptions()) -> Iterator[Float32Array]:  # noqa: B008
        self.calls.append((text, options))
        if "explode" in text:
            raise BackendError("the fake voice crashed")
        t = np.arange(self.sample_rate // 4) / self.sample_rate
        for _ in text.split():
            yield (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


class FakeStack(EngineStack):
    def __init__(self, asr: FakeASR | None = None, tts: FakeTTS | None = None) -> None:
        super().__init__()
        self.given: dict[str, Engine] = {"asr": asr or FakeASR(), "tts": tts or FakeTTS(), "vad": EnergyVAD()}

    def get(self, stage: str) -> Engine:
        if stage in self.given:
            return self.given[stage]
        raise MissingDependency(f"no {stage} in the fake stack")


def make_app(stack: FakeStack | None = None, **config: Any) -> Starlette:
    return create_app(stack or FakeStack(), ServerConfig(**config), prewarm=False)


def client(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost")


def tones(*seconds: float, gap: float = 1.0) -> bytes:
    """WAV: one loud tone burst per entry, separated by ``gap`` seconds of silence.

    The server cuts files into pieces of at most 25 s: two 20 s bursts are two pieces."""
    parts: list[Float32Array] = []
    for s in seconds:
        t = np.arange(int(s * RATE)) / RATE
        parts += [(0.3 * np.sin(2 * np.pi * 300 * t)).astype(np.float32), np.zeros(int(gap * RATE), np.float32)]
    return wav_bytes(Audio(np.concatenate(parts), RATE))


async def transcribe(app: Starlette, data: bytes | None = None, **fields: Any) -> httpx.Response:
    files = {"file": ("speech.wav", tones(1.0) if data is None else data, "audio/wav")}
    form = {"model": "whisper-1", **fields}
    async with client(app) as c:
        return await c.post("/v1/audio/transcriptions", files=files, data=form)


def assert_error(r: httpx.Response, status: int, param: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    error: dict[str, Any] = r.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["message"]
    assert error["type"] == ("invalid_request_error" if status < 500 else "server_error")
    if param is not None:
        assert error["param"] == param
    return error


# --------------------------------------------------------------------------- formats


async def test_json_and_text() -> None:
    app = make_app()
    r = await transcribe(app)
    assert r.status_code == 200 and r.json()["text"] == "hello world"
    assert r.json()["usage"] == {"type": "duration", "seconds": 2}
    r = await transcribe(app, response_format="text")
    assert r.text == "hello world\n" and r.headers["content-type"].startswith("text/plain")


async def test_verbose_json_with_words_and_segments() -> None:
    asr = FakeASR(("first part", "second part here"))
    app = make_app(FakeStack(asr))
    r = await transcribe(app, tones(20.0, 20.0), response_format="verbose_json",
                         **{"timestamp_granularities[]": ["word", "segment"]})
    body = r.json()
    assert body["task"] == "transcribe" and body["language"] == "english"
    assert body["text"] == "first part second part here"
    assert [s["text"] for s in body["segments"]] == ["first part", "second part here"]
    assert {"id", "seek", "start", "end", "tokens", "temperature", "avg_logprob", "compression_ratio",
            "no_speech_prob"} <= set(body["segments"][0])
    words = body["words"]
    assert [w["word"] for w in words] == ["first", "part", "second", "part", "here"]
    starts = [w["start"] for w in words]
    assert starts == sorted(starts) and all(w["end"] >= w["start"] for w in words)
    assert all(o.word_timestamps for o in asr.calls)


async def test_verbose_json_words_only_leaves_out_segments() -> None:
    r = await transcribe(make_app(), response_format="verbose_json", **{"timestamp_granularities[]": "word"})
    assert "segments" not in r.json() and [w["word"] for w in r.json()["words"]] == ["hello", "world"]


async def test_srt_and_vtt() -> None:
    app = make_app(FakeStack(FakeASR(("one", "two"))))
    srt = (await transcribe(app, tones(20.0, 20.0), response_format="srt")).text
    assert srt.startswith("1\n00:00:0") and "\n2\n" in srt and "-->" in srt and "two" in srt
    vtt = await transcribe(app, tones(20.0, 20.0), response_format="vtt")
    assert vtt.text.startswith("WEBVTT") and vtt.headers["content-type"].startswith("text/vtt")


async def test_options_reach_the_recognizer() -> None:
    asr = FakeASR()
    await transcribe(make_app(FakeStack(asr)), language="en", prompt="Dr. Smith", temperature="0.2",
                     hotwords="metformin, atorvastatin")
    options = asr.calls[0]
    assert options.language == "en" and options.prompt == "Dr. Smith"
    assert options.hotwords == ("metformin", "atorvastatin")
    assert not options.word_timestamps
    assert options.beam_size == 5  # files decode with beam search by default, as OpenAI's do


async def test_beam_size_can_be_asked_for() -> None:
    asr = FakeASR()
    await transcribe(make_app(FakeStack(asr)), beam_size="1")
    assert asr.calls[0].beam_size == 1


async def test_stream_sends_deltas_then_done() -> None:
    app = make_app(FakeStack(FakeASR(("first part.", "then the second."))))
    r = await transcribe(app, tones(20.0, 20.0), stream="true")
    assert r.headers["content-type"].startswith("text/event-stream")
    events = [json.loads(line[6:]) for line in r.text.splitlines() if line.startswith("data: ")]
    assert [e["type"] for e in events] == ["transcript.text.delta", "transcript.text.delta", "transcript.text.done"]
    assert "".join(e["delta"] for e in events[:-1]) == events[-1]["text"] == "first part. then the second."


async def test_stream_reports_a_backend_failure_as_an_error_event() -> None:
    asr = FakeASR()
    asr.fail = True
    r = await transcribe(make_app(FakeStack(asr)), stream="true")
    events = [json.loads(line[6:]) for line in r.text.splitlines() if line.startswith("data: ")]
    assert events[-1]["type"] == "error" and events[-1]["error"]["code"] == "backend_error"


# --------------------------------------------------------------------------- vocabulary


async def test_hotwords_correct_this_request() -> None:
    app = make_app(FakeStack(FakeASR(("the patient takes met formin daily",))))
    r = await transcribe(app, hotwords="metformin")
    assert r.json()["text"] == "the patient takes metformin daily"
    r = await transcribe(app)
    assert r.json()["text"] == "the patient takes met formin daily"


async def test_server_vocabulary_corrects_text_segments_and_words() -> None:
    app = make_app(FakeStack(FakeASR(("start a torva statin and lysinaprel",))))
    app.state.voxloop.vocabulary = Vocabulary(["atorvastatin", "lisinopril"])
    r = await transcribe(app, response_format="verbose_json", **{"timestamp_granularities[]": ["word", "segment"]})
    body = r.json()
    assert body["text"] == "start atorvastatin and lisinopril"
    assert body["segments"][0]["text"] == "start atorvastatin and lisinopril"
    words = body["words"]
    assert [w["word"] for w in words] == ["start", "atorvastatin", "and", "lisinopril"]
    assert words[1]["end"] > words[1]["start"] and words[2]["start"] >= words[1]["end"]


async def test_a_short_server_vocabulary_also_biases_decoding() -> None:
    asr = FakeASR()
    app = make_app(FakeStack(asr))
    app.state.voxloop.vocabulary = Vocabulary(["atorvastatin", "lisinopril"])
    await transcribe(app)
    await transcribe(app, hotwords="metformin")
    app.state.voxloop.vocabulary = Vocabulary(f"drugname{i:03d}" for i in range(100))
    await transcribe(app)
    assert [o.hotwords for o in asr.calls] == [("atorvastatin", "lisinopril"), ("metformin",), ()]


# --------------------------------------------------------------------------- errors


async def test_field_errors_name_the_field() -> None:
    app = make_app()
    assert_error(await transcribe(app, response_format="docx"), 400, "response_format")
    assert_error(await transcribe(app, **{"timestamp_granularities[]": "sentence"}), 400, "timestamp_granularities")
    assert_error(await transcribe(app, temperature="hot"), 400, "temperature")
    assert_error(await transcribe(app, stream="maybe"), 400, "stream")
    assert_error(await transcribe(app, beam_size="0"), 400, "beam_size")
    assert_error(await transcribe(app, beam_size="wide"), 400, "beam_size")
    assert_error(await transcribe(app, b""), 400, "file")
    async with client(app) as c:
        r = await c.post("/v1/audio/transcriptions", files={"file": ("a.wav", tones(1.0))})
        assert_error(r, 400, "model")
        r = await c.post("/v1/audio/transcriptions", data={"model": "whisper-1"}, files={"x": ("a", b"1")})
        assert_error(r, 400, "file")
        assert_error(await c.post("/v1/audio/transcriptions", json={"model": "whisper-1"}), 415, "file")
    assert (await transcribe(app)).status_code == 200


async def test_language_the_model_cannot_do_is_a_400() -> None:
    class EnglishOnly(FakeASR):
        def transcribe_sync(self, audio: Audio, options: TranscribeOptions = TranscribeOptions()) -> Transcript:  # noqa: B008
            from voxloop.errors import InvalidRequest

            if options.language not in (None, "en"):
                raise InvalidRequest("English only", param="language")
            return super().transcribe_sync(audio, options)

    assert_error(await transcribe(make_app(FakeStack(EnglishOnly())), language="fr"), 400, "language")


async def test_undecodable_audio_is_415_listing_formats() -> None:
    app = make_app()
    error = assert_error(await transcribe(app, b"this is not audio at all" * 50), 415, "file")
    assert "wav" in error["message"] and "mp3" in error["message"] and "flac" in error["message"]
    assert (await transcribe(app)).status_code == 200


async def test_too_large_upload_is_413_by_length_and_while_reading() -> None:
    app = make_app(max_upload_bytes=20_000)
    big = tones(2.0)  # ~64 kB
    assert_error(await transcribe(app, big), 413, "file")

    async def chunked() -> AsyncIterator[bytes]:  # no Content-Length: counted while reading
        body = (b"--b\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nwhisper-1\r\n"
                b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n"
                b"Content-Type: audio/wav\r\n\r\n" + big + b"\r\n--b--\r\n")
        for i in range(0, len(body), 4096):
            yield body[i : i + 4096]

    async with client(app) as c:
        r = await c.post("/v1/audio/transcriptions", content=chunked(),
                         headers={"content-type": "multipart/form-data; boundary=b"})
    assert_error(r, 413, "file")
    assert (await transcribe(app, tones(0.2, gap=0.2))).status_code == 200


async def test_too_long_audio_is_413() -> None:
    app = make_app(max_upload_seconds=2.0)
    error = assert_error(await transcribe(app, tones(3.0)), 413, "file")
    assert error["code"] == "audio_too_long"
    assert (await transcribe(app, tones(0.5))).status_code == 200


async def test_a_long_upload_is_decoded_and_transcribed_window_by_window(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 140 s file: never decoded whole; the first piece is transcribed before the last window
    is decoded, and the pieces' times are stitched in order."""
    from voxloop.server import rest_transcribe

    log: list[str] = []
    real = rest_transcribe.decode_windows

    def recorded(*args: Any, **kwargs: Any) -> Iterator[Float32Array]:
        for window in real(*args, **kwargs):
            log.append(f"window {len(window)}")
            yield window

    class Logged(FakeASR):
        def transcribe_sync(self, audio: Audio, options: TranscribeOptions = TranscribeOptions()) -> Transcript:  # noqa: B008
            log.append(f"decode {audio.duration:.1f}")
            return super().transcribe_sync(audio, options)

    monkeypatch.setattr(rest_transcribe, "decode_windows", recorded)
    r = await transcribe(make_app(FakeStack(Logged(("one",)))), tones(*[8.0] * 14, gap=2.0),
                         response_format="verbose_json")
    assert r.status_code == 200, r.text
    windows = [i for i, e in enumerate(log) if e.startswith("window")]
    decodes = [i for i, e in enumerate(log) if e.startswith("decode")]
    assert len(windows) == 5 and all(int(log[i].split()[1]) <= 30 * RATE for i in windows)
    assert decodes[0] < windows[-1]  # transcribing began before the file was decoded
    assert all(float(log[i].split()[1]) <= 25.0 for i in decodes)
    body = r.json()
    assert body["duration"] == pytest.approx(140.0, abs=0.1)
    starts = [s["start"] for s in body["segments"]]
    assert len(starts) == len(decodes) and starts == sorted(starts) and body["segments"][-1]["end"] <= 140.1


async def test_backend_failure_is_5xx_and_the_server_recovers() -> None:
    asr = FakeASR()
    app = make_app(FakeStack(asr))
    asr.fail = True
    error = assert_error(await transcribe(app), 502)
    assert error["code"] == "backend_error"
    asr.fail = False
    assert (await transcribe(app)).json()["text"] == "hello world"


# --------------------------------------------------------------------------- models


async def test_models_list_and_get() -> None:
    async with client(make_app()) as c:
        body = (await c.get("/v1/models")).json()
        assert body["object"] == "list"
        ids = [m["id"] for m in body["data"]]
        assert ids == ["fake-asr", "whisper-1", "fake-voice", "tts-1"]  # no LLM installed: not listed
        assert all(m["object"] == "model" and m["owned_by"] == "voxloop" and isinstance(m["created"], int)
                   for m in body["data"])
        assert (await c.get("/v1/models/whisper-1")).json()["id"] == "whisper-1"
        error = assert_error(await c.get("/v1/models/gpt-9"), 404, "model")
        assert error["code"] == "model_not_found"

