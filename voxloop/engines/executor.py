"""Every engine's executor: a bounded thread pool whose queue is ordered by priority.

A job's priority is that of the context that submits it (:data:`PRIORITY`, a context variable):
a task sets it once — ``PRIORITY.set(PRIORITY_BACKGROUND)`` for a REST upload, a later clause of a
reply at ``PRIORITY_CONTINUATION`` — and every inference it starts queues accordingly, first come
first served within a priority. Only waiting jobs are ordered: a job that runs is never
interrupted, so long work should be submitted in pieces (a clause, a chunk of audio).

Because a running job is not interrupted, a live job can still wait for a whole continuation
clause when every thread holds one. ``reserved`` threads beyond ``max_workers`` take live jobs
only (priority ``PRIORITY_LIVE``): the first clause of a reply never queues behind later clauses
of other replies. They sleep while no live job waits, so they cost no CPU then.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future
from contextvars import ContextVar
from typing import Any, TypeVar

from voxloop.engines.types import PRIORITY_LIVE

__all__ = ["PRIORITY", "PriorityExecutor"]

T = TypeVar("T")
PRIORITY: ContextVar[int] = ContextVar("voxloop_priority", default=PRIORITY_LIVE)


class PriorityExecutor(Executor):
    def __init__(self, max_workers: int, thread_name_prefix: str = "engine", *, reserved: int = 0) -> None:
        self.max_workers = max(1, max_workers)
        self.reserved = max(0, reserved)
        self._prefix = thread_name_prefix
        self._jobs: list[tuple[float, int, Any]] = []  # a heap: (priority, arrival, job)
        self._seq = itertools.count()
        self._threads: list[threading.Thread] = []
        self._reserved_threads: list[threading.Thread] = []
        self._idle = 0  # general threads waiting for a job (all counted under the lock: no race)
        self._idle_reserved = 0  # reserved threads waiting for a live job
        self._cond = threading.Condition()
        self._shutdown = False

    @property
    def queued(self) -> int:
        """Jobs waiting for a thread."""
        with self._cond:
            return len(self._jobs)

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        future: Future[T] = Future()
        with self._cond:
            if self._shutdown:
                raise RuntimeError("cannot schedule new work after shutdown")
            priority = PRIORITY.get()
            heapq.heappush(self._jobs, (priority, next(self._seq), (future, fn, args, kwargs)))
            if len(self._jobs) > self._idle and len(self._threads) < self.max_workers:
                self._start(self._threads, reserved=False)
            elif (priority <= PRIORITY_LIVE and len(self._jobs) > self._idle + self._idle_reserved
                  and len(self._reserved_threads) < self.reserved):
                self._start(self._reserved_threads, reserved=True)
            # every waiter re-checks: a reserved thread may not take what a general one would
            if self._reserved_threads:
                self._cond.notify_all()
            else:
                self._cond.notify()
        return future

    def _start(self, threads: list[threading.Thread], *, reserved: bool) -> None:
        name = f"{self._prefix}_{'live_' if reserved else ''}{len(threads)}"
        t = threading.Thread(target=self._work, args=(reserved,), name=name, daemon=True)
        threads.append(t)
        if reserved:
            self._idle_reserved += 1  # it takes a job as soon as it runs
        else:
            self._idle += 1
        t.start()

    def _takes(self, reserved: bool) -> bool:
        return bool(self._jobs) and (not reserved or self._jobs[0][0] <= PRIORITY_LIVE)

    def _next(self, reserved: bool) -> Any:
        with self._cond:
            while not self._takes(reserved):
                if self._shutdown:
                    return None
                self._cond.wait()
            if reserved:
                self._idle_reserved -= 1
            else:
                self._idle -= 1
            return heapq.heappop(self._jobs)[2]

    def _work(self, reserved: bool) -> None:
        while (job := self._next(reserved)) is not None:
            future, fn, args, kwargs = job
            if future.set_running_or_notify_cancel():
                try:
                    result = fn(*args, **kwargs)
                except BaseException as e:  # noqa: BLE001 - handed to the waiting side
                    future.set_exception(e)
                else:
                    future.set_result(result)
            del job, future, fn, args, kwargs
            with self._cond:
                if reserved:
                    self._idle_reserved += 1
                else:
                    self._idle += 1

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._cond:
            self._shutdown = True
            threads = self._threads + self._reserved_threads
            if cancel_futures:
                for _, _, job in self._jobs:
                    job[0].cancel()
                self._jobs.clear()
            self._cond.notify_all()
        if wait:
            for t in threads:
                t.join()
