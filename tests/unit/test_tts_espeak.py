"""EspeakTTS through the real espeak-ng program (skipped when it is not installed)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from voxloop.engines import create_engine
from voxloop.engines.tts.espeak import EspeakTTS
from voxloop.engines.types import TTSOptions
from voxloop.errors import BackendError, InvalidRequest, MissingDependency

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")


def say(tts: EspeakTTS, text: str, **kw: float) -> np.ndarray:
    chunks = list(tts.synthesize_sync(text, TTSOptions(**kw)))  # type: ignore[arg-type]
    return np.concatenate(chunks) if chunks else np.zeros(0, np.float32)


@needs_espeak
def test_speaks_and_speed_makes_it_shorter() -> None:
    tts = create_engine("tts", "espeak:en-us")
    assert isinstance(tts, EspeakTTS) and tts.sample_rate == 22050
    normal = say(tts, "Hello there, this is a test of the speech engine.")
    fast = say(tts, "Hello there, this is a test of the speech engine.", speed=2.0)
    assert normal.dtype == np.float32
    assert 1.0 < len(normal) / 22050 < 10.0
    assert float(np.sqrt(np.mean(normal**2))) > 0.01  # not silence
    assert len(fast) < 0.75 * len(normal)


@needs_espeak
async def test_async_synthesis_and_leading_dash_is_text_not_an_option() -> None:
    tts = EspeakTTS()
    chunks = [a async for a in tts.synthesize("-v xx --help")]
    assert sum(len(a.samples) for a in chunks) > 22050 * 0.3


@needs_espeak
def test_closing_early_kills_the_process() -> None:
    tts = EspeakTTS()
    it = tts.synthesize_sync("word " * 2000)
    first = next(it)
    assert len(first) > 0
    it.close()  # type: ignore[attr-defined]  # must return at once, process killed


@needs_espeak
def test_unknown_voice_and_bad_voice_names() -> None:
    tts = EspeakTTS()
    with pytest.raises(BackendError, match="exit"):
        say(tts, "Hello.", voice="xx-nonexistent")  # type: ignore[arg-type]
    with pytest.raises(InvalidRequest):
        say(tts, "Hello.", voice="--help")  # type: ignore[arg-type]
    assert len(say(tts, "   ")) == 0


def test_missing_program_names_the_package() -> None:
    with pytest.raises(MissingDependency, match="apt-get install espeak-ng"):
        EspeakTTS(binary="no-such-espeak-program")
