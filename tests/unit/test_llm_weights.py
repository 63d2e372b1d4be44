"""Which GGUF file llama.cpp runs: as shipped, or a Q8_0 copy made once in the cache directory."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from voxloop.engines.llm import weights
from voxloop.engines.llm.weights import model_cache_dir, prepared_weights
from voxloop.errors import BackendUnavailable, InvalidRequest


@pytest.fixture
def model(tmp_path: Path) -> Path:
    path = tmp_path / "model.Q4_1.gguf"
    path.write_bytes(b"GGUF shipped")
    return path


@pytest.fixture
def conversions(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    made: list[Path] = []

    def fake(src: Path, target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(b"GGUF q8_0 of " + src.read_bytes())
        made.append(target)

    monkeypatch.setattr(weights, "_quantize", fake)
    return made


def test_as_is_and_a_users_own_model_run_as_shipped(model: Path, tmp_path: Path, conversions: list[Path]) -> None:
    cache = tmp_path / "cache"
    assert prepared_weights(model, "as-is", embedded=True, cache_dir=cache) == model
    assert prepared_weights(model, "auto", embedded=False, cache_dir=cache) == model
    assert conversions == [] and not cache.exists()


def test_the_embedded_model_runs_as_a_q8_0_copy_made_once(model: Path, tmp_path: Path,
                                                          conversions: list[Path]) -> None:
    cache = tmp_path / "cache"
    first = prepared_weights(model, "auto", embedded=True, cache_dir=cache)
    assert first.parent == cache and first.name.startswith("model.Q4_1.") and first.name.endswith(".Q8_0.gguf")
    assert first.read_bytes() == b"GGUF q8_0 of GGUF shipped"
    assert prepared_weights(model, "auto", embedded=True, cache_dir=cache) == first
    assert prepared_weights(model, "q8_0", embedded=False, cache_dir=cache) == first  # forced, same copy
    assert conversions == [first]


def test_a_changed_source_gets_a_new_copy(model: Path, tmp_path: Path, conversions: list[Path]) -> None:
    cache = tmp_path / "cache"
    first = prepared_weights(model, "q8_0", embedded=False, cache_dir=cache)
    model.write_bytes(b"GGUF retrained, longer")
    second = prepared_weights(model, "q8_0", embedded=False, cache_dir=cache)
    assert second != first and len(conversions) == 2


def test_the_same_model_in_two_environments_shares_one_copy(model: Path, tmp_path: Path,
                                                              conversions: list[Path]) -> None:
    other = tmp_path / "other-venv" / model.name
    other.parent.mkdir()
    other.write_bytes(model.read_bytes())
    cache = tmp_path / "cache"
    assert prepared_weights(model, "auto", embedded=True, cache_dir=cache) == \
        prepared_weights(other, "auto", embedded=True, cache_dir=cache)
    assert len(conversions) == 1


def test_a_failed_conversion_runs_the_file_as_shipped(model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    def broken(src: Path, target: Path) -> None:
        raise BackendUnavailable("llama.cpp could not re-quantize it")

    monkeypatch.setattr(weights, "_quantize", broken)
    with caplog.at_level(logging.WARNING):
        assert prepared_weights(model, "auto", embedded=True, cache_dir=tmp_path / "c") == model
    assert "running it as it is" in caplog.text


def test_an_unwritable_cache_runs_the_file_as_shipped(model: Path, tmp_path: Path) -> None:
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("")  # mkdir under it fails (as a read-only or full disk would)
    assert prepared_weights(model, "auto", embedded=True, cache_dir=blocked / "models") == model


def test_unknown_weights_are_refused(model: Path, tmp_path: Path) -> None:
    with pytest.raises(InvalidRequest, match="auto, q8_0, as-is"):
        prepared_weights(model, "q2", embedded=True, cache_dir=tmp_path)


def test_cache_directory_follows_xdg() -> None:
    assert model_cache_dir({"XDG_CACHE_HOME": "/c", "HOME": "/h"}) == Path("/c/voxloop/models")
    assert model_cache_dir({"XDG_CACHE_HOME": "relative", "HOME": "/h"}) == Path("/h/.cache/voxloop/models")
    assert model_cache_dir({"HOME": "/h"}) == Path("/h/.cache/voxloop/models")
