"""The host-memory prompt cache: the state sharing most of a prompt comes back, bounded by bytes."""

from __future__ import annotations

from voxloop.engines.llm.prompt_cache import PromptCache, Saved

SYSTEM = tuple(range(50))


def state(*tail: int, size: int = 100) -> Saved:
    return Saved(SYSTEM + tail, b"x" * size, size)


def test_the_state_sharing_most_of_the_prompt_comes_back_once() -> None:
    cache = PromptCache(10_000, min_tokens=4)
    alice, bob = state(*range(100, 140)), state(*range(200, 260))
    cache.put(alice)
    cache.put(bob)
    prompt = list(alice.tokens) + [7, 8, 9]  # Alice's next turn
    assert cache.take(prompt, better_than=len(SYSTEM)) is alice  # not Bob's, who shares the system prompt only
    assert cache.take(prompt, better_than=len(SYSTEM)) is None  # her sequence holds it now
    assert len(cache) == 1 and cache.bytes == 100 and cache.restored == 1
    assert cache.restored_tokens == len(alice.tokens) - len(SYSTEM)


def test_nothing_comes_back_unless_it_beats_what_the_sequence_has_by_a_margin() -> None:
    cache = PromptCache(10_000)
    cache.put(state(*range(100, 110)))
    prompt = list(SYSTEM) + list(range(100, 110)) + [1]
    assert cache.take(prompt, better_than=len(SYSTEM) + 2, margin=16) is None  # 8 more tokens: read them
    assert cache.take(prompt, better_than=len(SYSTEM) + 2, margin=8) is not None


def test_bounded_by_bytes_oldest_out_and_a_longer_state_replaces_its_prefix() -> None:
    cache = PromptCache(250)
    first, second, third = state(1, size=100), state(2, size=100), state(3, size=100)
    for s in (first, second, third):
        cache.put(s)
    assert len(cache) == 2 and cache.bytes == 200
    assert cache.take(list(first.tokens), better_than=len(SYSTEM), margin=1) is None  # the oldest went
    longer = Saved(second.tokens + (9, 9), b"y" * 120, 120)
    cache.put(longer)  # the same conversation, one turn on: the shorter state goes
    assert cache.take(list(second.tokens), better_than=len(SYSTEM), margin=1) is longer
    cache.put(Saved((1,), b"z" * 300, 300))  # bigger than the whole cache: not kept
    assert cache.bytes == 100


def test_what_is_worth_copying_out() -> None:
    assert PromptCache(1 << 20, min_tokens=64).wants(list(range(64)))
    assert not PromptCache(1 << 20, min_tokens=64).wants(list(SYSTEM))  # a system prompt alone
    assert not PromptCache(0).wants(list(range(500)))  # off
