"""``voxloop.Pipeline``: which engine runs each stage — a backend spec as in the config file
(``"whisper"``, ``"openai:http://host/v1"``) or an engine object of your own that implements
the stage's contract (``docs/python-api.md``, "Your own backend")."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from voxloop.engines.base import ASREngine, Engine, LLMEngine, TTSEngine, VADEngine
from voxloop.engines.registry import BACKENDS, DEFAULTS, parse_spec
from voxloop.engines.stack import EngineSpecs, EngineStack
from voxloop.errors import UnknownBackend

__all__ = ["STAGE_CLASSES", "Pipeline"]

STAGE_CLASSES: dict[str, type[Engine]] = {"vad": VADEngine, "asr": ASREngine, "llm": LLMEngine, "tts": TTSEngine}
EngineChoice = str | Engine | None


class Pipeline:
    """The engines of an agent, one per stage: ``vad``, ``asr``, ``llm``, ``tts`` and the
    optional semantic ``turn`` model. ``None`` is the embedded default. ``options`` are the
    constructor keywords of spec'd backends (``{"llm": {"workers": 2}}``); ``voices`` named
    TTS voices (``{"anna": "piper:/voices/anna.onnx"}``). Bad names fail here, listing the
    valid ones; engines load on first use (or when the server starts)."""

    def __init__(self, *, vad: str | VADEngine | None = None, asr: str | ASREngine | None = None,
                 llm: str | LLMEngine | None = None, tts: str | TTSEngine | None = None,
                 turn: str | None = None, options: Mapping[str, Mapping[str, Any]] | None = None,
                 voices: Mapping[str, str] | None = None) -> None:
        chosen: dict[str, EngineChoice] = {"vad": vad, "asr": asr, "llm": llm, "tts": tts, "turn": turn}
        specs: dict[str, str] = {}
        self.engines: dict[str, Engine] = {}
        for stage, value in chosen.items():
            if value is None:
                specs[stage] = DEFAULTS[stage]
            elif isinstance(value, str):
                name = parse_spec(value)[0]
                if name not in BACKENDS[stage]:
                    raise UnknownBackend(f"unknown {stage} backend {name!r}; valid: {', '.join(BACKENDS[stage])} "
                                         f"(or an engine object: a {STAGE_CLASSES.get(stage, Engine).__name__})")
                specs[stage] = value
            else:
                base = STAGE_CLASSES.get(stage)
                if base is None or not isinstance(value, base):
                    want = base.__name__ if base is not None else "a backend spec string"
                    raise TypeError(f"Pipeline({stage}=...) must be a backend spec or a {want} "
                                    f"instance, got {type(value).__name__}")
                specs[stage] = f"{value.name or type(value).__name__}"
                self.engines[stage] = value
        self.specs = EngineSpecs(**specs, options={k: dict(v) for k, v in (options or {}).items()},
                                 voices=tuple((voices or {}).items()))

    def __repr__(self) -> str:
        parts = (f"{s}={type(self.engines[s]).__name__ if s in self.engines else getattr(self.specs, s)}"
                 for s in ("vad", "asr", "llm", "tts", "turn"))
        return f"Pipeline({', '.join(parts)})"

    def stack(self) -> EngineStack:
        """A fresh engine stack (one per server or conversation runner; it owns its engines)."""
        return EngineStack(self.specs, dict(self.engines))
