"""A virtual clock for asyncio tests: sleeps and timeouts take no real time.

:class:`VirtualTimeLoop` is a selector event loop whose ``time()`` is virtual: whenever nothing
is ready to run, it jumps straight to the next timer instead of waiting. Run blocking work
inline (:class:`InlineExecutor`) so no real thread can race the clock. Timing in such tests is
deterministic: "1 s of audio fed at real time" takes microseconds and always behaves the same.
"""

from __future__ import annotations

import asyncio
import selectors
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any

__all__ = ["InlineExecutor", "VirtualTimeLoop", "VirtualTimePolicy"]


class _Selector(selectors.BaseSelector):
    def __init__(self, loop: VirtualTimeLoop) -> None:
        self._real = selectors.DefaultSelector()
        self._loop = loop

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._real.register(fileobj, events, data)

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        return self._real.unregister(fileobj)

    def modify(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._real.modify(fileobj, events, data)

    def get_map(self) -> Any:
        return self._real.get_map()

    def close(self) -> None:
        self._real.close()

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready = self._real.select(0)
        if ready:
            return ready
        if timeout is None:  # nothing scheduled at all: only a real thread could wake us
            ready = self._real.select(10.0)
            if not ready:
                raise RuntimeError("virtual-time loop is idle with nothing scheduled (deadlock)")
            return ready
        self._loop.advance(timeout)
        return []


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    def __init__(self) -> None:
        self._virtual = time.monotonic()  # start at a realistic value
        super().__init__(selector=_Selector(self))

    def time(self) -> float:
        return self._virtual

    def advance(self, seconds: float) -> None:
        self._virtual += max(0.0, seconds)


class VirtualTimePolicy(asyncio.DefaultEventLoopPolicy):
    def new_event_loop(self) -> asyncio.AbstractEventLoop:
        return VirtualTimeLoop()


class InlineExecutor(Executor):
    """Runs each submitted call at once, in the calling thread."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as e:  # noqa: BLE001 - delivered through the future
            future.set_exception(e)
        return future
