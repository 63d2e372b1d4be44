"""Silero VAD v6 on ONNX Runtime (the default VAD).

The weights are ``silero_vad_v6.onnx`` (MIT), shipped inside the ``faster-whisper`` wheel's
assets; any Silero v6 ONNX file can be given by path. One inference session is shared by every
stream; each stream carries its own recurrent state. A stream scores all the whole 32 ms windows
of one push (an append: 100 ms from most clients) in one ``run`` (see :meth:`SileroVAD._score`):
in a tight loop on a loaded 2-core machine ~0.45 ms of CPU per 3-window push, where a ``run``
per window cost ~0.75 ms. In a live session (cold caches, the executor hop) the VAD thread
still spends ~1 ms per push, ~10 ms per second of streamed audio: the largest cost of a front
whose other engines are remote (bench/remote.py). The session options pin one intra-op and one
inter-op thread (sequential execution, no spinning pool).
"""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path
from typing import Any

import numpy as np

from voxloop.audio.pcm import Float32Array
from voxloop.engines.base import VADEngine
from voxloop.engines.types import VADOptions
from voxloop.engines.vad.stream import VADStream
from voxloop.errors import MissingDependency

__all__ = ["SileroVAD", "default_silero_path"]

_CONTEXT = 64
_BLOCK = 4096  # windows per run (a whole file: ~2 min of audio per call, ~9 MiB of input)


def default_silero_path() -> Path:
    spec = importlib.util.find_spec("faster_whisper")
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependency("the Silero VAD weights ship with faster-whisper: pip install 'voxloop[embedded]'")
    path = Path(next(iter(spec.submodule_search_locations))) / "assets" / "silero_vad_v6.onnx"
    if not path.exists():
        raise MissingDependency(f"{path} is missing; reinstall faster-whisper>=1.2")
    return path


class _State:
    """Recurrent state of one stream."""

    def __init__(self) -> None:
        self.h = np.zeros((1, 1, 128), np.float32)
        self.c = np.zeros((1, 1, 128), np.float32)
        self.context = np.zeros(_CONTEXT, np.float32)


class SileroVAD(VADEngine):
    name = "silero"

    def __init__(self, arg: str | None = None, *, workers: int = 1) -> None:
        super().__init__(workers=workers)
        self._path = Path(arg) if arg else None
        self._session: Any = None
        self._lock = threading.Lock()

    def _load(self) -> None:
        import onnxruntime as ort

        path = self._path or default_silero_path()
        opts = ort.SessionOptions()
        opts.inter_op_num_threads = 1
        opts.intra_op_num_threads = 1
        opts.log_severity_level = 4
        self._session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"], sess_options=opts)

    def describe(self) -> dict[str, str]:
        return {"backend": self.name, "weights": str(self._path) if self._path else "faster-whisper wheel assets "
                "(silero_vad_v6.onnx)"}

    def _score(self, state: _State, chunks: Float32Array) -> list[float]:
        """All of ``chunks`` (n, 512) in one ``run``: the model's first axis is a sequence of
        windows that its LSTM walks in order, so one call gives the same probabilities and final
        state as n calls of one window (bit-identical, tests/integration/test_vad_silero.py) at about the
        cost of one: ONNX Runtime's fixed cost per call (~0.2 ms) dominates a 32 ms window."""
        out: list[float] = []
        for i in range(0, len(chunks), _BLOCK):
            block = chunks[i : i + _BLOCK]
            windows = np.empty((len(block), _CONTEXT + block.shape[1]), np.float32)
            windows[0, :_CONTEXT] = state.context
            windows[1:, :_CONTEXT] = block[:-1, -_CONTEXT:]
            windows[:, _CONTEXT:] = block
            probs, state.h, state.c = self._session.run(None, {"input": windows, "h": state.h, "c": state.c})
            state.context = windows[-1, -_CONTEXT:].copy()
            out.extend(float(p) for p in np.asarray(probs).reshape(-1))
        return out

    def stream(self, options: VADOptions = VADOptions()) -> VADStream:
        self.prewarm()
        state = _State()
        return VADStream(self, lambda chunks: self._score(state, chunks), options, self.chunk_samples)

    def speech_probabilities(self, samples: Float32Array) -> Float32Array:
        self.prewarm()
        n = len(samples) // self.chunk_samples
        if n == 0:
            return np.zeros(0, np.float32)
        chunks = np.asarray(samples[: n * self.chunk_samples], np.float32).reshape(n, self.chunk_samples)
        return np.asarray(self._score(_State(), chunks), np.float32)
