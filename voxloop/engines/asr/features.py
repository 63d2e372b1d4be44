"""Whisper's log-mel front end in numpy, encoder-window choice and quiet-point cutting.

The recipe is Whisper's own: 16 kHz audio, 25 ms Hann window (``n_fft`` 400), 10 ms hop,
Slaney-scaled mel filters, ``log10``, a floor 8 decades below the peak, then
``(x + 4) / 4``. Short audio is padded with *silence in the waveform* (never zeros in
feature space) up to the encoder window, so the padding looks exactly like what Whisper
saw in training.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import numpy.typing as npt

from voxloop.audio.pcm import Float32Array

__all__ = [
    "FRAMES_PER_SECOND",
    "HOP_LENGTH",
    "MAX_WINDOW_S",
    "N_FFT",
    "SAMPLE_RATE",
    "choose_window",
    "log_mel_spectrogram",
    "mel_filters",
    "quietest_point",
    "split_at_quiet_points",
]

SAMPLE_RATE = 16000
N_FFT = 400
HOP_LENGTH = 160
FRAMES_PER_SECOND = SAMPLE_RATE // HOP_LENGTH  # 100 mel frames per second
MAX_WINDOW_S = 30.0  # Whisper's training window
_BLAS_SINGLE_THREAD = 65536 * 4  # OpenBLAS multithreads a GEMM above M*N*K of this size


@functools.lru_cache(maxsize=4)
def mel_filters(
    n_mels: int = 80, sample_rate: int = SAMPLE_RATE, n_fft: int = N_FFT
) -> Float32Array:
    """Slaney-style mel filter bank, shape ``(n_mels, n_fft // 2 + 1)`` (as librosa/Whisper)."""
    fft_freqs = np.fft.rfftfreq(n_fft, d=1.0 / sample_rate)

    # Slaney mel scale: linear below 1 kHz, logarithmic above.
    f_sp = 200.0 / 3.0
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    log_step = math.log(6.4) / 27.0

    def hz_to_mel(hz: float) -> float:
        return hz / f_sp if hz < min_log_hz else min_log_mel + math.log(hz / min_log_hz) / log_step

    mels = np.linspace(0.0, hz_to_mel(sample_rate / 2.0), n_mels + 2)
    freqs = np.where(
        mels < min_log_mel, mels * f_sp, min_log_hz * np.exp(log_step * (mels - min_log_mel))
    )

    widths = np.diff(freqs)
    ramps = freqs[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (freqs[2:] - freqs[:-2]))[:, None]  # equal area per filter
    return np.asarray(weights, dtype=np.float32)


@functools.lru_cache(maxsize=4)
def _filters_t(n_mels: int) -> Float32Array:
    return np.ascontiguousarray(mel_filters(n_mels).T)


@functools.lru_cache(maxsize=1)
def _hann(n_fft: int) -> npt.NDArray[np.float64]:
    return np.hanning(n_fft + 1)[:-1]


def log_mel_spectrogram(
    samples: npt.NDArray[np.floating], n_mels: int = 80, pad_to: int = 0
) -> Float32Array:
    """Log-mel features of 16 kHz audio, shape ``(n_mels, frames)``.

    ``pad_to`` (samples) appends silence first; the result then has exactly
    ``pad_to // HOP_LENGTH`` frames. Without it, ``len(samples) // HOP_LENGTH`` frames.
    """
    x = np.asarray(samples, dtype=np.float32)
    content = len(x)
    if pad_to > len(x):
        x = np.pad(x, (0, pad_to - len(x)))
    if len(x) < N_FFT // 2 + 1:  # reflect padding needs a few samples
        x = np.pad(x, (0, N_FFT // 2 + 1 - len(x)))
    padded = np.pad(x, (N_FFT // 2, N_FFT // 2), mode="reflect")
    n_frames = (len(padded) - N_FFT) // HOP_LENGTH  # Whisper drops the last frame
    # Frames that see only the silence padding have zero power: skip their FFT.
    busy = min(n_frames, (content + N_FFT) // HOP_LENGTH + 1)
    frames = np.lib.stride_tricks.as_strided(
        padded,
        (busy, N_FFT),
        (padded.strides[0] * HOP_LENGTH, padded.strides[0]),
        writeable=False,
    )
    spectrum = np.fft.rfft(frames * _hann(N_FFT), axis=-1)
    power = (spectrum.real**2 + spectrum.imag**2).astype(np.float32)  # (busy, bins)
    filters_t = _filters_t(n_mels)
    mel_t = np.zeros((n_frames, n_mels), dtype=np.float32)
    # Small products on purpose: numpy's OpenBLAS spreads a big one over every core and then
    # spins them for ~50 ms, stealing the CPU that the encoder (and other sessions) need.
    step = max(1, _BLAS_SINGLE_THREAD // (n_mels * power.shape[1]))
    for i in range(0, busy, step):
        block = power[i : i + step]
        mel_t[i : i + len(block)] = block @ filters_t
    mel = mel_t.T
    log_spec = np.log10(np.maximum(mel, 1e-10))
    log_spec = np.maximum(log_spec, log_spec.max() - 8.0)
    return np.ascontiguousarray((log_spec + 4.0) / 4.0, dtype=np.float32)


def choose_window(duration_s: float, window_s: float, full: bool = False) -> float:
    """The encoder window for ``duration_s`` of audio: the smallest multiple of ``window_s``
    that holds it, capped at Whisper's 30 s (always 30 s when ``full``)."""
    if full or window_s >= MAX_WINDOW_S:
        return MAX_WINDOW_S
    steps = max(1, math.ceil(round(duration_s, 3) / window_s))
    return min(MAX_WINDOW_S, steps * window_s)


def _frame_energy(samples: Float32Array, frame: int) -> npt.NDArray[np.float64]:
    n = len(samples) // frame
    if n == 0:
        return np.zeros(0)
    blocks = samples[: n * frame].astype(np.float64).reshape(n, frame)
    return np.asarray((blocks**2).mean(axis=1))


def quietest_point(samples: Float32Array, lo: int, hi: int, frame: int = 320) -> int:
    """Sample index of the quietest ``frame``-sized stretch in ``[lo, hi)`` (its centre)."""
    lo, hi = max(0, lo), min(len(samples), hi)
    if hi - lo <= frame:
        return hi
    energy = _frame_energy(samples[lo:hi], frame)
    # smooth over ~100 ms so a single quiet frame inside a word does not win
    if len(energy) >= 5:
        energy = np.convolve(energy, np.ones(5) / 5, mode="same")
    best = int(np.argmin(energy))
    return lo + best * frame + frame // 2


def split_at_quiet_points(
    samples: Float32Array, max_samples: int, search_samples: int
) -> list[tuple[int, int]]:
    """Cut audio into ``(start, end)`` pieces of at most ``max_samples``, each cut at the
    quietest point of the last ``search_samples`` before the limit. Covers every sample."""
    if max_samples <= 0:
        raise ValueError("max_samples must be > 0")
    pieces: list[tuple[int, int]] = []
    start, total = 0, len(samples)
    while total - start > max_samples:
        limit = start + max_samples
        cut = quietest_point(samples, max(start + 1, limit - search_samples), limit)
        cut = min(max(cut, start + 1), limit)
        pieces.append((start, cut))
        start = cut
    pieces.append((start, total))
    return pieces
