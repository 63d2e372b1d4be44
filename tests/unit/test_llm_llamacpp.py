"""LlamaCppLLM's pool, cancellation and error mapping, with fake Llama objects (no model)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from voxloop.engines.llm.llama_pool import Pool as _Pool
from voxloop.engines.llm.llama_pool import Slot as _Slot
from voxloop.engines.llm.llamacpp import LlamaCppLLM
from voxloop.engines.streams import LLMStream
from voxloop.engines.types import ChatMessage, LLMOptions
from voxloop.errors import BackendError, BackendUnavailable, InvalidRequest


class FakeLlama:
    """Mimics ``Llama.create_chat_completion(stream=True)``: one chunk per token."""

    chat_format = "fake"

    def __init__(self, tokens: int = 2000, delay: float = 0.002, fail: Exception | None = None) -> None:
        self.tokens = tokens
        self.delay = delay
        self.fail = fail
        self.calls: list[tuple[list[dict[str, str]], dict[str, Any]]] = []
        self.produced = 0
        self.active = threading.Event()
        self.gate: threading.Semaphore | None = None  # when set, each token waits for a permit

    def create_chat_completion(self, messages: list[dict[str, str]], stream: bool, **kw: Any) -> Iterator[Any]:
        assert stream
        self.calls.append((messages, kw))

        def chunks() -> Iterator[dict[str, Any]]:
            self.active.set()
            try:
                if self.fail is not None:
                    raise self.fail
                yield {"choices": [{"delta": {"role": "assistant"}}]}
                for i in range(self.tokens):
                    if self.gate is not None:
                        assert self.gate.acquire(timeout=5), "test gate never opened"
                    time.sleep(self.delay)
                    self.produced += 1
                    yield {"choices": [{"delta": {"content": f"t{i} "}}]}
                yield {"choices": [{"delta": {}, "finish_reason": "stop"}]}
            finally:
                self.active.clear()

        return chunks()

    def tokenize(self, text: bytes, add_bos: bool = True, special: bool = False) -> list[int]:
        return list(range(len(text.split())))


class FakeLlamaLLM(LlamaCppLLM):
    def __init__(self, *fakes: FakeLlama) -> None:
        super().__init__(workers=len(fakes))
        self.fakes = fakes

    def _load(self) -> None:
        self._pool = _Pool([_Slot(f) for f in self.fakes])


CONVO = [ChatMessage("system", "Be brief."), ChatMessage("user", "Hi")]


async def test_streams_deltas_with_the_options() -> None:
    fake = FakeLlama(tokens=3)
    llm = FakeLlamaLLM(fake)
    stream = llm.chat(CONVO, LLMOptions(temperature=0.2, top_p=0.5, max_tokens=9, stop=("X",), seed=3))
    assert [d async for d in stream] == ["t0 ", "t1 ", "t2 "]
    messages, kw = fake.calls[0]
    assert messages == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    assert kw == {"temperature": 0.2, "top_p": 0.5, "max_tokens": 9, "stop": ["X"], "seed": 3, "repeat_penalty": 1.1}
    assert llm.idle_workers == 1


async def wait_idle(llm: LlamaCppLLM, fake: FakeLlama) -> None:
    for _ in range(100):
        if llm.idle_workers == llm.workers and not fake.active.is_set():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the worker never gave its instance back")


async def test_aclose_really_stops_generation_and_frees_the_instance() -> None:
    fake = FakeLlama()
    llm = FakeLlamaLLM(fake)
    stream = llm.chat(CONVO)
    got = []
    async for delta in stream:
        got.append(delta)
        if len(got) == 5:
            break
    await stream.aclose()
    await wait_idle(llm, fake)
    produced, counted = fake.produced, llm.tokens_generated
    assert produced < fake.tokens  # stopped long before the end
    await asyncio.sleep(0.1)
    assert (fake.produced, llm.tokens_generated) == (produced, counted)  # the worker thread is gone
    assert stream.tokens == 5


async def test_generation_stops_within_one_token_of_aclose() -> None:
    fake = FakeLlama()
    fake.gate = threading.Semaphore(5)  # the worker can make 5 tokens, then waits
    llm = FakeLlamaLLM(fake)
    stream = llm.chat(CONVO)
    got = [await stream.__anext__() for _ in range(5)]
    assert got == [f"t{i} " for i in range(5)]
    await stream.aclose()
    for _ in range(50):
        fake.gate.release()  # let it run: only the token in progress may still be made
    await wait_idle(llm, fake)
    assert fake.produced in (5, 6)  # at most the token in progress when aclose came


async def test_cancelling_the_consumer_stops_generation() -> None:
    fake = FakeLlama()
    llm = FakeLlamaLLM(fake)
    stream = llm.chat(CONVO)
    got: list[str] = []

    async def consume() -> None:
        async for delta in stream:
            got.append(delta)

    task = asyncio.ensure_future(consume())
    while len(got) < 3:  # noqa: ASYNC110
        await asyncio.sleep(0.005)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await wait_idle(llm, fake)
    produced = fake.produced
    await asyncio.sleep(0.1)
    assert fake.produced == produced < fake.tokens


async def test_workers_generate_in_parallel_on_separate_instances() -> None:
    fakes = FakeLlama(tokens=20), FakeLlama(tokens=20)
    llm = FakeLlamaLLM(*fakes)
    a = llm.chat([ChatMessage("user", "a")])
    b = llm.chat([ChatMessage("user", "b")])
    first_a, first_b = await asyncio.gather(a.__anext__(), b.__anext__())
    assert fakes[0].active.is_set() and fakes[1].active.is_set()  # both running at once

    async def drain(stream: LLMStream) -> list[str]:
        return [d async for d in stream]

    rest = await asyncio.gather(drain(a), drain(b))
    assert [len(r) for r in rest] == [19, 19]
    assert sorted(len(f.calls) for f in fakes) == [1, 1]


def test_pool_prefers_the_instance_that_served_the_conversation() -> None:
    x, y = _Slot("x"), _Slot("y")
    pool = _Pool([x, y])
    convo_a = (("system", "s"), ("user", "a"))
    convo_b = (("system", "s"), ("user", "b"))
    slot = pool.acquire(convo_a)
    pool.release(slot, (*convo_a, ("assistant", "A")))
    other = pool.acquire(convo_b)
    assert other is not slot  # a fresh conversation takes the least recently used instance
    pool.release(other, (*convo_b, ("assistant", "B")))
    follow_up = (*convo_a, ("assistant", "A"), ("user", "more"))
    assert pool.acquire(follow_up) is slot
    pool.release(slot, (*follow_up, ("assistant", "A long reply that was interrupted")))
    cut_short = (*follow_up, ("assistant", "A long reply"), ("user", "sorry, go on"))
    assert pool.acquire(cut_short) is slot  # a barged-in reply still counts as a follow-up
    assert pool.acquire(follow_up) is other  # busy instances are never shared
    assert pool.idle == 0


async def test_context_overflow_and_other_failures_are_backend_errors() -> None:
    overflow = FakeLlama(fail=ValueError("Requested tokens (3000) exceed context window of 2048"))
    llm = FakeLlamaLLM(overflow)
    with pytest.raises(BackendError) as info:
        async for _ in llm.chat(CONVO):
            pass
    assert info.value.code == "context_length_exceeded" and not info.value.retryable
    crash = FakeLlama(fail=RuntimeError("llama_decode returned -1"))
    llm = FakeLlamaLLM(crash)
    with pytest.raises(BackendError, match="llama_decode returned -1"):
        async for _ in llm.chat(CONVO):
            pass
    await wait_idle(llm, crash)


def test_bad_calls() -> None:
    llm = FakeLlamaLLM(FakeLlama())
    with pytest.raises(InvalidRequest):
        llm.chat([])
    assert llm.count_tokens("three words here") == 3
    with pytest.raises(BackendUnavailable, match="not found"):
        LlamaCppLLM("/nonexistent/model.gguf").prewarm()


def test_threads_are_split_between_workers() -> None:
    assert LlamaCppLLM(workers=1, n_threads=3).n_threads == 3
    assert LlamaCppLLM(workers=64).n_threads == 1


def test_pool_keeps_a_restarted_reply_on_the_instance_with_the_longest_shared_history() -> None:
    x, y = _Slot("x"), _Slot("y")
    pool = _Pool([x, y])
    history = (("system", "s"), ("user", "a"), ("assistant", "A"))
    slot = pool.acquire(history)
    pool.release(slot, (*history, ("user", "what is"), ("assistant", "It")))  # a discarded speculation
    other = pool.acquire((("system", "s"), ("user", "other conversation")))
    pool.release(other, (("system", "s"), ("user", "other conversation"), ("assistant", "B")))
    assert pool.acquire((*history, ("user", "what is the time"))) is slot
