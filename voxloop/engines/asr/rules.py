"""Guards against invented text: Whisper's no-speech rule, a silence gate, classic
hallucinations on noise, and decoding loops (a phrase repeated over and over)."""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from voxloop.audio.pcm import Float32Array
from voxloop.engines.asr.features import SAMPLE_RATE

__all__ = [
    "NoSpeechRule",
    "find_repetition_loop",
    "has_repetition_loop",
    "is_near_silent",
    "is_no_speech",
]


@dataclass(frozen=True, slots=True)
class NoSpeechRule:
    """Whisper's rule: no speech when both thresholds say so; plus a silence gate."""

    no_speech_threshold: float = 0.6
    logprob_threshold: float = -1.0
    silence_rms: float = 1e-3  # -60 dBFS: the loudest 100 ms of real speech is far above it
    compression_ratio_threshold: float = 2.4  # above it, the text is a repetition loop
    # Whisper's classic inventions on noise ("you", "Thank you."): dropped when the model
    # itself leans towards no speech, even if the log-probability rule does not fire.
    hallucination_no_speech: float = 0.5


_HALLUCINATIONS = frozenset(
    {
        "you",
        "thank you",
        "thanks",
        "thank you for watching",
        "thanks for watching",
        "bye",
        "so",
        "oh",
        "uh",
        "um",
        "hmm",
    }
)


def is_near_silent(
    samples: Float32Array, rms_threshold: float, frame: int = SAMPLE_RATE // 10
) -> bool:
    """True when even the loudest ``frame``-sized stretch is below ``rms_threshold``."""
    x = np.asarray(samples, dtype=np.float32)
    if x.size == 0:
        return True
    n = max(1, x.size // frame)
    blocks = x[: n * frame].reshape(n, -1) if x.size >= frame else x.reshape(1, -1)
    loudest = float(np.sqrt((blocks.astype(np.float64) ** 2).mean(axis=1)).max())
    return loudest < rms_threshold


def is_no_speech(
    no_speech_prob: float, avg_logprob: float, text: str, rule: NoSpeechRule = NoSpeechRule()
) -> bool:
    """Whisper's no-speech rule, and a guard against repetition loops on noise."""
    if no_speech_prob > rule.no_speech_threshold and avg_logprob < rule.logprob_threshold:
        return True
    if no_speech_prob > rule.hallucination_no_speech and _plain(text) in _HALLUCINATIONS:
        return True
    return (
        bool(text)
        and _compression_ratio(text) > rule.compression_ratio_threshold
        and avg_logprob < rule.logprob_threshold
    )


def find_repetition_loop(tokens: Sequence[int], min_span: int = 8) -> tuple[int, int] | None:
    """``(start, block_size)`` of the first stretch where a block of tokens repeats back to
    back over at least ``min_span`` tokens (``not only by X, not only by X, ...``), the
    decoding-loop failure of Whisper; ``None`` when there is none."""
    n = len(tokens)
    for size in range(2, n // 2 + 1):
        span = size * max(2, -(-min_span // size))  # a whole number of blocks
        run = 0
        for i in range(size, n):
            run = run + 1 if tokens[i] == tokens[i - size] else 0
            if run >= span - size:
                return i - run + 1 - size, size
    return None


def has_repetition_loop(tokens: Sequence[int], min_span: int = 8) -> bool:
    return find_repetition_loop(tokens, min_span) is not None


def _plain(text: str) -> str:
    return " ".join("".join(c for c in text.lower() if c.isalnum() or c.isspace()).split())


def _compression_ratio(text: str) -> float:
    data = text.encode("utf-8")
    return len(data) / len(zlib.compress(data))
