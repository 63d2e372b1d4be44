"""ONNX Runtime's arena given back after long inputs only (a fake session; no model)."""

from __future__ import annotations

from typing import Any

import numpy as np

from voxloop.engines.tts.arena import ArenaBoundSession


class FakeSession:
    def __init__(self) -> None:
        self.options: list[Any] = []
        self.providers = ["CPUExecutionProvider"]

    def run(self, output_names: Any, feed: Any, run_options: Any = None) -> list[np.ndarray]:
        self.options.append(run_options)
        return [np.zeros(4, np.float32)]


def feed(ids: int) -> dict[str, np.ndarray]:
    return {"input": np.zeros((1, ids), np.int64), "input_lengths": np.array([ids]), "scales": np.ones(3)}


def test_only_long_inputs_shrink_the_arena() -> None:
    inner = FakeSession()
    session = ArenaBoundSession(inner, max_ids=100)
    session.run(None, feed(80))
    session.run(None, feed(400))
    session.run(None, feed(400))
    assert inner.options[0] is None
    shrink = inner.options[1]
    assert shrink is not None and shrink is inner.options[2]  # made once
    assert shrink.get_run_config_entry("memory.enable_memory_arena_shrinkage") == "cpu:0"
    assert session.shrinks == 2
    given = object()
    session.run(None, feed(400), given)  # the caller's own options win
    assert inner.options[3] is given
    assert session.providers == ["CPUExecutionProvider"]  # everything else is the session's
