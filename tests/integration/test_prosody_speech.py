"""Voice features on real synthetic speech (Piper's embedded voice; espeak-ng when installed):
a faster rendering reads as faster, a higher-pitched one as higher, and the session's voice
baseline scores an agitated rendering above a plain one. Piper honours ``noise_scale``."""

from __future__ import annotations

import shutil
import subprocess
import tempfile

import numpy as np
import pytest

from voxloop.audio.pcm import Audio
from voxloop.audio.prosody import Prosody, analyze
from voxloop.audio.wav import read_wav
from voxloop.dialogue.arousal import VoiceBaseline
from voxloop.engines.tts.piper import PiperTTS
from voxloop.engines.types import TTSOptions

pytestmark = pytest.mark.models

TEXTS = ["Can you set a timer for ten minutes please?", "I would like to change my delivery address.",
         "What is the weather going to be like tomorrow?"]
TEST = "Please read me the next step of the recipe."
STILL = TTSOptions(noise_scale=0.0, noise_w_scale=0.0)  # deterministic renderings: no sampled noise


def piper(tts: PiperTTS, text: str, options: TTSOptions = TTSOptions()) -> np.ndarray:
    x = np.concatenate(list(tts.synthesize_sync(text, options)))
    return Audio(x, tts.sample_rate).to(16000).samples


def features(x: np.ndarray, text: str) -> Prosody:
    return analyze(x, 16000, words=len(text.split()))


def test_piper_rate_pitch_and_arousal(real_tts: PiperTTS) -> None:
    # without the voice's noise (random phoneme durations): the same audio on every run and CPU
    plain = features(piper(real_tts, TEST, STILL), TEST)
    fast = features(piper(real_tts, TEST, TTSOptions(speed=1.5, noise_scale=0.0, noise_w_scale=0.0)), TEST)
    assert plain.f0_median_hz is not None and 70 < plain.f0_median_hz < 200  # a male voice
    assert plain.words_per_second is not None and fast.words_per_second is not None
    assert 1.5 < plain.words_per_second < 5.0
    print(f"words/s: plain {plain.words_per_second:.2f}, speed 1.5 {fast.words_per_second:.2f}")
    assert fast.words_per_second > 1.25 * plain.words_per_second
    base = VoiceBaseline()
    for i, text in enumerate(TEXTS):
        base.observe(str(i), features(piper(real_tts, text, STILL), text))
    still_fast = TTSOptions(speed=1.3, noise_scale=0.0, noise_w_scale=0.0)
    loud_fast = features(np.clip(2.0 * piper(real_tts, TEST, still_fast), -1, 1), TEST)
    usual, agitated = base.arousal(features(piper(real_tts, TEST, STILL), TEST)), base.arousal(loud_fast)
    print(f"arousal: usual {usual}, agitated {agitated}")
    assert usual is not None and agitated is not None and agitated > usual + 0.15


def test_piper_honours_noise_scale(real_tts: PiperTTS) -> None:
    still = TTSOptions(noise_scale=0.0, noise_w_scale=0.0)
    a, b = piper(real_tts, TEST, still), piper(real_tts, TEST, still)
    assert np.array_equal(a, b)  # no noise: deterministic
    c, d = piper(real_tts, TEST), piper(real_tts, TEST)
    assert not np.array_equal(c, d)  # the voice's own noise: it varies


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
def test_espeak_two_rates_and_pitches() -> None:
    def say(*args: str) -> Prosody:
        with tempfile.NamedTemporaryFile(suffix=".wav") as f:
            subprocess.run(["espeak-ng", "-v", "en-us", *args, "-w", f.name, TEST], check=True)
            return features(read_wav(f.name).to(16000).samples, TEST)

    slow, quick = say("-s", "140", "-p", "40"), say("-s", "220", "-p", "70")
    assert slow.words_per_second and quick.words_per_second and slow.f0_median_hz and quick.f0_median_hz
    assert quick.words_per_second > 1.3 * slow.words_per_second
    assert quick.f0_median_hz > 1.1 * slow.f0_median_hz
