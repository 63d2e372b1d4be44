"""The bridge from blocking iterators (on an engine's executor) to async iterators."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import Executor
from typing import Any, TypeVar

__all__ = ["iterate_in_thread"]

T = TypeVar("T")


async def iterate_in_thread(
    factory: Callable[[], Iterator[T]],
    executor: Executor,
    stop: threading.Event | None = None,
    max_buffer: int = 64,
) -> AsyncIterator[T]:
    """Drive a blocking iterator on ``executor`` and yield its items on the event loop.

    Closing the async generator (or cancelling its consumer) sets ``stop``; the worker
    checks it between items and returns, so the blocking producer really stops.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
    stop = stop or threading.Event()
    room = threading.Semaphore(max_buffer)

    def put(kind: str, value: Any) -> None:
        with contextlib.suppress(RuntimeError):  # loop closed
            loop.call_soon_threadsafe(queue.put_nowait, (kind, value))

    def work() -> None:
        try:
            it = factory()
            try:
                for item in it:
                    while not room.acquire(timeout=0.05):
                        if stop.is_set():
                            return
                    if stop.is_set():
                        return
                    put("item", item)
                    if stop.is_set():
                        return
            finally:
                close = getattr(it, "close", None)
                if close is not None:
                    close()
        except BaseException as e:  # noqa: BLE001 - forwarded to the consumer
            put("error", e)
        finally:
            put("end", None)

    future = loop.run_in_executor(executor, work)
    try:
        while True:
            kind, value = await queue.get()
            if kind == "item":
                room.release()
                yield value
            elif kind == "error":
                raise value
            else:
                break
    finally:
        # The worker sees this between items and returns; we do not wait for it here so
        # that a barge-in never waits on the tail of a blocking call.
        stop.set()
        future.add_done_callback(lambda f: f.cancelled() or f.exception())
