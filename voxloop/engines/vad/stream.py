"""The VAD stream shared by all VAD backends: buffers frames into chunks, scores them
off the event loop, and runs the segmenter.

Scoring takes one executor hop per push (an append), all its whole chunks at once. A scorer
that costs microseconds (the energy VAD's numpy RMS) runs ``inline`` instead: the hop itself
(waking a worker thread, handing the result back to the loop) cost ~0.3 ms of CPU per push on
a loaded 2-core machine, ~3 ms per second of streamed audio, far more than the scoring."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import numpy as np

from voxloop.audio.pcm import Float32Array
from voxloop.engines.base import Engine
from voxloop.engines.streams import EngineStream, _Flush
from voxloop.engines.types import VADEvent, VADOptions
from voxloop.engines.vad.segmenter import SpeechSegmenter

__all__ = ["VADStream"]

Scorer = Callable[[Float32Array], list[float]]  # chunks (n, chunk) -> probabilities


class VADStream(EngineStream[Float32Array, VADEvent]):
    """Push 16 kHz float32 frames of any size; iterate ``start``/``end`` events."""

    def __init__(self, engine: Engine, scorer: Scorer, options: VADOptions, chunk_samples: int,
                 *, inline: bool = False) -> None:
        self._engine = engine
        self._scorer = scorer
        self._inline = inline  # score on the event loop (only for a scorer of microseconds)
        self._chunk = chunk_samples
        self.segmenter = SpeechSegmenter(options, chunk_samples)
        self._pending = np.zeros(0, np.float32)
        super().__init__(f"vad-{engine.name}")

    async def _run(self, inputs: AsyncIterator[Float32Array | _Flush]) -> None:
        async for item in inputs:
            if isinstance(item, _Flush):
                continue
            self._pending = np.concatenate([self._pending, np.asarray(item, np.float32)])
            n = len(self._pending) // self._chunk
            if n == 0:
                continue
            chunks = self._pending[: n * self._chunk].reshape(n, self._chunk)
            self._pending = self._pending[n * self._chunk :]
            probs = self._scorer(chunks) if self._inline else await self._engine.run_blocking(self._scorer, chunks)
            for chunk, p in zip(chunks, probs, strict=True):
                for ev in self.segmenter.feed(chunk, p):
                    self._emit(ev)
        for ev in self.segmenter.finish():
            self._emit(ev)
