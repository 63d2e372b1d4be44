"""Which cached tokens a new prompt can keep past the point where it departs from the cache."""

from __future__ import annotations

from voxloop.engines.llm.kv_reuse import Chunk, reuse_plan

SYSTEM = list(range(100, 130))
USER = list(range(200, 220))
REPLY = list(range(300, 340))
HINT = list(range(400, 410))
NEXT = list(range(500, 515))


def test_a_dropped_hint_keeps_the_words_and_reply_after_it() -> None:
    cached = SYSTEM + HINT + USER + REPLY
    prompt = SYSTEM + USER + REPLY + NEXT
    chunks, kept = reuse_plan(cached, prompt, len(SYSTEM))
    assert chunks == [Chunk(cached=len(SYSTEM) + len(HINT), prompt=len(SYSTEM), length=len(USER) + len(REPLY))]
    assert kept == len(SYSTEM) + len(USER) + len(REPLY)  # only NEXT is read


def test_several_chunks_in_order() -> None:
    cached = SYSTEM + HINT + USER + HINT + REPLY
    prompt = SYSTEM + USER + REPLY + NEXT
    chunks, kept = reuse_plan(cached, prompt, len(SYSTEM))
    assert [c.length for c in chunks] == [len(USER), len(REPLY)]
    assert all(c.prompt <= c.cached for c in chunks)
    assert kept == len(SYSTEM) + len(USER) + len(REPLY)


def test_nothing_in_common_after_the_prefix() -> None:
    cached = SYSTEM + REPLY
    prompt = SYSTEM + NEXT
    assert reuse_plan(cached, prompt, len(SYSTEM)) == ([], len(SYSTEM))


def test_short_runs_are_not_worth_moving() -> None:
    template = [1, 2, 3, 4, 5]  # "<|im_end|>\n<|im_start|>user\n" recurs everywhere
    cached = SYSTEM + HINT + template + REPLY
    prompt = SYSTEM + template + NEXT
    assert reuse_plan(cached, prompt, len(SYSTEM)) == ([], len(SYSTEM))
    assert reuse_plan(cached, prompt, len(SYSTEM), min_chunk=5)[1] == len(SYSTEM) + 5


def test_a_cut_reply_keeps_what_was_heard() -> None:
    """Barge-in: the history keeps the heard part of the reply; it is the shared prefix, and the
    unheard rest of the cache is not reused."""
    heard = REPLY[:10]
    cached = SYSTEM + USER + REPLY
    prompt = SYSTEM + USER + heard + [9] + NEXT
    start = len(SYSTEM + USER + heard)
    assert reuse_plan(cached, prompt, start) == ([], start)
