"""The engines' executor: waiting jobs by the submitting context's priority, FIFO within one;
the REST speech input cut into sentences (its units of background work)."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Future

import pytest

from voxloop.engines.executor import PRIORITY, PriorityExecutor
from voxloop.engines.types import PRIORITY_BACKGROUND, PRIORITY_CONTINUATION, PRIORITY_LIVE
from voxloop.server.rest_speech import sentences


def test_waiting_jobs_run_by_priority_then_in_order() -> None:
    ex = PriorityExecutor(1)
    gate, running, order = threading.Event(), threading.Event(), []
    ex.submit(lambda: running.set() or gate.wait())  # holds the only thread
    assert running.wait(5)
    futures = []
    for name, priority in (("rest-1", PRIORITY_BACKGROUND), ("clause-2", PRIORITY_CONTINUATION),
                           ("rest-2", PRIORITY_BACKGROUND), ("first-clause", PRIORITY_LIVE)):
        token = PRIORITY.set(priority)
        futures.append(ex.submit(order.append, name))
        PRIORITY.reset(token)
    assert ex.queued == 4
    gate.set()
    for f in futures:
        f.result(5)
    assert order == ["first-clause", "clause-2", "rest-1", "rest-2"]
    ex.shutdown()


def _at(priority: int, ex: PriorityExecutor, fn: object, *args: object) -> Future[object]:
    token = PRIORITY.set(priority)
    try:
        return ex.submit(fn, *args)  # type: ignore[arg-type]
    finally:
        PRIORITY.reset(token)


def test_a_reserved_thread_takes_live_jobs_only() -> None:
    ex = PriorityExecutor(1, reserved=1)
    gate, running = threading.Event(), threading.Event()
    hold = _at(PRIORITY_CONTINUATION, ex, lambda: running.set() or gate.wait())  # the general thread
    assert running.wait(5)
    later = _at(PRIORITY_CONTINUATION, ex, lambda: "later clause")
    rest = _at(PRIORITY_BACKGROUND, ex, lambda: "upload")
    # a first clause does not wait for the running continuation
    assert _at(PRIORITY_LIVE, ex, lambda: threading.current_thread().name).result(5).endswith("live_0")
    assert _at(PRIORITY_LIVE, ex, lambda: "again").result(5) == "again"
    assert not later.done() and not rest.done() and ex.queued == 2  # never on the reserved thread
    gate.set()
    assert hold.result(5) and later.result(5) == "later clause" and rest.result(5) == "upload"
    ex.shutdown()


def test_without_reserved_threads_a_live_job_waits_for_a_running_one() -> None:
    ex = PriorityExecutor(1)
    gate, running = threading.Event(), threading.Event()
    _at(PRIORITY_CONTINUATION, ex, lambda: running.set() or gate.wait())
    assert running.wait(5)
    live = _at(PRIORITY_LIVE, ex, lambda: "first clause")
    assert not live.done()
    gate.set()
    assert live.result(5) == "first clause"
    ex.shutdown()


def test_results_errors_cancel_and_shutdown() -> None:
    ex = PriorityExecutor(2)
    assert ex.submit(lambda a, b: a + b, 2, b=3).result(5) == 5
    with pytest.raises(ZeroDivisionError):
        ex.submit(lambda: 1 / 0).result(5)
    gate = threading.Event()
    ex.submit(gate.wait), ex.submit(gate.wait)
    waiting = ex.submit(lambda: "never")
    ex.shutdown(wait=False, cancel_futures=True)
    assert waiting.cancelled()
    gate.set()
    with pytest.raises(RuntimeError):
        ex.submit(lambda: None)


async def test_asyncio_run_in_executor_takes_the_task_priority() -> None:
    ex = PriorityExecutor(1)
    gate, order = threading.Event(), []
    loop = asyncio.get_running_loop()
    hold = loop.run_in_executor(ex, gate.wait)

    async def job(name: str, priority: int) -> None:
        PRIORITY.set(priority)  # this task's context only
        await loop.run_in_executor(ex, order.append, name)

    tasks = [asyncio.create_task(job("upload", PRIORITY_BACKGROUND)), asyncio.create_task(job("live", PRIORITY_LIVE))]
    await asyncio.sleep(0.05)
    gate.set()
    await asyncio.gather(hold, *tasks)
    assert order == ["live", "upload"] and PRIORITY.get() == PRIORITY_LIVE
    ex.shutdown()


def test_speech_input_in_sentences() -> None:
    assert sentences("Hello there. How are you?  Fine!") == ["Hello there.", "How are you?", "Fine!"]
    long = "word " * 200
    pieces = sentences(long)
    assert all(len(p) <= 400 for p in pieces) and " ".join(pieces).split() == long.split()
    assert sentences("   ") == []
