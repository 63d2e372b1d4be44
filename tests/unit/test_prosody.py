"""Voice features on synthetic signals: pitch, its range, loudness, voicing, speaking rate."""

from __future__ import annotations

import numpy as np
import pytest

from voxloop.audio.prosody import analyze

R = 16000


def harmonic(f0: float, seconds: float = 1.5, level: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * R)) / R
    x = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in (1, 2, 3))
    return (level * x / 1.8).astype(np.float32)


@pytest.mark.parametrize("f0", [80.0, 120.0, 220.0, 350.0])
def test_pitch_of_a_harmonic_tone(f0: float) -> None:
    p = analyze(harmonic(f0), R)
    assert p.f0_median_hz == pytest.approx(f0, rel=0.01)
    assert p.f0_range_st is not None and p.f0_range_st < 0.2
    assert p.voiced_seconds > 1.3


def test_pitch_range_of_a_glide() -> None:
    t = np.arange(2 * R) / R
    freq = np.linspace(100, 200, len(t))  # one octave
    x = (0.3 * np.sin(2 * np.pi * np.cumsum(freq) / R)).astype(np.float32)
    p = analyze(x, R)
    assert p.f0_median_hz == pytest.approx(150, rel=0.03)
    assert p.f0_range_st == pytest.approx(12 * np.log2(190 / 110), abs=0.6)  # 10th → 90th percentile


def test_noise_and_silence_have_no_pitch() -> None:
    noise = (0.1 * np.random.default_rng(0).standard_normal(2 * R)).astype(np.float32)
    p = analyze(noise, R, words=4)
    assert p.f0_median_hz is None and p.voiced_seconds < 0.1
    assert p.rms_db == pytest.approx(-20, abs=0.5)
    s = analyze(np.zeros(R, np.float32), R, words=3)
    assert s.f0_median_hz is None and s.words_per_second is None and s.rms_db == -120.0
    assert analyze(np.zeros(10, np.float32), R).speech_seconds == 0.0


def test_loudness_and_rate() -> None:
    soft, loud = analyze(harmonic(150, level=0.1), R), analyze(harmonic(150, level=0.2), R)
    assert loud.rms_db - soft.rms_db == pytest.approx(6.02, abs=0.1)
    # 1.5 s of "speech" between silences: the pauses around it do not count
    x = np.concatenate([np.zeros(R // 2, np.float32), harmonic(150), np.zeros(R, np.float32)])
    p = analyze(x, R, words=6)
    assert p.speech_seconds == pytest.approx(1.5, abs=0.05)
    assert p.words_per_second == pytest.approx(4.0, rel=0.05)
    assert set(p.as_dict()) == {"rms_db", "f0_median_hz", "f0_range_st", "words_per_second", "voiced_seconds"}
