"""The OpenAI-compatible REST API on a real server (uvicorn on a free loopback port) with the
real embedded models, driven by the official ``openai`` SDK."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.support import free_port
from voxloop.audio import Audio, decode_audio, pcm16_to_float, wav_bytes
from voxloop.engines.base import ASREngine, Engine
from voxloop.engines.stack import EngineStack
from voxloop.engines.types import TranscribeOptions
from voxloop.server.config import ServerConfig

openai = pytest.importorskip("openai")
uvicorn = pytest.importorskip("uvicorn")

pytestmark = pytest.mark.models

MAX_BYTES = 2_000_000
MAX_SECONDS = 60.0
JFK = "ask not what your country can do for you ask what you can do for your country"


class GivenStack(EngineStack):
    """The session's already-loaded engines (shared with other tests, so never closed here)."""

    def __init__(self, engines: dict[str, Engine]) -> None:
        super().__init__()
        self.given = engines

    def get(self, stage: str) -> Engine:
        return self.given[stage] if stage in self.given else super().get(stage)


@pytest.fixture(scope="module")
def base_url(real_asr: Engine, real_tts: Engine, real_vad: Engine) -> Iterator[str]:
    from voxloop.server.app import create_app

    stack = GivenStack({"asr": real_asr, "tts": real_tts, "vad": real_vad})
    config = ServerConfig(max_upload_bytes=MAX_BYTES, max_upload_seconds=MAX_SECONDS, max_speech_chars=500)
    app = create_app(stack, config, prewarm=False)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning"))
    thread = threading.Thread(target=server.run, name="rest-api-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the REST test server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{server.config.port}/v1"
    server.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def client(base_url: str) -> Iterator[object]:
    with openai.OpenAI(base_url=base_url, api_key="x", max_retries=0, timeout=120) as c:
        yield c


@pytest.fixture(scope="module")
def jfk(eval_speech: Path) -> Path:
    return eval_speech / "en" / "jfk.wav"


def words(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9' ]", " ", text.lower()).split())


def transcribe(client: object, path: Path, **kwargs: object) -> object:
    with path.open("rb") as f:
        return client.audio.transcriptions.create(model="whisper-1", file=f, **kwargs)  # type: ignore[attr-defined]


CUE = re.compile(r"(\d\d):(\d\d):(\d\d)[,.](\d\d\d) --> (\d\d):(\d\d):(\d\d)[,.](\d\d\d)")


def cue_times(subtitles: str) -> list[tuple[float, float]]:
    def secs(h: str, m: str, s: str, ms: str) -> float:
        return int(h) * 3600 + int(m) * 60 + int(s) + int(ms) / 1000

    return [(secs(*m.groups()[:4]), secs(*m.groups()[4:])) for m in CUE.finditer(subtitles)]


def test_transcription_json(client: object, jfk: Path) -> None:
    result = transcribe(client, jfk)
    assert JFK in words(result.text)  # type: ignore[attr-defined]


def test_transcription_verbose_json_with_word_timestamps(client: object, jfk: Path) -> None:
    result = transcribe(client, jfk, response_format="verbose_json", timestamp_granularities=["word", "segment"])
    assert JFK in words(result.text)  # type: ignore[attr-defined]
    assert result.language == "english" and result.duration == pytest.approx(11.0, abs=0.1)  # type: ignore[attr-defined]
    assert result.segments and all(s.end > s.start for s in result.segments)  # type: ignore[attr-defined]
    timed = result.words  # type: ignore[attr-defined]
    assert JFK in words(" ".join(w.word for w in timed))
    starts = [w.start for w in timed]
    assert starts == sorted(starts) and all(w.end >= w.start for w in timed)
    assert 0.0 <= timed[0].start and timed[-1].end <= 11.1


@pytest.mark.parametrize("fmt", ["srt", "vtt"])
def test_subtitles_parse_back_with_monotonic_times(client: object, jfk: Path, fmt: str) -> None:
    text = transcribe(client, jfk, response_format=fmt)
    assert isinstance(text, str)
    if fmt == "vtt":
        assert text.startswith("WEBVTT")
    times = cue_times(text)
    assert times and all(end > start for start, end in times)
    flat = [t for pair in times for t in pair]
    assert flat == sorted(flat)
    spoken = " ".join(line for line in text.splitlines() if line and not CUE.search(line)
                      and not line.isdigit() and line != "WEBVTT")
    assert JFK in words(spoken)


def test_transcription_stream(client: object, jfk: Path) -> None:
    events = list(transcribe(client, jfk, stream=True))  # type: ignore[call-overload]
    kinds = [e.type for e in events]
    assert kinds[-1] == "transcript.text.done" and kinds.count("transcript.text.done") == 1
    assert kinds[:-1] and set(kinds[:-1]) == {"transcript.text.delta"}
    assert "".join(e.delta for e in events[:-1]) == events[-1].text
    assert JFK in words(events[-1].text)


def test_hotwords_extension_corrects_terms(base_url: str, real_tts: Engine) -> None:
    import httpx

    chunks = list(real_tts.synthesize_sync("The patient takes metformin and atorvastatin daily."))  # type: ignore[attr-defined]
    audio = Audio(np.concatenate(chunks), real_tts.sample_rate)  # type: ignore[attr-defined]
    r = httpx.post(f"{base_url}/audio/transcriptions", timeout=120,
                   data={"model": "whisper-1", "hotwords": "metformin, atorvastatin"},
                   files={"file": ("said.wav", wav_bytes(audio), "audio/wav")})
    assert r.status_code == 200
    assert "metformin" in words(r.json()["text"]) and "atorvastatin" in words(r.json()["text"])


@pytest.mark.parametrize("fmt", ["wav", "pcm"])
def test_speech_comes_back_and_transcribes(client: object, real_asr: ASREngine, fmt: str) -> None:
    said = "The quick brown fox jumps over the lazy dog. It was a sunny day."
    response = client.audio.speech.create(model="tts-1", voice="alloy", input=said,  # type: ignore[attr-defined]
                                          response_format=fmt)
    data = response.content
    if fmt == "wav":
        assert data[:4] == b"RIFF"
        audio = decode_audio(data, 16000)
    else:
        audio = Audio(pcm16_to_float(data), 24000).to(16000)
    assert audio.duration > 2.0
    heard = real_asr.transcribe_sync(audio, TranscribeOptions(beam_size=5)).text
    # Piper samples its durations and noise: one take in a few is heard "quit brown fox".
    # The check is that the speech is intelligible, not one exact phrase.
    content = {"quick", "brown", "fox", "jumps", "lazy", "dog", "sunny", "day"}
    assert len(content & set(words(heard).split())) >= 6, heard


def test_speech_streams_chunks(client: object) -> None:
    said = "First sentence here. Then a second one. And a third to finish."
    with client.audio.speech.with_streaming_response.create(  # type: ignore[attr-defined]
        model="tts-1", voice="nova", input=said, response_format="pcm"
    ) as response:
        assert response.headers["content-type"] == "audio/pcm"
        total = sum(len(chunk) for chunk in response.iter_bytes())
    assert total > 24000 * 2 * 2  # more than two seconds of 24 kHz PCM16


def test_models_list(client: object, real_asr: Engine, real_tts: Engine) -> None:
    ids = [m.id for m in client.models.list()]  # type: ignore[attr-defined]
    assert "whisper-1" in ids and "tts-1" in ids
    assert real_asr.describe()["model"] in ids and real_tts.describe()["voice"] in ids
    assert client.models.retrieve("whisper-1").owned_by == "voxloop"  # type: ignore[attr-defined]


def test_bad_inputs_then_the_server_still_serves(client: object, jfk: Path) -> None:
    rate = 8000
    too_big = wav_bytes(Audio(np.zeros(MAX_BYTES // 2 + rate, np.float32), rate))
    with pytest.raises(openai.APIStatusError) as e:
        client.audio.transcriptions.create(model="whisper-1", file=("big.wav", too_big))  # type: ignore[attr-defined]
    assert e.value.status_code == 413 and e.value.body["code"] == "payload_too_large"  # type: ignore[index]

    too_long = wav_bytes(Audio(np.zeros(int((MAX_SECONDS + 5) * rate), np.float32), rate))
    assert len(too_long) < MAX_BYTES
    with pytest.raises(openai.APIStatusError) as e:
        client.audio.transcriptions.create(model="whisper-1", file=("long.wav", too_long))  # type: ignore[attr-defined]
    assert e.value.status_code == 413 and e.value.body["code"] == "audio_too_long"  # type: ignore[index]

    with pytest.raises(openai.APIStatusError) as e:
        client.audio.transcriptions.create(model="whisper-1", file=("notes.wav", b"not audio" * 100))  # type: ignore[attr-defined]
    assert e.value.status_code == 415 and "flac" in e.value.message

    with pytest.raises(openai.BadRequestError) as e:
        client.audio.transcriptions.create(model="whisper-1", file=("empty.wav", b""))  # type: ignore[attr-defined]
    assert e.value.body["param"] == "file"  # type: ignore[index]

    with pytest.raises(openai.BadRequestError) as e:
        transcribe(client, jfk, response_format="docx")
    assert e.value.body["param"] == "response_format"  # type: ignore[index]

    with pytest.raises(openai.BadRequestError) as e:
        client.audio.speech.create(model="tts-1", voice="alloy", input="word " * 200)  # type: ignore[attr-defined]
    assert e.value.body["param"] == "input"  # type: ignore[index]

    assert JFK in words(transcribe(client, jfk).text)  # type: ignore[attr-defined]
