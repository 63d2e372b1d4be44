"""How agitated the user *sounds*, relative to how this user sounded earlier in the session.

Loudness depends on the microphone, pitch on the speaker, rate on the person: absolute
thresholds say little. :class:`VoiceBaseline` keeps the session's own reference — the mean of
the first :data:`WARMUP` turns, then a slow running average — and scores a turn by how far it
lies above it: louder, higher, more varied in pitch and faster mean more aroused. The score is
``None`` until one earlier turn is known (the first turn is judged by its words alone).

:func:`combine` merges the voice score into the text estimate: arousal becomes the mean of the
two; the label stays the text's (a voice alone cannot tell anger from joy), but its confidence
moves a little when the voice agrees or disagrees.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from voxloop.audio.prosody import Prosody
from voxloop.dialogue.emotion import Emotion

__all__ = ["VoiceBaseline", "combine"]

WARMUP = 3  # turns averaged plainly before the running average takes over
ALPHA = 0.15  # weight of a new turn in the running average after the warm-up
# per feature: (weight, the change that counts as "one step" more aroused)
_SCALE = {
    "rms_db": (1.0, 4.0),  # dB
    "f0": (1.0, 2.0),  # semitones of median pitch
    "f0_range": (0.7, 3.0),  # semitones of pitch spread
    "rate": (0.8, 0.15),  # log ratio of words per second (~ +16 %)
}
_HIGH: frozenset[str] = frozenset({"angry", "frustrated", "anxious", "happy"})


def _features(p: Prosody) -> dict[str, float]:
    out: dict[str, float] = {}
    if p.speech_seconds >= 0.3:
        out["rms_db"] = p.rms_db
    if p.f0_median_hz is not None:
        out["f0"] = 12 * math.log2(p.f0_median_hz / 100.0)
    if p.f0_range_st is not None:
        out["f0_range"] = p.f0_range_st
    if p.words_per_second is not None and p.words_per_second > 0:
        out["rate"] = math.log(p.words_per_second)
    return out


@dataclass
class VoiceBaseline:
    """The session's reference voice (per feature: running mean and how many turns it holds)."""

    mean: dict[str, float]
    count: dict[str, int]
    seen: set[str]

    def __init__(self) -> None:
        self.mean, self.count, self.seen = {}, {}, set()

    def arousal(self, p: Prosody) -> float | None:
        """0..1, 0.5 = as usual for this session; ``None`` with no reference yet."""
        score, weight = 0.0, 0.0
        for name, value in _features(p).items():
            if self.count.get(name, 0) == 0:
                continue
            w, step = _SCALE[name]
            score += w * (value - self.mean[name]) / step
            weight += w
        if weight == 0:
            return None
        return 1.0 / (1.0 + math.exp(-score / weight * 1.5))

    def observe(self, key: str, p: Prosody) -> None:
        """Add one confirmed turn to the reference (once per ``key``, the item id)."""
        if key in self.seen:
            return
        self.seen.add(key)
        for name, value in _features(p).items():
            n = self.count.get(name, 0)
            if n == 0:
                self.mean[name] = value
            elif n < WARMUP:
                self.mean[name] += (value - self.mean[name]) / (n + 1)
            else:
                self.mean[name] += ALPHA * (value - self.mean[name])
            self.count[name] = n + 1


def combine(text: Emotion, voice_arousal: float | None) -> Emotion:
    """The text estimate with the voice's arousal folded in (see the module doc)."""
    if voice_arousal is None:
        return text
    arousal = 0.5 * text.arousal + 0.5 * voice_arousal
    confidence = text.confidence
    if text.label != "neutral":
        expects_high = text.label in _HIGH
        agrees = (voice_arousal > 0.6) if expects_high else (voice_arousal < 0.4)
        disagrees = (voice_arousal < 0.3) if expects_high else (voice_arousal > 0.7)
        confidence += 0.1 if agrees else -0.1 if disagrees else 0.0
    return replace(text, arousal=round(arousal, 3), confidence=round(min(0.95, max(0.0, confidence)), 3),
                   source="text+voice", voice_arousal=round(voice_arousal, 3))
