"""Engines: one contract per stage, backends by name, embedded defaults."""

from voxloop.engines.base import (
    ASREngine,
    ChatMessage,
    Engine,
    LLMEngine,
    LLMOptions,
    Segment,
    TranscribeOptions,
    Transcript,
    TTSEngine,
    TTSOptions,
    VADEngine,
    VADEvent,
    VADOptions,
    Word,
)
from voxloop.engines.registry import BACKENDS, DEFAULTS, create_engine

__all__ = [
    "BACKENDS",
    "DEFAULTS",
    "ASREngine",
    "ChatMessage",
    "Engine",
    "LLMEngine",
    "LLMOptions",
    "Segment",
    "TTSEngine",
    "TTSOptions",
    "TranscribeOptions",
    "Transcript",
    "VADEngine",
    "VADEvent",
    "VADOptions",
    "Word",
    "create_engine",
]
