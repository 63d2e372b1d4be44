"""The user's emotion from the words of a turn, and what the reply does with it.

Text: VADER (the ``vadersentiment`` package, its lexicon ships inside the wheel; ~30 µs a call)
gives the valence; a small cue list of our own (below) tells the negative states apart —
angry, frustrated, anxious, sad — which VADER's single polarity cannot. Six labels, no more:
the words of one spoken turn do not support a finer split (bench/emotion.py measures it).

Out: :func:`hint` is one short system line for the LLM ("The user sounds frustrated; …"), and
:data:`DEFAULT_DELIVERY` maps a label to the reply's voice (a speed factor and Piper's
``noise_scale``). Both apply only to a confident, non-neutral estimate; a persona or preset
overrides the table through :class:`EmotionSettings`.

Pure logic: the VADER lexicon is read from the installed package once per process, lazily.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

__all__ = [
    "DEFAULT_DELIVERY",
    "LABELS",
    "Delivery",
    "Emotion",
    "EmotionSettings",
    "Label",
    "hint",
    "text_emotion",
]

Label = Literal["neutral", "happy", "sad", "angry", "frustrated", "anxious"]
LABELS: tuple[Label, ...] = get_args(Label)
Source = Literal["text", "text+voice"]


@dataclass(frozen=True, slots=True)
class Emotion:
    label: Label
    valence: float  # -1 (negative) .. 1 (positive)
    arousal: float  # 0 (calm) .. 1 (agitated)
    confidence: float  # 0..1, of the label
    source: Source = "text"
    voice_arousal: float | None = None  # the voice's part, relative to the session's baseline

    def as_dict(self) -> dict[str, Any]:
        return {"label": self.label, "valence": round(self.valence, 3), "arousal": round(self.arousal, 3),
                "confidence": round(self.confidence, 3), "source": self.source,
                "voice_arousal": None if self.voice_arousal is None else round(self.voice_arousal, 3)}


NEUTRAL = Emotion("neutral", 0.0, 0.3, 0.0)

# ----------------------------------------------------------------------- the cue words
# Negative states VADER cannot tell apart. Patterns match whole words of the lower-cased text;
# a cue right after a negation ("not worried", "don't hate") does not count.
_CUES: dict[Label, tuple[str, ...]] = {
    "angry": (
        r"furious", r"angry", r"mad", r"hate", r"pissed( off)?", r"outrageous", r"unacceptable",
        r"ridiculous", r"absurd", r"idiot\w*", r"stupid", r"useless", r"damn\w*", r"shut up", r"screw (this|you|it)",
        r"what the (hell|heck)", r"how dare", r"(you|they) dare", r"sick of", r"fed up", r"enough", r"garbage", r"trash",
        r"rubbish", r"worst", r"insult\w*", r"livid",
    ),
    "frustrated": (
        r"again", r"still", r"keeps?", r"kept", r"(does|do|did|is|it's|was)( ?n[o']t| not) work\w*",
        r"not working", r"won'?t", r"can'?t (get|find|figure|make)", r"already (told|said|asked|tried)",
        r"how many times", r"(for|why) (the|this) (\w+ )?time", r"seriously", r"come on", r"ugh+", r"argh+",
        r"frustrat\w*", r"annoy\w*", r"wrong", r"broken", r"nothing works", r"makes no sense",
        r"(no|not) what i (asked|said|meant|wanted)", r"waste of time", r"wasting", r"forever", r"give up",
        r"i give up", r"irritat\w*", r"listen to me", r"(not|n't) (even )?listening",
    ),
    "anxious": (
        r"worr(y|ied|ying|ies)", r"nervous", r"scared", r"afraid", r"anxious", r"anxiety", r"panic\w*",
        r"stress(ed|ful)?", r"what if", r"terrified", r"frighten\w*", r"fear", r"freaking out", r"tense",
        r"can'?t (sleep|stop thinking)", r"on edge", r"overwhelm\w*", r"dread\w*", r"uneasy", r"(in|so much) trouble",
        r"i hope (it|nothing|they|he|she)", r"urgent", r"hurry", r"shaking", r"trembling",
        r"heart (is )?(racing|pounding)",
    ),
    "sad": (
        r"sad", r"unhappy", r"depress\w*", r"lonely", r"alone", r"miss(ed|ing)? (him|her|them|you|my)",
        r"cr(y|ied|ying)", r"tears", r"heartbroken", r"broke my heart", r"died", r"passed away", r"death",
        r"funeral", r"grie(f|ving|ve)", r"hopeless", r"miserable", r"down lately",
        r"feel(ing)? (down|low|empty)", r"sorry for myself", r"gone now",
        r"(broke|broken) up", r"dumped", r"can'?t stop crying", r"rejected", r"no one", r"nobody",
        r"bad day", r"lost",
    ),
}
_COMPILED: dict[Label, re.Pattern[str]] = {
    label: re.compile(r"(?<![\w'])(" + "|".join(pats) + r")(?![\w'])") for label, pats in _CUES.items()
}
# "not worried", "never angry at": negated; "don't you dare", "can't stop shaking": not
_NEGATION = re.compile(r"(?:\bnot|\bno|\bnever|n't)\s+(?!(?:you|they|he|she|we|i|stop)\s)(?:\w+\s+)?$")
_PRONOUNS = frozenset({"you", "they", "he", "she", "we", "i"})  # a cue starting so is never negated
_PRIORITY: tuple[Label, ...] = ("angry", "anxious", "sad", "frustrated")  # ties: the stronger state
_AROUSAL: dict[Label, float] = {"neutral": 0.3, "happy": 0.6, "sad": 0.2, "angry": 0.85, "frustrated": 0.65,
                                "anxious": 0.7}
CUES_UNLESS = 0.8  # negative cues decide unless VADER finds the turn this positive
HAPPY_AT = 0.45  # VADER compound at or above which a turn without negative cues is happy
NEGATIVE_AT = -0.5  # ... at or below which a turn without cues is (generically) frustrated

_lock = threading.Lock()
_analyzer: Any = None


def _vader() -> Any:
    global _analyzer
    with _lock:
        if _analyzer is None:
            from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

            _analyzer = SentimentIntensityAnalyzer()
        return _analyzer


def _cue_hits(text: str) -> dict[Label, int]:
    hits: dict[Label, int] = {}
    for label, pattern in _COMPILED.items():
        n = sum(1 for m in pattern.finditer(text) if m.group(0).split()[0] in _PRONOUNS
                or not _NEGATION.search(text[max(0, m.start() - 24):m.start()]))
        if n:
            hits[label] = n
    return hits


def text_emotion(text: str) -> Emotion:
    """The emotion the words of one turn carry (source ``text``)."""
    text = text.strip()
    if not text:
        return NEUTRAL
    compound = float(_vader().polarity_scores(text)["compound"])
    lower = text.lower().replace("’", "'")
    hits = _cue_hits(lower)
    bangs = min(text.count("!"), 3)
    shouted = sum(1 for w in re.findall(r"[A-Za-z']+", text) if len(w) >= 3 and w.isupper())
    label: Label = "neutral"
    confidence = 1.0 - abs(compound)
    if hits and compound < CUES_UNLESS:
        top = max(hits.values())
        label = next(lab for lab in _PRIORITY if hits.get(lab) == top)
        confidence = min(0.95, 0.45 + 0.15 * top + 0.3 * max(0.0, -compound))
        compound = min(compound, -0.2)
    elif compound >= HAPPY_AT:
        label, confidence = "happy", min(0.95, 0.3 + 0.65 * compound)
    elif compound <= NEGATIVE_AT:
        label = "angry" if bangs or shouted else "frustrated"
        confidence = min(0.8, 0.65 * -compound)
    arousal = _AROUSAL[label] + 0.07 * bangs + (0.1 if shouted else 0.0)
    return Emotion(label, max(-1.0, min(1.0, compound)), max(0.0, min(1.0, arousal)), round(confidence, 3))


# ----------------------------------------------------------------------- what the reply does
_HINTS: dict[Label, str] = {
    "happy": "The user sounds happy; share their good mood.",
    "sad": "The user sounds sad; be gentle and kind.",
    "angry": "The user sounds angry; stay calm, do not argue, be brief and helpful.",
    "frustrated": "The user sounds frustrated; be calm and brief, and get to the point.",
    "anxious": "The user sounds anxious; be reassuring, calm and clear.",
}


def hint(emotion: Emotion | None, min_confidence: float = 0.5) -> str | None:
    """One system line for the LLM, or ``None`` (neutral, or not confident enough)."""
    if emotion is None or emotion.label == "neutral" or emotion.confidence < min_confidence:
        return None
    return _HINTS[emotion.label]


@dataclass(frozen=True, slots=True)
class Delivery:
    """How the reply is spoken: ``speed`` multiplies the session's speed; ``noise_scale`` is
    Piper's (its voices default to ~0.667; lower is flatter and steadier, higher livelier)."""

    speed: float = 1.0
    noise_scale: float | None = None

    def __post_init__(self) -> None:
        if not 0.5 <= self.speed <= 2.0:
            raise ValueError("delivery speed must be between 0.5 and 2.0")
        if self.noise_scale is not None and not 0.0 <= self.noise_scale <= 2.0:
            raise ValueError("delivery noise_scale must be between 0 and 2")


