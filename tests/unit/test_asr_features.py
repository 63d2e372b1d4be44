"""Whisper front end: mel filters, log-mel, window choice and quiet-point cutting (no model)."""

from __future__ import annotations

import numpy as np
import pytest

from voxloop.engines.asr.features import (
    FRAMES_PER_SECOND,
    SAMPLE_RATE,
    choose_window,
    log_mel_spectrogram,
    mel_filters,
    quietest_point,
    split_at_quiet_points,
)


def tone(seconds: float, freq: float = 440.0, amp: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.mark.parametrize("n_mels", [80, 128])
def test_mel_filters_are_slaney_triangles(n_mels: int) -> None:
    fb = mel_filters(n_mels)
    assert fb.shape == (n_mels, 201)
    assert fb.dtype == np.float32
    assert (fb >= 0).all()
    peaks = fb.argmax(axis=1)
    assert (np.diff(peaks) >= 0).all()  # centre frequencies rise
    assert (fb.sum(axis=1) > 0).all()  # no empty filter
    # Slaney normalisation: the area of each triangle is about the same
    area = fb.sum(axis=1) * (SAMPLE_RATE / 400)
    upper = area[n_mels // 2 :]  # (low filters are narrower than one FFT bin)
    assert upper.std() / upper.mean() < 0.05


def test_log_mel_shape_and_range() -> None:
    feats = log_mel_spectrogram(tone(3.0))
    assert feats.shape == (80, 3 * FRAMES_PER_SECOND)
    assert feats.dtype == np.float32
    # floor 8 decades below the peak, then (x + 4) / 4: a spread of exactly 2
    assert feats.max() - feats.min() == pytest.approx(2.0, abs=1e-5)


def test_padding_is_silence_in_the_waveform() -> None:
    x = tone(2.0)
    padded = log_mel_spectrogram(x, pad_to=10 * SAMPLE_RATE)
    assert padded.shape == (80, 10 * FRAMES_PER_SECOND)
    tail = padded[:, 300:]
    # silence maps to the floor (peak - 8 decades), not to zeros in feature space
    assert np.allclose(tail, padded.min())
    assert padded.min() != 0.0
    # the speech part is what the unpadded features are (up to the boundary frames)
    assert np.allclose(padded[:, :190], log_mel_spectrogram(x)[:, :190], atol=1e-4)


def test_log_mel_of_tiny_and_empty_input() -> None:
    assert log_mel_spectrogram(np.zeros(10, np.float32), pad_to=SAMPLE_RATE).shape == (80, 100)
    assert log_mel_spectrogram(np.zeros(0, np.float32), pad_to=SAMPLE_RATE).shape == (80, 100)


@pytest.mark.parametrize(
    ("duration", "window_s", "full", "expected"),
    [
        (0.5, 10, False, 10),
        (5.0, 10, False, 10),
        (10.0, 10, False, 10),
        (10.01, 10, False, 20),
        (19.0, 10, False, 20),
        (25.0, 10, False, 30),
        (30.0, 10, False, 30),
        (45.0, 10, False, 30),
        (3.0, 10, True, 30),
        (7.0, 5, False, 10),
        (3.0, 30, False, 30),
    ],
)
def test_choose_window(duration: float, window_s: float, full: bool, expected: float) -> None:
    assert choose_window(duration, window_s, full) == expected


def test_quietest_point_finds_the_gap() -> None:
    x = np.concatenate([tone(1.0), np.zeros(SAMPLE_RATE // 5, np.float32), tone(1.0)])
    cut = quietest_point(x, 0, len(x))
    assert SAMPLE_RATE <= cut <= SAMPLE_RATE + SAMPLE_RATE // 5


def test_split_covers_everything_and_respects_limits() -> None:
    rng = np.random.default_rng(1)
    parts = []
    for _ in range(12):  # ~ 3 s bursts of "speech" with short pauses
        parts.append(tone(rng.uniform(2.0, 4.0), rng.uniform(200, 800)))
        parts.append(np.zeros(int(rng.uniform(0.1, 0.5) * SAMPLE_RATE), np.float32))
    x = np.concatenate(parts)
    limit = 30 * SAMPLE_RATE
    pieces = split_at_quiet_points(x, limit, 5 * SAMPLE_RATE)
    assert pieces[0][0] == 0 and pieces[-1][1] == len(x)
    assert all(a[1] == b[0] for a, b in zip(pieces, pieces[1:], strict=False))
    assert all(0 < end - start <= limit for start, end in pieces)
    for _, end in pieces[:-1]:  # every cut falls in a pause
        assert np.abs(x[end - 160 : end + 160]).max() == 0.0


def test_split_short_audio_is_one_piece() -> None:
    assert split_at_quiet_points(np.zeros(100, np.float32), 1000, 200) == [(0, 100)]
    with pytest.raises(ValueError):
        split_at_quiet_points(np.zeros(100, np.float32), 0, 0)
