"""ONNX Runtime keeps the memory of its largest inference: bound it.

ORT's CPU arena grows to the peak one run needs and keeps it for the life of the session: one
Piper sentence of 160 words left +868 MiB resident for good (docs/security.md, "Memory under
hostile load"). :class:`ArenaBoundSession` asks ORT to shrink the arena at the end of any run
whose input has more than ``max_ids`` ids; usual sentences keep the warm arena and its speed
(without an arena, synthesis took 4-29 % longer).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["LONG_INPUT_IDS", "ArenaBoundSession"]

LONG_INPUT_IDS = 320  # Piper phoneme ids, ~11.6 a word: about 27 words (the arena such a run leaves: ~150 MiB)


class ArenaBoundSession:
    """An ``onnxruntime.InferenceSession`` that gives back the arena after long runs."""

    def __init__(self, session: Any, *, max_ids: int = LONG_INPUT_IDS) -> None:
        self._session = session
        self.max_ids = max_ids
        self._shrink: Any = None  # onnxruntime.RunOptions, made on first use
        self.shrinks = 0

    def run(self, output_names: Sequence[str] | None, input_feed: Mapping[str, Any],
            run_options: Any = None) -> Any:
        size = max((np.asarray(v).size for v in input_feed.values()), default=0)
        if run_options is None and size > self.max_ids:
            run_options = self._shrink_options()
            self.shrinks += 1
        return self._session.run(output_names, input_feed, run_options)

    def _shrink_options(self) -> Any:
        if self._shrink is None:
            import onnxruntime as ort

            self._shrink = ort.RunOptions()
            self._shrink.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
        return self._shrink

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)
