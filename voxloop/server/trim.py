"""Heap memory handed back to the system after large work (docs/security.md, "Memory under
hostile load").

Under the fuzz traffic of ``bench/fuzz_memory.py`` the Python objects of the server stayed flat
while its RSS grew by a tenth: glibc's allocator keeps the blocks freed after big requests
(uploads, long speech, 1 MiB messages) in its arenas, and ``malloc_trim(0)`` gives them back. It
takes ~16 ms, so it runs on the loop's default executor (not awaited: nobody waits for it), at
most every ``min_interval_s``, when a REST job or a realtime session ends. Without glibc (macOS,
musl) it does nothing.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import sys
import time
from collections.abc import Callable
from types import TracebackType

__all__ = ["Lane", "Trimmer", "glibc_trim"]

logger = logging.getLogger(__name__)


def glibc_trim() -> Callable[[], object] | None:
    """``malloc_trim(0)`` of this process's glibc, or None where there is none."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return lambda: trim(0)


class Trimmer:
    """Calls ``trim`` after large work, at most once every ``min_interval_s``."""

    def __init__(self, trim: Callable[[], object] | None = None, *, min_interval_s: float = 2.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._trim = trim
        self._clock = clock
        self.min_interval_s = min_interval_s
        self._last = float("-inf")
        self.trims = 0

    @classmethod
    def for_this_process(cls) -> Trimmer:
        return cls(glibc_trim())

    def after_large_work(self) -> None:
        """Trim in a worker thread if the last trim is ``min_interval_s`` old (returns at once)."""
        if self._trim is None or self._clock() - self._last < self.min_interval_s:
            return
        self._last = self._clock()
        self.trims += 1
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop: do it here
            self._trim()
            return
        loop.run_in_executor(None, self._trim).add_done_callback(_log_failure)


def _log_failure(done: asyncio.Future[object]) -> None:
    if not done.cancelled() and done.exception() is not None:
        logger.debug("malloc_trim failed: %s", done.exception())


class Lane:
    """REST's share of the engines: ``jobs`` at a time (live conversations keep the rest), the
    memory of each job handed back when it ends."""

    def __init__(self, jobs: int, trimmer: Trimmer) -> None:
        self._slots = asyncio.Semaphore(jobs)
        self._trimmer = trimmer

    async def acquire(self) -> None:
        await self._slots.acquire()

    def release(self) -> None:
        self._slots.release()

    def locked(self) -> bool:
        return self._slots.locked()

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        self.release()
        self._trimmer.after_large_work()
