"""A model-free energy VAD: for tests, fakes and very small devices."""

from __future__ import annotations

import numpy as np

from voxloop.audio.pcm import Float32Array
from voxloop.engines.base import VADEngine
from voxloop.engines.types import VADOptions
from voxloop.engines.vad.stream import VADStream

__all__ = ["EnergyVAD"]


class EnergyVAD(VADEngine):
    """Speech probability from RMS level in dBFS, mapped linearly from ``floor_db`` to ``ceil_db``."""

    name = "energy"

    def __init__(self, arg: str | None = None, *, floor_db: float = -50.0, ceil_db: float = -30.0) -> None:
        super().__init__(workers=1)
        self.floor_db = float(arg) if arg else floor_db
        self.ceil_db = ceil_db

    def _scores(self, chunks: Float32Array) -> list[float]:
        rms = np.sqrt(np.mean(np.square(chunks, dtype=np.float64), axis=1) + 1e-12)
        db = 20 * np.log10(rms)
        p = np.clip((db - self.floor_db) / (self.ceil_db - self.floor_db), 0.0, 1.0)
        return [float(x) for x in p]

    def stream(self, options: VADOptions = VADOptions()) -> VADStream:
        # a few microseconds of numpy per push: cheaper on the loop than an executor hop
        return VADStream(self, self._scores, options, self.chunk_samples, inline=True)

    def speech_probabilities(self, samples: Float32Array) -> Float32Array:
        n = len(samples) // self.chunk_samples
        if n == 0:
            return np.zeros(0, np.float32)
        chunks = np.asarray(samples[: n * self.chunk_samples], np.float32).reshape(n, self.chunk_samples)
        return np.asarray(self._scores(chunks), np.float32)
