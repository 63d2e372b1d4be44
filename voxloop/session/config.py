"""Per-session settings (what ``session.update`` changes). Typed and frozen."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal

from voxloop.dialogue.emotion import EmotionSettings
from voxloop.dialogue.persona import Persona
from voxloop.dialogue.preset import Preset
from voxloop.dialogue.tools import ServerTool
from voxloop.engines.types import ToolSpec

__all__ = ["SessionConfig", "TranscriptionConfig", "TurnDetection"]


@dataclass(frozen=True, slots=True)
class TurnDetection:
    threshold: float = 0.5
    prefix_padding_ms: int = 300
    silence_duration_ms: int = 500
    create_response: bool = True
    interrupt_response: bool = True
    idle_timeout_ms: int | None = None  # no speech for this long after a reply: prompt the model
    # voxloop extensions
    min_speech_ms: int = 100  # shorter sounds neither start a turn nor interrupt the bot
    speculative_ms: int = 160  # silence after which the reply starts speculatively (0 = off)
    # semantic_vad: Smart Turn decides at the tentative end whether the turn is complete;
    # if it is, the turn ends there, else it ends after ``silence_duration_ms`` (longer).
    semantic: bool = False
    eagerness: str = "auto"
    semantic_check_ms: int = 500  # silence at which Smart Turn is asked (bench/turn.py)
    semantic_threshold: float = 0.5


@dataclass(frozen=True, slots=True)
class TranscriptionConfig:
    model: str = "whisper"
    language: str | None = None
    prompt: str | None = None


@dataclass(frozen=True, slots=True)
class SessionConfig:
    type: Literal["realtime", "transcription"] = "realtime"
    instructions: str = ""
    output_modalities: tuple[str, ...] = ("audio",)
    input_rate: int = 24000
    output_rate: int = 24000
    turn_detection: TurnDetection | None = field(default_factory=TurnDetection)
    transcription: TranscriptionConfig | None = field(default_factory=TranscriptionConfig)
    voice: str = "joe"
    speed: float = 1.0
    max_output_tokens: int = 120  # about 90 words, 30-40 s of speech: a spoken reply, not an essay
    temperature: float = 0.4  # coherent spoken answers from small models
    history_tokens: int = 1200
    hotwords: tuple[str, ...] = ()
    voxloop_events: bool = False  # send voxloop.* extension events (session.voxloop.events)
    tools: tuple[ToolSpec, ...] = ()  # the client's tools (session.tools): the client runs them
    tool_choice: str = "auto"  # auto | none | required | a tool's name
    server_tools: tuple[ServerTool, ...] = ()  # the deployment's webhooks: voxloop runs them
    emotion: EmotionSettings = field(default_factory=EmotionSettings)  # session.voxloop.emotion
    # scenes (docs/presets-and-personas.md): the first reply of an empty conversation speaks
    # ``greeting`` verbatim; a preset's webhook tools join ``server_tools``
    greeting: str | None = None
    # memory (docs/memory.md): whose long-term memory this conversation reads and writes;
    # None = anonymous, nothing remembered beyond the conversation itself
    user: str | None = None
    persona: Persona | None = field(default=None, compare=False)
    preset: Preset | None = field(default=None, compare=False)
    # accepted-but-unused client fields (tracing, include, noise_reduction, tools…), echoed as sent
    echo: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def with_(self, **changes: object) -> SessionConfig:
        return replace(self, **changes)  # type: ignore[arg-type]