# user angry/frustrated/anxious → a slower, steadier voice; sad → slow and soft; happy → livelier
DEFAULT_DELIVERY: Mapping[Label, Delivery] = {
    "angry": Delivery(speed=0.92, noise_scale=0.5),
    "frustrated": Delivery(speed=0.95, noise_scale=0.55),
    "anxious": Delivery(speed=0.92, noise_scale=0.55),
    "sad": Delivery(speed=0.9, noise_scale=0.6),
    "happy": Delivery(speed=1.05, noise_scale=0.75),
}


def _default_table() -> tuple[tuple[str, Delivery], ...]:
    return tuple(DEFAULT_DELIVERY.items())


@dataclass(frozen=True, slots=True)
class EmotionSettings:
    """Per session (``session.voxloop.emotion``; a persona or preset may set ``deliveries``)."""

    enabled: bool = True  # estimate at all (off: no event, no hint, no delivery change)
    hint: bool = True  # tell the LLM
    delivery: bool = True  # change the reply's voice
    min_confidence: float = 0.5
    deliveries: tuple[tuple[str, Delivery], ...] = field(default_factory=_default_table)

    def with_deliveries(self, table: Mapping[str, Delivery | Mapping[str, float]]) -> EmotionSettings:
        """A copy whose table is the default overridden by ``table`` (label → Delivery or
        ``{"speed": …, "noise_scale": …}``); unknown labels are an error."""
        merged: dict[str, Delivery] = dict(self.deliveries)
        for label, value in table.items():
            if label not in LABELS:
                raise ValueError(f"unknown emotion label {label!r}; known: {', '.join(LABELS)}")
            if isinstance(value, Delivery):
                merged[label] = value
            else:
                unknown = set(value) - {"speed", "noise_scale"}
                if unknown:
                    raise ValueError(f"unknown delivery field(s) {sorted(unknown)}: use speed, noise_scale")
                speed, noise = value.get("speed", 1.0), value.get("noise_scale")
                if isinstance(speed, bool) or not isinstance(speed, int | float) or not 0.25 <= speed <= 4.0:
                    raise ValueError(f"{label}: speed must be a number between 0.25 and 4")
                if noise is not None and (isinstance(noise, bool) or not isinstance(noise, int | float)
                                          or not 0.0 <= noise <= 2.0):
                    raise ValueError(f"{label}: noise_scale must be a number between 0 and 2")
                merged[label] = Delivery(float(speed), None if noise is None else float(noise))
        return EmotionSettings(self.enabled, self.hint, self.delivery, self.min_confidence, tuple(merged.items()))

    def hint_for(self, emotion: Emotion | None) -> str | None:
        return hint(emotion, self.min_confidence) if self.enabled and self.hint else None

    def delivery_for(self, emotion: Emotion | None) -> Delivery | None:
        """The reply's delivery, or ``None`` for the session's plain voice."""
        if (not self.enabled or not self.delivery or emotion is None or emotion.label == "neutral"
                or emotion.confidence < self.min_confidence):
            return None
        return dict(self.deliveries).get(emotion.label)
