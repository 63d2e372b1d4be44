"""The llama.cpp engine's instances, handed out one generation at a time: by priority, then
by cache affinity.

When every instance is busy, requests wait here, in order of ``LLMOptions.priority`` (a live
reply before background work such as summaries and cache warm-ups), first come first served
within a priority; past ``max_waiting`` waiting requests a new one is refused with the
retryable ``server_busy`` error. A request whose ``stop`` is set while it waits (a barge-in cancelled its
reply) leaves the queue without evaluating anything. A free instance goes to the request whose
conversation it has cached the most turns of (a follow-up, or a reply restarted after a
discarded speculative one); ties go to the least recently used instance, so the caches of
other active conversations survive.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from voxloop.engines.llm.tools import Turn
from voxloop.errors import OverloadedError

__all__ = ["QUEUE_THREADS", "Pool", "Slot"]

QUEUE_THREADS = 64  # extra executor threads: requests beyond the instances wait in the pool's queue
_POLL_S = 0.02  # how often a waiting request looks at its stop flag


@dataclass(eq=False, slots=True)
class Slot:
    llama: Any  # llama_cpp.Llama
    history: tuple[Turn, ...] = ()  # the conversation whose tokens are in its KV cache
    last_used: float = 0.0
    busy: bool = False


def _common_prefix(a: tuple[Turn, ...], b: tuple[Turn, ...]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def shared_turns(history: tuple[Turn, ...], conversation: tuple[Turn, ...]) -> int:
    """Turns of ``conversation`` already in ``history``'s cache, not counting the system prompt
    every conversation shares (a new conversation must not evict another one's cache)."""
    common = _common_prefix(history, conversation)
    system = next((i for i, (role, _) in enumerate(conversation) if role != "system"), len(conversation))
    return common if common > system else 0


class Pool:
    def __init__(self, slots: list[Slot], max_waiting: int = 0) -> None:
        self._slots = slots
        self.max_waiting = max_waiting or 4 * len(slots)
        self._cond = threading.Condition()
        self._waiting: list[tuple[int, int]] = []  # (priority, arrival): a heap
        self._seq = itertools.count()
        self.on_wait: Callable[[float, int], None] | None = None  # (seconds waited, priority)

    def any(self) -> Any:
        """An instance for read-only use (its vocabulary), busy or not."""
        return self._slots[0].llama

    @property
    def idle(self) -> int:
        with self._cond:
            return sum(not s.busy for s in self._slots)

    @property
    def queued(self) -> int:
        with self._cond:
            return len(self._waiting)

    def acquire(self, conversation: tuple[Turn, ...], priority: int = 0,
                stop: threading.Event | None = None) -> Slot | None:
        """An instance for ``conversation``; ``None`` if ``stop`` was set while waiting."""
        t0 = time.monotonic()
        with self._cond:
            if len(self._waiting) >= self.max_waiting:
                raise OverloadedError(f"the LLM is at capacity ({len(self._slots)} replies generating, "
                                      f"{len(self._waiting)} waiting); try again later")
            ticket = (priority, next(self._seq))
            heapq.heappush(self._waiting, ticket)
            try:
                while self._waiting[0] != ticket or all(s.busy for s in self._slots):
                    if stop is not None and stop.is_set():
                        return None
                    self._cond.wait(_POLL_S if stop is not None else None)
            finally:
                self._waiting.remove(ticket)
                heapq.heapify(self._waiting)
                self._cond.notify_all()  # a new head of the queue may take another free instance
            free = [s for s in self._slots if not s.busy]
            slot = max(free, key=lambda s: (shared_turns(s.history, conversation), -s.last_used))
            slot.busy = True
        if self.on_wait is not None:
            self.on_wait(time.monotonic() - t0, priority)
        return slot

    def release(self, slot: Slot, history: tuple[Turn, ...]) -> None:
        with self._cond:
            slot.history = history
            slot.last_used = time.monotonic()
            slot.busy = False
            self._cond.notify_all()
