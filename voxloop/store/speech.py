"""The disk level of the speech cache (``voxloop.engines.tts.cache``): one file per phrase.

Files are ``<key>.pcm`` (16-bit mono PCM at the engine's rate; the rate is part of the key)
in one directory, bounded in bytes: when a write takes the total past the bound, the least
recently used files go (a hit refreshes a file's modification time). Files are written to a
temporary name and renamed, so a crash or a second server on the same directory never leaves a
torn file; an unreadable file is a miss. Thread-safe within a process.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DiskSpeechCache", "DiskStats"]

logger = logging.getLogger(__name__)
SUFFIX = ".pcm"


@dataclass(frozen=True, slots=True)
class DiskStats:
    directory: str
    files: int
    bytes: int
    max_bytes: int


class DiskSpeechCache:
    def __init__(self, directory: str | Path, max_bytes: int) -> None:
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._bytes: int | None = None  # total on disk, counted on first use

    def _path(self, key: str) -> Path:
        if not key.isalnum():
            raise ValueError(f"bad speech cache key {key!r}")
        return self.directory / f"{key}{SUFFIX}"

    def get(self, key: str) -> bytes | None:
        path = self._path(key)
        try:
            data = path.read_bytes()
            os.utime(path)  # recently used
        except OSError:
            return None
        return data if len(data) % 2 == 0 and data else None

    def put(self, key: str, data: bytes) -> None:
        if len(data) > self.max_bytes:
            return
        path = self._path(key)
        tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            old = path.stat().st_size if path.exists() else 0
            tmp.write_bytes(data)
            os.replace(tmp, path)
        except OSError as e:  # a full or read-only disk costs the cache, not the reply
            logger.warning("speech cache: cannot write %s: %s", path, e)
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
            return
        with self._lock:
            total = self._total() - old + len(data)
            self._bytes = total
            if total > self.max_bytes:
                self._evict()

    def _files(self) -> list[tuple[float, int, Path]]:
        out = []
        try:
            entries = list(os.scandir(self.directory))
        except OSError:
            return []
        for entry in entries:
            if entry.name.endswith(SUFFIX):
                try:
                    st = entry.stat()
                except OSError:
                    continue
                out.append((st.st_mtime, st.st_size, Path(entry.path)))
        return out

    def _total(self) -> int:
        if self._bytes is None:
            self._bytes = sum(size for _, size, _ in self._files())
        return self._bytes

    def _evict(self) -> None:
        """Down to 90 % of the bound, oldest first (so a full cache is not swept on every write)."""
        files = sorted(self._files())
        total = sum(size for _, size, _ in files)
        target = int(0.9 * self.max_bytes)
        for _, size, path in files:
            if total <= target:
                break
            path.unlink(missing_ok=True)
            total -= size
        self._bytes = total

    def stats(self) -> DiskStats:
        files = self._files()
        return DiskStats(str(self.directory), len(files), sum(size for _, size, _ in files), self.max_bytes)

    def clear(self) -> int:
        """Delete every cached phrase; returns how many files went."""
        n = 0
        with self._lock:
            for _, _, path in self._files():
                path.unlink(missing_ok=True)
                n += 1
            self._bytes = 0
        return n

