"""Small asyncio helpers: named tasks, cancelling with a timeout, the loop clock."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["cancel_and_wait", "create_named_task", "now"]

logger = logging.getLogger(__name__)
T = TypeVar("T")


def _log_failure(task: asyncio.Task[Any]) -> None:
    if task.cancelled():
        return
    exc = task.exception()
    if exc is not None:
        logger.error("task %s failed", task.get_name(), exc_info=exc)


def now() -> float:
    """The event loop's clock (monotonic seconds): sessions time everything with it, so tests
    can run them on a virtual clock. Outside a running loop, ``time.monotonic()``."""
    try:
        return asyncio.get_running_loop().time()
    except RuntimeError:
        return time.monotonic()


def create_named_task(coro: Coroutine[Any, Any, T], name: str) -> asyncio.Task[T]:
    """Create a task with a name and a done-callback that logs unexpected failures."""
    task = asyncio.get_running_loop().create_task(coro, name=name)
    task.add_done_callback(_log_failure)
    return task


async def cancel_and_wait(*tasks: asyncio.Task[Any] | None, timeout: float = 2.0) -> None:
    """Cancel tasks and wait (bounded) until they are really done."""
    pending = [t for t in tasks if t is not None and not t.done()]
    for t in pending:
        t.cancel()
    if not pending:
        return
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(asyncio.gather(*pending, return_exceptions=True), timeout)
