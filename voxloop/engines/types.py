"""The data types and typed, frozen options every stage shares (no behaviour, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from voxloop.audio.pcm import Audio
from voxloop.errors import InvalidRequest

__all__ = [
    "ASR_SAMPLE_RATE",
    "OFFLINE_BEAM_SIZE",
    "PRIORITY_BACKGROUND",
    "PRIORITY_CONTINUATION",
    "PRIORITY_LIVE",
    "Capabilities",
    "ChatMessage",
    "LLMChunk",
    "LLMOptions",
    "Segment",
    "TOOL_CHOICES",
    "TTSOptions",
    "ToolCall",
    "ToolCallDelta",
    "ToolSpec",
    "TranscribeOptions",
    "Transcript",
    "VADEvent",
    "VADOptions",
    "Word",
]

ASR_SAMPLE_RATE = 16000



@dataclass(frozen=True, slots=True)
class Word:
    start: float
    end: float
    word: str
    probability: float = 1.0


@dataclass(frozen=True, slots=True)
class Segment:
    start: float
    end: float
    text: str
    words: tuple[Word, ...] = ()
    avg_logprob: float = 0.0
    no_speech_prob: float = 0.0


@dataclass(frozen=True, slots=True)
class Transcript:
    text: str
    language: str
    duration: float
    segments: tuple[Segment, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "language": self.language,
            "duration": round(self.duration, 3),
            "segments": [
                {
                    "start": round(s.start, 3),
                    "end": round(s.end, 3),
                    "text": s.text,
                    "words": [
                        {
                            "start": round(w.start, 3),
                            "end": round(w.end, 3),
                            "word": w.word,
                            "probability": round(w.probability, 3),
                        }
                        for w in s.words
                    ],
                }
                for s in self.segments
            ],
        }


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A function the model may call: its name, what it does, and a JSON schema (an object
    schema) for its arguments. ``parameters_json`` is the schema as compact JSON (hashable)."""

    name: str
    description: str = ""
    parameters_json: str = '{"type": "object", "properties": {}}'

    @property
    def parameters(self) -> dict[str, Any]:
        import json

        value = json.loads(self.parameters_json)
        return value if isinstance(value, dict) else {}


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A call the model made: ``arguments`` is JSON text (an object)."""

    call_id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    """A piece of a tool call as it streams: the first piece of call ``index`` carries its
    ``call_id`` and ``name``; ``arguments`` pieces concatenate to the JSON arguments."""

    index: int
    arguments: str = ""
    call_id: str | None = None
    name: str | None = None


# What an LLM stream yields: text deltas, or pieces of tool calls.
LLMChunk = str | ToolCallDelta

# ``LLMOptions.tool_choice``: one of these, or the name of one of the tools (that one is forced).
TOOL_CHOICES = ("auto", "none", "required")


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """One message of a chat. An assistant message may carry the ``tool_calls`` it made; a
    ``tool`` message carries one call's result (``tool_call_id``, ``name`` of the tool)."""

    role: Literal["system", "user", "assistant", "tool"]
    content: str
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class Capabilities:
    streaming: bool
    languages: tuple[str, ...]
    sample_rate: int


# --------------------------------------------------------------------------- options


@dataclass(frozen=True, slots=True)
class VADOptions:
    threshold: float = 0.5
    min_speech_ms: int = 250
    min_silence_ms: int = 500
    prefix_padding_ms: int = 300
    # > 0: emit a tentative ``pause`` after this much silence (and ``resume`` if speech comes
    # back before ``min_silence_ms``) so a reply can start speculatively.
    pause_ms: int = 0

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold < 1.0:
            raise InvalidRequest("threshold must be between 0 and 1", param="threshold")
        for name in ("min_speech_ms", "min_silence_ms", "prefix_padding_ms"):
            if getattr(self, name) < 0:
                raise InvalidRequest(f"{name} must be >= 0", param=name)


# Offline transcription (files: CLI, REST) decodes with beam search, as faster-whisper and
# OpenAI do; live turns and partials stay greedy (``TranscribeOptions()``) for latency.
OFFLINE_BEAM_SIZE = 5


@dataclass(frozen=True, slots=True)
class TranscribeOptions:
    language: str | None = None
    prompt: str | None = None
    hotwords: tuple[str, ...] = ()
    word_timestamps: bool = False
    beam_size: int = 1
    # "auto": a reduced encoder window for short audio; "full": always Whisper's 30 s.
    window: Literal["auto", "full"] = "auto"


PRIORITY_LIVE = 0  # a reply someone is waiting for: its first tokens, its first clause
PRIORITY_CONTINUATION = 2  # a reply's later clauses (the first one is already playing)
PRIORITY_BACKGROUND = 3  # summaries, fact extraction, cache warm-ups, REST requests


@dataclass(frozen=True, slots=True)
class LLMOptions:
    temperature: float = 0.7
    top_p: float = 0.95
    max_tokens: int = 256
    stop: tuple[str, ...] = ()
    seed: int | None = None
    model: str | None = None
    tools: tuple[ToolSpec, ...] = ()
    tool_choice: str = "auto"  # auto | none | required | the name of a tool (forced)
    # repetition guard: llama.cpp's repeat penalty (1.0 = off); remote servers get their own
    repeat_penalty: float = 1.1
    # who goes first when every instance is busy (lower first): a live reply, then background work
    priority: int = 0  # PRIORITY_LIVE .. PRIORITY_BACKGROUND


@dataclass(frozen=True, slots=True)
class TTSOptions:
    voice: str | None = None
    speed: float = 1.0
    # expressive delivery, for engines that have it (Piper; others ignore them). None: the voice's own
    noise_scale: float | None = None  # variation of the voice (Piper voices default to ~0.667)
    noise_w_scale: float | None = None  # variation of the phoneme durations (~0.8)

    def __post_init__(self) -> None:
        if not 0.25 <= self.speed <= 4.0:
            raise InvalidRequest("speed must be between 0.25 and 4.0", param="speed")
        for name in ("noise_scale", "noise_w_scale"):
            v = getattr(self, name)
            if v is not None and not 0.0 <= v <= 2.0:
                raise InvalidRequest(f"{name} must be between 0 and 2", param=name)


@dataclass(frozen=True, slots=True)
class VADEvent:
    """``kind`` is ``start``, ``pause``, ``resume`` or ``end``; times are seconds since the
    stream began. ``pause`` and ``end`` carry the utterance audio (16 kHz), prefix padding
    included.
    """

    kind: Literal["start", "pause", "resume", "end"]
    time: float
    audio: Audio | None = None
    speech_start: float = 0.0
