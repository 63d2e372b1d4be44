"""PiperTTS construction checks that need no voice model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from voxloop.engines.tts.piper import PiperTTS
from voxloop.errors import BackendUnavailable, InvalidRequest


def test_voice_config_gives_the_sample_rate(tmp_path: Path) -> None:
    model = tmp_path / "xx_XX-test-low.onnx"
    model.write_bytes(b"not a model")
    (tmp_path / "xx_XX-test-low.onnx.json").write_text(json.dumps({"audio": {"sample_rate": 16000}}))
    tts = PiperTTS(str(model), workers=2, threads=1)
    assert tts.sample_rate == 16000 and tts.capabilities.sample_rate == 16000
    assert tts.describe()["voice"] == "xx_XX-test-low"
    with pytest.raises(BackendUnavailable):
        tts.prewarm()  # not a real ONNX model


def test_missing_config_or_model(tmp_path: Path) -> None:
    with pytest.raises(BackendUnavailable, match="beside the .onnx"):
        PiperTTS(str(tmp_path / "nothing.onnx"))
    with pytest.raises(InvalidRequest):
        PiperTTS(workers=0)


def test_threads_are_split_between_workers() -> None:
    assert PiperTTS(workers=64).threads == 1
    assert PiperTTS(workers=1, threads=3).threads == 3
