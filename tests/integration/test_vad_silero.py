"""Silero scores all windows of one push in one ONNX Runtime call: the same as one call each."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("faster_whisper")

from voxloop.engines.vad.silero import _CONTEXT, SileroVAD, _State  # noqa: E402

pytestmark = pytest.mark.models


def _one_by_one(vad: SileroVAD, state: _State, chunks: np.ndarray) -> list[float]:
    out = []
    for chunk in chunks:
        x = np.concatenate([state.context, chunk])[None, :]
        probs, state.h, state.c = vad._session.run(None, {"input": x, "h": state.h, "c": state.c})
        state.context = chunk[-_CONTEXT:]
        out.append(float(np.asarray(probs).reshape(-1)[0]))
    return out


def _speechlike(seconds: float) -> np.ndarray:
    rng = np.random.default_rng(3)
    t = np.arange(int(16000 * seconds)) / 16000
    voiced = (np.sin(2 * np.pi * 150 * t) + 0.5 * np.sin(2 * np.pi * 300 * t)) * (np.sin(2 * np.pi * 2 * t) > 0)
    return (0.3 * voiced + 0.01 * rng.standard_normal(len(t))).astype(np.float32)


def test_pushes_of_several_windows_score_as_one_window_at_a_time() -> None:
    vad = SileroVAD()
    vad.prewarm()
    x = _speechlike(3.0)
    n = len(x) // 512
    chunks = x[: n * 512].reshape(n, 512)
    ref_state, state = _State(), _State()
    expected = _one_by_one(vad, ref_state, chunks)
    got: list[float] = []
    start = 0
    for size in [1, 3, 3, 7, 0, 2, 3, 30, 3, 100]:  # pushes of uneven sizes (the last one runs out)
        got += vad._score(state, chunks[start : start + size])
        start += size
    assert len(got) == len(expected) == n
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)
    np.testing.assert_allclose(state.h, ref_state.h, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(state.context, ref_state.context)
    assert max(expected) > 0.5 > min(expected)  # the signal has speech-like and silent parts


def test_whole_file_probabilities_match_streaming() -> None:
    vad = SileroVAD()
    x = _speechlike(2.0)
    n = len(x) // 512
    probs = vad.speech_probabilities(x)
    vad.prewarm()
    expected = _one_by_one(vad, _State(), x[: n * 512].reshape(n, 512))
    np.testing.assert_allclose(probs, expected, rtol=0, atol=1e-6)
