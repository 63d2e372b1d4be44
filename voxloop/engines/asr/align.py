"""Word timestamps from Whisper's cross-attention alignment (CTranslate2 ``Whisper.align``).

The model aligns text tokens to encoder positions (50 per second); a word starts where
the alignment path first reaches its first token and ends where the next word starts.
Punctuation is merged into the neighbouring word, over-long words at sentence ends are
trimmed, and the result is clamped to be monotonic and inside ``[0, duration]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from voxloop.engines.types import Word

__all__ = [
    "APPEND_PUNCTUATION",
    "PREPEND_PUNCTUATION",
    "TOKENS_PER_SECOND",
    "TimedWord",
    "finalize_words",
    "merge_punctuation",
    "time_words",
]

TOKENS_PER_SECOND = 50  # encoder positions per second (mel frames / 2)
PREPEND_PUNCTUATION = "\"'“¿([{-"
APPEND_PUNCTUATION = "\"'.。,，!！?？:：”)]}、"
_SENTENCE_END = ".。!！?？"


@dataclass(slots=True)
class TimedWord:
    word: str
    start: float
    end: float
    probability: float
    tokens: list[int] = field(default_factory=list)


def time_words(
    words: Sequence[str],
    word_tokens: Sequence[Sequence[int]],
    alignments: Sequence[tuple[int, int]],
    token_probs: Sequence[float],
) -> list[TimedWord]:
    """Times for ``words`` (text tokens grouped by word, the last group being EOT) from an
    alignment path of ``(text_index, time_index)`` pairs and per-token probabilities."""
    if len(word_tokens) <= 1 or not alignments:
        return []
    text_idx = np.array([a[0] for a in alignments])
    time_idx = np.array([a[1] for a in alignments], dtype=np.float64)
    jumps = np.pad(np.diff(text_idx), (1, 0), constant_values=1).astype(bool)
    jump_times = time_idx[jumps] / TOKENS_PER_SECOND
    bounds = np.pad(np.cumsum([len(t) for t in word_tokens[:-1]]), (1, 0))
    if len(jump_times) == 0:
        return []
    probs = np.asarray(token_probs, dtype=np.float64)
    out: list[TimedWord] = []
    last = len(jump_times) - 1
    for i in range(len(bounds) - 1):
        lo, hi = int(bounds[i]), int(bounds[i + 1])
        start = float(jump_times[min(lo, last)])
        end = float(jump_times[min(hi, last)])
        span = probs[lo:hi]
        p = float(span.mean()) if span.size else 0.0
        out.append(TimedWord(words[i], start, end, p, list(word_tokens[i])))
    return out


def merge_punctuation(words: list[TimedWord]) -> list[TimedWord]:
    """Attach opening punctuation to the following word and closing to the preceding one."""
    ws = [TimedWord(w.word, w.start, w.end, w.probability, list(w.tokens)) for w in words]
    i, j = len(ws) - 2, len(ws) - 1
    while i >= 0:
        prev, nxt = ws[i], ws[j]
        if (
            prev.word.startswith(" ")
            and prev.word.strip() in PREPEND_PUNCTUATION
            and prev.word.strip()
        ):
            nxt.word = prev.word + nxt.word
            nxt.tokens = prev.tokens + nxt.tokens
            prev.word, prev.tokens = "", []
        else:
            j = i
        i -= 1
    i, j = 0, 1
    while j < len(ws):
        prev, nxt = ws[i], ws[j]
        if not prev.word.endswith(" ") and nxt.word and nxt.word in APPEND_PUNCTUATION:
            prev.word += nxt.word
            prev.tokens += nxt.tokens
            nxt.word, nxt.tokens = "", []
        else:
            i = j
        j += 1
    return [w for w in ws if w.word]


def _trim_long_words(words: list[TimedWord]) -> None:
    durations = np.array([w.end - w.start for w in words])
    durations = durations[durations.nonzero()]
    if len(durations) == 0:
        return
    max_duration = 2 * min(0.7, float(np.median(durations)))
    for i in range(1, len(words)):
        w = words[i]
        if w.end - w.start > max_duration:
            if w.word.strip() in _SENTENCE_END:
                w.end = w.start + max_duration
            elif words[i - 1].word.strip()[-1:] in _SENTENCE_END:
                w.start = w.end - max_duration


def finalize_words(words: list[TimedWord], offset: float, duration: float) -> tuple[Word, ...]:
    """Trim, merge punctuation, shift by ``offset`` and clamp into ``[offset, offset+duration]``
    so that words never overlap or go backwards."""
    _trim_long_words(words)
    merged = merge_punctuation(words)
    out: list[Word] = []
    lo, hi = offset, offset + max(0.0, duration)
    cursor = lo
    for w in merged:
        start = min(max(offset + w.start, cursor), hi)
        end = min(max(offset + w.end, start), hi)
        out.append(Word(round(start, 3), round(end, 3), w.word, round(w.probability, 4)))
        cursor = end
    return tuple(out)
