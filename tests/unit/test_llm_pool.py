"""The llama.cpp instance pool: a live reply before background work, first come first served
within a priority, and a request cancelled while it waits leaves the queue."""

from __future__ import annotations

import threading
import time

import pytest

from voxloop.engines.llm.llama_pool import Pool, Slot
from voxloop.engines.types import PRIORITY_BACKGROUND, PRIORITY_LIVE
from voxloop.errors import OverloadedError


def wait_until(pred, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_live_before_background_then_in_order() -> None:
    pool = Pool([Slot("only")])
    held = pool.acquire((("user", "a"),))
    assert held is not None
    order: list[str] = []
    waits: list[int] = []
    pool.on_wait = lambda s, p: waits.append(p)

    def request(name: str, priority: int) -> None:
        slot = pool.acquire((("user", name),), priority)
        assert slot is not None
        order.append(name)
        pool.release(slot, ())

    threads = []
    for name, priority in (("summary", PRIORITY_BACKGROUND), ("live-1", PRIORITY_LIVE), ("live-2", PRIORITY_LIVE)):
        t = threading.Thread(target=request, args=(name, priority))
        t.start()
        threads.append(t)
        wait_until(lambda n=len(threads): pool.queued == n)  # type: ignore[misc]
    pool.release(held, ())
    for t in threads:
        t.join(5)
    assert order == ["live-1", "live-2", "summary"]
    assert sorted(waits) == [PRIORITY_LIVE, PRIORITY_LIVE, PRIORITY_BACKGROUND]
    assert pool.queued == 0 and pool.idle == 1


def test_a_request_stopped_while_queued_leaves_without_an_instance() -> None:
    pool = Pool([Slot("only")])
    held = pool.acquire(())
    stop = threading.Event()
    got: list[object] = []
    t = threading.Thread(target=lambda: got.append(pool.acquire((), PRIORITY_LIVE, stop)))
    t.start()
    wait_until(lambda: pool.queued == 1)
    stop.set()  # a barge-in cancelled the reply
    t.join(5)
    assert got == [None] and pool.queued == 0
    assert held is not None
    pool.release(held, ())
    assert pool.acquire((), PRIORITY_BACKGROUND) is held  # the queue is not stuck behind the stopped one


def test_two_instances_serve_two_waiters_at_once() -> None:
    a, b = Slot("a"), Slot("b")
    pool = Pool([a, b])
    first, second = pool.acquire(()), pool.acquire(())
    assert {first, second} == {a, b}
    got: list[object] = []
    ts = [threading.Thread(target=lambda: got.append(pool.acquire(()))) for _ in range(2)]
    for t in ts:
        t.start()
    wait_until(lambda: pool.queued == 2)
    assert first is not None and second is not None
    pool.release(first, ())
    pool.release(second, ())
    for t in ts:
        t.join(5)
    assert sorted(s.llama for s in got) == ["a", "b"]  # type: ignore[attr-defined]


def test_past_max_waiting_a_request_is_refused_as_server_busy() -> None:
    pool = Pool([Slot("only")], max_waiting=1)
    held = pool.acquire(())
    stop = threading.Event()
    t = threading.Thread(target=lambda: pool.acquire((), PRIORITY_LIVE, stop))
    t.start()
    wait_until(lambda: pool.queued == 1)
    with pytest.raises(OverloadedError) as info:
        pool.acquire((), PRIORITY_LIVE)
    assert info.value.code == "server_busy" and info.value.retryable
    stop.set()
    t.join(5)
    assert held is not None
    pool.release(held, ())
