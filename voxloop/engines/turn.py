"""Semantic end-of-turn detection: Smart Turn v3 (BSD-2) on ONNX Runtime.

Given the last 8 s of a user's speech, the model says whether the turn sounds finished
(falling intonation, complete phrase) or the user is only pausing. The ONNX file ships inside
the ``pipecat-ai`` wheel (``pip install 'voxloop[smart-turn]'``) or is given by path.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np

from voxloop.audio.pcm import Audio, Float32Array
from voxloop.engines.base import Engine
from voxloop.errors import MissingDependency

__all__ = ["SmartTurn", "default_smart_turn_path"]

WINDOW = 8 * 16000
_EPS = 1e-7


def default_smart_turn_path() -> Path:
    spec = importlib.util.find_spec("pipecat")
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependency("Smart Turn ships inside pipecat-ai: pip install 'voxloop[smart-turn]'")
    folder = Path(next(iter(spec.submodule_search_locations))) / "audio" / "turn" / "smart_turn" / "data"
    files = sorted(folder.glob("smart-turn-v3*-cpu.onnx")) or sorted(folder.glob("smart-turn-v3*.onnx"))
    if not files:
        raise MissingDependency(f"no Smart Turn v3 model in {folder}; pip install 'pipecat-ai>=0.0.90'")
    return files[-1]


def smart_turn_features(samples: Float32Array) -> Float32Array:
    """Whisper log-mel of the last 8 s (left-padded with silence), waveform normalised first."""
    from voxloop.engines.asr.features import log_mel_spectrogram

    x = np.asarray(samples[-WINDOW:], np.float32)
    if len(x) < WINDOW:
        x = np.pad(x, (WINDOW - len(x), 0))
    x = (x - x.mean()) / np.sqrt(x.var() + _EPS)
    return log_mel_spectrogram(x)[None, :, :]


class SmartTurn(Engine):
    """``probability(audio)``: how likely the user has finished their turn (0..1)."""

    stage = "turn"
    name = "smart-turn"

    def __init__(self, arg: str | None = None, *, workers: int = 1) -> None:
        super().__init__(workers=workers)
        self._path = Path(arg) if arg else None
        self._session: Any = None

    def _load(self) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.inter_op_num_threads = 1
        opts.intra_op_num_threads = 1
        opts.log_severity_level = 4
        path = self._path or default_smart_turn_path()
        self._session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"], sess_options=opts)

    def describe(self) -> dict[str, str]:
        return {"backend": self.name, "weights": str(self._path or "pipecat-ai wheel (smart-turn-v3 cpu)")}

    def probability_sync(self, audio: Audio) -> float:
        self.prewarm()
        features = smart_turn_features(audio.to(16000).samples)
        out = self._session.run(None, {"input_features": features})
        return float(np.asarray(out[0]).reshape(-1)[0])

    async def probability(self, audio: Audio) -> float:
        return await self.run_blocking(self.probability_sync, audio)
