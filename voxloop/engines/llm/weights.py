"""The GGUF weights llama.cpp runs: a model's file as shipped, or a Q8_0 copy made once, locally.

The embedded SmolLM2-135M ships as Q4_1, a type for which llama.cpp's CPU backend has no fast
matrix-multiply path: reading a prompt costs ~6-8 ms a token on one core, barely twice a
generated token. Q8_0 has one (llama.cpp's tiled Q8_0 kernels, in portable builds too): with an f16 KV cache a cold prompt reads 1.6-1.9x faster and tokens generate no
slower (``bench/results/llm-weights.md``). Re-quantizing Q4_1 to Q8_0 keeps each value to 1/254
of its block's range (a 17th of a Q4_1 step): perplexity 27.04 against 26.86 for the same weights
held exactly in F16 and 26.69 for the Q4_1 kernels (a Q4_0 copy: 31.9). It costs ~1 s and ~145 MB
of disk, and is done once: the copy lives in the user's cache directory
(``$XDG_CACHE_HOME/voxloop/models``, else ``~/.cache/voxloop/models``), named after a fingerprint
of the source file's content, so a changed source makes a new copy and the same model installed
in several environments shares one. Nothing is downloaded.

``weights`` is ``auto`` (re-quantize the embedded model, run any other GGUF as it is: a user's
own 1-8B model in Q4_K_M has fast kernels already and would double in size), ``q8_0`` (re-quantize
whatever the model is) or ``as-is``.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

from voxloop.errors import BackendUnavailable, InvalidRequest

__all__ = ["WEIGHTS", "model_cache_dir", "prepared_weights"]

logger = logging.getLogger(__name__)
WEIGHTS = ("auto", "q8_0", "as-is")


def model_cache_dir(env: Mapping[str, str]) -> Path:
    """``$XDG_CACHE_HOME/voxloop/models``, else ``~/.cache/voxloop/models`` (derived files only:
    deleting the directory costs a re-quantization at the next start, nothing else)."""
    cache = env.get("XDG_CACHE_HOME", "")
    if cache and Path(cache).is_absolute():
        return Path(cache) / "voxloop" / "models"
    return Path(env.get("HOME") or Path.home()) / ".cache" / "voxloop" / "models"


def prepared_weights(path: Path, weights: str, *, embedded: bool, cache_dir: Path) -> Path:
    """The file to load for ``path``: itself, or its Q8_0 copy (made now if missing)."""
    if weights not in WEIGHTS:
        raise InvalidRequest(f"llm weights must be one of {', '.join(WEIGHTS)}, not {weights!r}", param="weights")
    if weights == "as-is" or (weights == "auto" and not embedded):
        return path
    target = cache_dir / f"{path.stem}.{_fingerprint(path)}.Q8_0.gguf"
    if target.is_file():
        return target
    try:
        _quantize(path, target)
    except (OSError, BackendUnavailable) as e:  # a read-only cache, a full disk: run the file as shipped
        logger.warning("could not make a Q8_0 copy of %s (%s); running it as it is (prompts read ~2x slower)",
                       path.name, e)
        return path
    logger.info("made a Q8_0 copy of %s (prompts read ~2x faster): %s", path.name, target)
    return target


def _fingerprint(path: Path, span: int = 1 << 20) -> str:
    """The file's size and its first and last MiB, hashed: the same model installed in several
    environments shares one copy, and a changed file gets a new one, without reading it all."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        size = f.seek(0, os.SEEK_END)
        h.update(str(size).encode())
        f.seek(0)
        h.update(f.read(span))
        f.seek(max(0, size - span))
        h.update(f.read(span))
    return h.hexdigest()[:16]


def _quantize(src: Path, target: Path, ftype: str = "Q8_0") -> None:
    """Write ``src`` re-quantized to ``ftype`` (a llama.cpp ``LLAMA_FTYPE_MOSTLY_*`` name) as ``target``."""
    import llama_cpp
    from llama_cpp import _logger

    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=target.name + ".", suffix=".part", dir=target.parent)
    os.close(fd)
    try:
        _logger.set_verbose(False)  # llama.cpp logs a line per tensor
        params = llama_cpp.llama_model_quantize_default_params()
        params.ftype = getattr(llama_cpp, f"LLAMA_FTYPE_MOSTLY_{ftype}")
        params.allow_requantize = True
        params.nthread = max(1, min(4, os.cpu_count() or 1))
        if llama_cpp.llama_model_quantize(str(src).encode(), tmp.encode(), params) != 0:
            raise BackendUnavailable(f"llama.cpp could not re-quantize {src}")
        os.chmod(tmp, 0o644)  # mkstemp makes it 0600
        os.replace(tmp, target)  # atomic: a concurrent start sees the whole file or none
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
