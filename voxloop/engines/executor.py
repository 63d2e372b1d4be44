"""Every engine's executor: a bounded thread pool whose queue is ordered by priority.

A job's priority is that of the context that submits it (:data:`PRIORITY`, a context variable):
a task sets it once — ``PRIORITY.set(PRIORITY_BACKGROUND)`` for a REST upload, a later clause of a
reply at ``PRIORITY_CONTINUATION`` — and every inference it starts queues accordingly, first come
first served within a priority. Only waiting jobs are ordered: a job that runs is never
interrupted, so long work should be submitted in pieces (a clause, a chunk of audio).
"""

from __future__ import annotations

import itertools
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future
from contextvars import ContextVar
from typing import Any, TypeVar

from voxloop.engines.types import PRIORITY_LIVE

__all__ = ["PRIORITY", "PriorityExecutor"]

T = TypeVar("T")
PRIORITY: ContextVar[int] = ContextVar("voxloop_priority", default=PRIORITY_LIVE)
_STOP = float("inf")  # a worker's sentinel sorts after every job


class PriorityExecutor(Executor):
    def __init__(self, max_workers: int, thread_name_prefix: str = "engine") -> None:
        self.max_workers = max(1, max_workers)
        self._prefix = thread_name_prefix
        self._queue: queue.PriorityQueue[tuple[float, int, Any]] = queue.PriorityQueue()
        self._seq = itertools.count()
        self._threads: list[threading.Thread] = []
        self._idle = 0
        self._lock = threading.Lock()
        self._shutdown = False

    @property
    def queued(self) -> int:
        """Jobs waiting for a thread."""
        return max(0, self._queue.qsize() - self._idle)

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        future: Future[T] = Future()
        with self._lock:
            if self._shutdown:
                raise RuntimeError("cannot schedule new work after shutdown")
            self._queue.put((PRIORITY.get(), next(self._seq), (future, fn, args, kwargs)))
            if self._queue.qsize() > self._idle and len(self._threads) < self.max_workers:
                t = threading.Thread(target=self._work, name=f"{self._prefix}_{len(self._threads)}", daemon=True)
                self._threads.append(t)
                t.start()
        return future

    def _work(self) -> None:
        while True:
            with self._lock:
                self._idle += 1
            _, _, job = self._queue.get()
            with self._lock:
                self._idle -= 1
            if job is None:
                return
            future, fn, args, kwargs = job
            if not future.set_running_or_notify_cancel():
                continue
            try:
                result = fn(*args, **kwargs)
            except BaseException as e:  # noqa: BLE001 - handed to the waiting side
                future.set_exception(e)
            else:
                future.set_result(result)
            del job, future, fn, args, kwargs

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            self._shutdown = True
            threads = list(self._threads)
        if cancel_futures:
            while True:
                try:
                    _, _, job = self._queue.get_nowait()
                except queue.Empty:
                    break
                if job is not None:
                    job[0].cancel()
        for _ in threads:
            self._queue.put((_STOP, next(self._seq), None))
        if wait:
            for t in threads:
                t.join()
