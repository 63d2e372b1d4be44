"""Engines: one contract per stage, backends by name, embedded defaults."""

from voxloop.engines.base import ASREngine, Engine, LLMEngine, TTSEngine, VADEngine
from voxloop.engines.registry import BACKENDS, DEFAULTS, create_engine
from voxloop.engines.types import (
    ChatMessage,
    LLMOptions,
    Segment,
    TranscribeOptions,
    Transcript,
    TTSOptions,
    VADEvent,
    VADOptions,
    Word,
)

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
