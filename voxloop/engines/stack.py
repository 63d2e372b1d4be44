"""The engines of one process: created once from specs, shared by every session."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

from voxloop.engines.base import ASREngine, Engine, LLMEngine, TTSEngine, VADEngine
from voxloop.engines.registry import (
    BACKENDS,
    DEFAULTS,
    backend_installed,
    create_engine,
    parse_spec,
)

__all__ = ["EngineSpecs", "EngineStack"]


@dataclass(frozen=True, slots=True)
class EngineSpecs:
    vad: str = DEFAULTS["vad"]
    asr: str = DEFAULTS["asr"]
    llm: str = DEFAULTS["llm"]
    tts: str = DEFAULTS["tts"]
    turn: str = DEFAULTS["turn"]
    # per-stage constructor keyword arguments, e.g. {"llm": {"workers": 2}}
    options: dict[str, dict[str, Any]] = field(default_factory=dict)
    # named TTS voices (name, backend spec): TTSOptions.voice picks one (engines/tts/voices.py)
    voices: tuple[tuple[str, str], ...] = ()


class EngineStack:
    """Lazily creates each stage's engine on first use; ``prewarm`` loads them all."""

    def __init__(self, specs: EngineSpecs = EngineSpecs(), engines: dict[str, Engine] | None = None) -> None:
        self.specs = specs
        self._engines: dict[str, Engine] = dict(engines or {})
        self._lock = threading.Lock()
        self._wrappers: dict[str, Callable[[Engine], Engine]] = {}

    def wrap(self, stage: str, wrapper: Callable[[Engine], Engine]) -> None:
        """Put ``wrapper`` around ``stage``'s engine when it is created (a cache, say); call
        before first use."""
        with self._lock:
            if stage in self._engines:
                self._engines[stage] = wrapper(self._engines[stage])
            else:
                self._wrappers[stage] = wrapper

    def get(self, stage: str) -> Engine:
        with self._lock:
            if stage not in self._engines:
                spec = getattr(self.specs, stage)
                engine = create_engine(stage, spec, **self.specs.options.get(stage, {}))
                if stage == "tts":  # named voices; an unknown name means the default voice
                    from voxloop.engines.tts.voices import build_voice_bank

                    engine = build_voice_bank(cast(TTSEngine, engine), spec, dict(self.specs.voices))
                if stage in self._wrappers:
                    engine = self._wrappers.pop(stage)(engine)
                self._engines[stage] = engine
            return self._engines[stage]

    def loaded(self, stage: str) -> Engine | None:
        """``stage``'s engine if it was created already (never creates one)."""
        with self._lock:
            return self._engines.get(stage)

    @property
    def vad(self) -> VADEngine:
        return cast(VADEngine, self.get("vad"))

    @property
    def asr(self) -> ASREngine:
        return cast(ASREngine, self.get("asr"))

    @property
    def llm(self) -> LLMEngine:
        return cast(LLMEngine, self.get("llm"))

    @property
    def tts(self) -> TTSEngine:
        return cast(TTSEngine, self.get("tts"))

    def prewarm(self, stages: tuple[str, ...] = ("vad", "asr", "llm", "tts")) -> None:
        for stage in stages:
            self.get(stage).prewarm()
        if "turn" not in stages and self.has("turn"):
            self.get("turn").prewarm()

    def has(self, stage: str) -> bool:
        """Whether ``stage``'s backend is available (an optional stage may not be installed)."""
        if stage in self._engines:
            return True
        name = parse_spec(getattr(self.specs, stage))[0]
        return name in BACKENDS.get(stage, {}) and backend_installed(stage, name)

    def close(self) -> None:
        with self._lock:
            for engine in self._engines.values():
                engine.close()
            self._engines.clear()
