"""Batched decoding on the embedded SmolLM2-135M: one llama.cpp context, several conversations
in each token step (voxloop.engines.llm.llama_batch)."""

from __future__ import annotations

import asyncio
import time

import pytest

from voxloop.engines.llm.llama_batch import BatchDecoder, Job, Sampling
from voxloop.engines.llm.llamacpp import LlamaCppLLM
from voxloop.engines.llm.prompt_cache import PromptCache
from voxloop.engines.types import PRIORITY_BACKGROUND, PRIORITY_LIVE, ChatMessage, LLMOptions
from voxloop.errors import BackendError, OverloadedError

pytestmark = pytest.mark.models

SYSTEM = ChatMessage("system", "You are a helpful voice assistant.")
CONVO = [SYSTEM, ChatMessage("user", "What is the capital of France?")]
GREEDY = LLMOptions(max_tokens=20, temperature=0.0, seed=1)


def decoder(llm: LlamaCppLLM) -> BatchDecoder:
    assert len(llm._decoders) == 1
    return llm._decoders[0]


async def text(llm: LlamaCppLLM, messages: list[ChatMessage], options: LLMOptions = GREEDY) -> str:
    return "".join([c async for c in llm.chat(messages, options) if isinstance(c, str)])


async def test_one_sequence_says_what_an_instance_says() -> None:
    """Same weights, same prompt, greedy: the batched context (f16 KV, as an instance has) gives
    the instance's text token for token."""
    batched = LlamaCppLLM(workers=1, n_threads=1, parallel=2, kv_cache="f16")
    single = LlamaCppLLM(workers=1, n_threads=1)
    try:
        assert await text(batched, CONVO) == await text(single, CONVO)
    finally:
        batched.close()
        single.close()


async def test_concurrent_replies_share_token_steps(batched_llm: LlamaCppLLM) -> None:
    d = decoder(batched_llm)
    steps, tokens = d.steps, d.step_tokens
    questions = ["Name a fruit.", "Name a colour.", "Name an animal.", "Name a country."]
    replies = await asyncio.gather(*(text(batched_llm, [SYSTEM, ChatMessage("user", q)]) for q in questions))
    assert all(r.strip() for r in replies)
    # four replies of up to 20 tokens each were decoded in far fewer steps than their tokens
    assert d.step_tokens - tokens > 1.5 * (d.steps - steps)
    assert batched_llm.idle_workers == batched_llm.parallel


async def test_a_follow_up_evaluates_only_the_new_turn(batched_llm: LlamaCppLLM) -> None:
    d = decoder(batched_llm)
    convo = [SYSTEM, ChatMessage("user", "Tell me about the moon in one sentence.")]
    first = await text(batched_llm, convo)
    before = d.prompt_tokens
    follow = [*convo, ChatMessage("assistant", first), ChatMessage("user", "And the sun?")]
    assert (await text(batched_llm, follow)).strip()
    prompt = batched_llm.count_tokens("".join(m.content for m in follow))
    assert d.prompt_tokens - before < prompt / 2  # the cached prefix was not evaluated again


async def test_a_hint_gone_from_the_next_prompt_does_not_make_it_read_the_turn_again(
        batched_llm: LlamaCppLLM) -> None:
    """A system hint before the user's words (the emotion heard, recalled facts) is in one turn's
    prompt only: the next turn moves the cached words and reply after it (kv_reuse) and reads
    just its new message."""
    d = decoder(batched_llm)
    opener = [SYSTEM, ChatMessage("user", "Hello there."), ChatMessage("assistant", "Hi! How can I help you today?")]
    words = ChatMessage("user", "I am planning a trip to Portugal next spring with my two children and my wife.")
    hint = ChatMessage("system", "The user sounds happy; share their good mood.")
    first = await text(batched_llm, [*opener, hint, words])
    read, reused = d.prompt_tokens, d.reused_tokens
    question = ChatMessage("user", "Which city should we visit first?")
    assert (await text(batched_llm, [*opener, words, ChatMessage("assistant", first), question])).strip()
    moved = d.reused_tokens - reused
    assert moved >= batched_llm.count_tokens(words.content + first) - 4  # the words and the reply (+ template)
    assert d.prompt_tokens - read <= batched_llm.count_tokens(question.content) + 16  # the new message, framed


async def test_a_too_long_prompt_is_a_clear_error_and_the_others_go_on(batched_llm: LlamaCppLLM) -> None:
    huge = [ChatMessage("user", "word " * (batched_llm.n_ctx + 100))]
    with pytest.raises(BackendError) as info:
        await text(batched_llm, huge)
    assert info.value.code == "context_length_exceeded"
    assert (await text(batched_llm, CONVO)).strip()


def test_live_work_is_admitted_before_background_work(batched_llm: LlamaCppLLM) -> None:
    """Every sequence busy: a live job that arrives after a background one still goes first."""
    d = decoder(batched_llm)
    llama = d.llama
    prompt = llama.tokenize(b"<|im_start|>user\nCount to fifty.<|im_end|>\n<|im_start|>assistant\n", special=True)
    admitted: list[int] = []
    d.on_wait = lambda _s, priority: admitted.append(priority)
    try:
        busy = [d.submit(Job(list(prompt), Sampling(temperature=0.0), 40)) for _ in range(d.n_seq)]
        late = d.submit(Job(list(prompt), Sampling(temperature=0.0), 4, priority=PRIORITY_BACKGROUND))
        live = d.submit(Job(list(prompt), Sampling(temperature=0.0), 4, priority=PRIORITY_LIVE))
        for job in (*busy, live, late):
            assert "".join(job.pieces())
    finally:
        d.on_wait = batched_llm._waited
    assert admitted[d.n_seq:] == [PRIORITY_LIVE, PRIORITY_BACKGROUND]


def test_a_job_stopped_while_queued_leaves_without_evaluating(batched_llm: LlamaCppLLM) -> None:
    d = decoder(batched_llm)
    prompt = d.llama.tokenize(b"<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n", special=True)
    busy = [d.submit(Job(list(prompt), Sampling(temperature=0.0), 30)) for _ in range(d.n_seq)]
    queued = Job(list(prompt), Sampling(temperature=0.0), 30)
    queued.stop.set()
    d.submit(queued)
    assert list(queued.pieces()) == []
    for job in busy:
        "".join(job.pieces())


def _prompt(d: BatchDecoder, text: str = "Count to fifty.") -> list[int]:
    tokens: list[int] = d.llama.tokenize(
        f"<|im_start|>user\n{text}<|im_end|>\n<|im_start|>assistant\n".encode(), special=True)
    return tokens


def test_past_max_waiting_a_job_is_refused_as_server_busy(batched_llm: LlamaCppLLM) -> None:
    d = BatchDecoder(decoder(batched_llm).llama, n_seq=1, n_ctx=256, n_threads=1, max_waiting=1)
    try:
        busy = d.submit(Job(_prompt(d), Sampling(temperature=0.0), 30))
        while d.queued:  # admitted
            time.sleep(0.01)
        waiting = d.submit(Job(_prompt(d), Sampling(temperature=0.0), 2))
        with pytest.raises(OverloadedError) as info:
            d.submit(Job(_prompt(d), Sampling(temperature=0.0), 2))
        assert info.value.code == "server_busy" and info.value.retryable
        assert "".join(busy.pieces()) and "".join(waiting.pieces())
    finally:
        d.close()


def test_background_work_that_waited_long_is_not_starved(batched_llm: LlamaCppLLM) -> None:
    """With aging, a background job that has waited past aging_s x its lag in levels goes before a
    live job that just arrived."""
    d = BatchDecoder(decoder(batched_llm).llama, n_seq=1, n_ctx=256, n_threads=1, aging_s=0.05)
    admitted: list[int] = []
    d.on_wait = lambda _s, priority: admitted.append(priority)
    try:
        busy = d.submit(Job(_prompt(d), Sampling(temperature=0.0), 40))
        old = d.submit(Job(_prompt(d), Sampling(temperature=0.0), 2, priority=PRIORITY_BACKGROUND))
        while busy.out.qsize() < 3:  # the busy job is generating; the background one waits > 3 levels
            time.sleep(0.05)
        time.sleep(0.2)
        new = d.submit(Job(_prompt(d), Sampling(temperature=0.0), 2, priority=PRIORITY_LIVE))
        for job in (busy, old, new):
            "".join(job.pieces())
    finally:
        d.close()
    assert admitted == [PRIORITY_LIVE, PRIORITY_BACKGROUND, PRIORITY_LIVE]


def test_min_tokens_bans_the_end_of_generation(batched_llm: LlamaCppLLM) -> None:
    """After a finished assistant sentence the model ends the turn at once (greedy): nothing. With
    min_tokens it must say something first (replies use min_tokens=1: a reply is never empty)."""
    d = decoder(batched_llm)
    done = d.llama.tokenize(b"<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
                            b"Hello! How can I help you today?", special=True)
    assert "".join(d.submit(Job(list(done), Sampling(temperature=0.0), 6)).pieces()) == ""
    assert "".join(d.submit(Job(list(done), Sampling(temperature=0.0, min_tokens=2), 6)).pieces()).strip()


async def test_two_contexts_share_the_load_and_a_follow_up_returns_to_its_cache() -> None:
    llm = LlamaCppLLM(workers=2, n_threads=1, parallel=4)
    try:
        llm.prewarm()
        assert len(llm._decoders) == 2 and [d.n_seq for d in llm._decoders] == [2, 2]
        convos = [[SYSTEM, ChatMessage("user", q)] for q in ("Name a fruit.", "Name a colour.")]
        # long enough that the first is still generating when the second's first token comes
        streams = [llm.chat(c, LLMOptions(max_tokens=80, temperature=0.0, seed=1)) for c in convos]
        firsts = [await anext(aiter(s)) for s in streams]  # both generating at once
        assert sorted(d.idle for d in llm._decoders) == [1, 1]  # one in each context
        replies = [f + "".join([c async for c in s if isinstance(c, str)]) for f, s in zip(firsts, streams, strict=True)]
        home = [next(d for d in llm._decoders if d.affinity((*((m.role, m.content) for m in c),)) > 0) for c in convos]
        for convo, reply, decoder in zip(convos, replies, home, strict=True):
            before = [d.prompt_tokens for d in llm._decoders]
            follow = [*convo, ChatMessage("assistant", reply), ChatMessage("user", "Why?")]
            assert (await text(llm, follow)).strip()
            grew = [d for d, b in zip(llm._decoders, before, strict=True) if d.prompt_tokens > b]
            assert grew == [decoder]
    finally:
        llm.close()


async def test_a_conversation_whose_sequence_served_another_comes_back_from_host_memory() -> None:
    """One sequence, two conversations taking turns: each turn copies the other conversation's KV
    cache out and its own back (prompt_cache), so a follow-up reads only its new message, and the
    text is what it is when the conversation never left its sequence."""
    cached = LlamaCppLLM(workers=1, n_threads=1, parallel=2, prompt_cache_mb=64)
    kept = LlamaCppLLM(workers=1, n_threads=1, parallel=2, prompt_cache_mb=0)
    try:
        cached.prewarm()
        d = decoder(cached)
        d.n_seq = 1  # a context of two sequences, the decoder hands out one: every turn takes it over
        d._seqs = d._seqs[:1]
        cached.prompt_cache.min_tokens = 16  # these short turns are worth keeping too
        moon = [SYSTEM, ChatMessage("user", "Tell me about the moon in two sentences, please.")]
        sea = [SYSTEM, ChatMessage("user", "Describe the sea to someone who has never seen it.")]
        moon_reply = await text(cached, moon)
        await text(cached, sea)  # takes the sequence: the moon conversation goes to host memory
        assert len(cached.prompt_cache) == 1
        follow = [*moon, ChatMessage("assistant", moon_reply), ChatMessage("user", "And the sun?")]
        read = d.prompt_tokens
        answer = await text(cached, follow)
        assert cached.prompt_cache.restored == 1
        assert d.prompt_tokens - read <= cached.count_tokens("And the sun?") + 16  # the new message, framed
        assert await text(kept, moon) == moon_reply
        assert answer == await text(kept, follow)  # the cells came back as they were
    finally:
        cached.close()
        kept.close()


def test_an_idle_context_takes_a_job_waiting_for_a_busy_one() -> None:
    """Two contexts of one sequence each: a job queued behind a long generation in one is
    decoded by the other, which had nothing to do."""
    llm = LlamaCppLLM(workers=2, n_threads=1, parallel=2)
    try:
        llm.prewarm()
        busy, idle = llm._decoders
        assert busy.n_seq == idle.n_seq == 1 and busy.peers == [idle]
        long = busy.submit(Job(_prompt(busy), Sampling(temperature=0.0), 200))
        while busy.queued:  # admitted: every sequence of `busy` is taken
            time.sleep(0.01)
        late = busy.submit(Job(_prompt(busy, "Say hello."), Sampling(temperature=0.0), 8))
        assert "".join(late.pieces()).strip()
        assert idle.taken == 1 and busy._seqs[0].job is long  # while the long one still generates
        long.stop.set()
        "".join(long.pieces())
    finally:
        llm.close()


def test_a_live_job_takes_the_sequence_of_background_work_which_resumes_where_it_stopped(
        batched_llm: LlamaCppLLM) -> None:
    """One sequence busy with a summary-like background job: a live job does not wait for it. The
    background job's cells go to host memory, and when it gets the sequence back it goes on with the
    same sampler: its text is what it is when nothing interrupts it."""
    llama = decoder(batched_llm).llama
    d = BatchDecoder(llama, n_seq=1, n_ctx=512, n_threads=1, prompt_cache=PromptCache(64 << 20, min_tokens=8))
    try:
        story = _prompt(d, "Tell me a long story about a dragon.")
        sampling = Sampling(temperature=0.7, seed=7)  # sampled: the sampler's random state must carry over
        alone = "".join(d.submit(Job(list(story), sampling, 60, priority=PRIORITY_BACKGROUND)).pieces())
        background = d.submit(Job(list(story), sampling, 60, priority=PRIORITY_BACKGROUND))
        while background.out.qsize() < 5:  # generating
            time.sleep(0.01)
        live = d.submit(Job(_prompt(d, "Say hello."), Sampling(temperature=0.0), 8))
        said = "".join(live.pieces())
        assert said.strip() and d.preempted == 1
        assert background.out.qsize() < 60  # the live reply finished while the background job was still out
        assert "".join(background.pieces()) == alone
        assert d.prompt_cache is not None and d.prompt_cache.restored == 1
    finally:
        d.close()


def test_background_work_keeps_its_sequence_when_a_peer_context_has_one_free() -> None:
    llm = LlamaCppLLM(workers=2, n_threads=1, parallel=2)
    try:
        llm.prewarm()
        first, other = llm._decoders
        background = first.submit(Job(_prompt(first), Sampling(temperature=0.0), 100, priority=PRIORITY_BACKGROUND))
        while first.queued:
            time.sleep(0.01)
        live = first.submit(Job(_prompt(first, "Say hello."), Sampling(temperature=0.0), 8))
        assert "".join(live.pieces()).strip()
        assert first.preempted == 0 and other.taken == 1
        background.stop.set()
        "".join(background.pieces())
    finally:
        llm.close()


def test_a_background_prompt_is_read_in_chunks_even_alone_and_a_live_one_at_once(batched_llm: LlamaCppLLM) -> None:
    """A live job arriving while a background prompt is read waits for one short step, not for the
    whole prompt: alone, a background prompt still takes at most ``prefill_chunk`` tokens a step."""
    d = BatchDecoder(decoder(batched_llm).llama, n_seq=1, n_ctx=512, n_threads=1, prefill_chunk=16)
    try:
        prompt = _prompt(d, "Please summarise this conversation. " + "We talked about trains, ships and planes. " * 4)
        assert len(prompt) > 48
        steps = d.steps
        "".join(d.submit(Job(list(prompt), Sampling(temperature=0.0), 1, priority=PRIORITY_BACKGROUND)).pieces())
        assert d.steps - steps >= -(-len(prompt) // 16)
        d._reset_seq(d._seqs[0])
        steps = d.steps
        "".join(d.submit(Job(list(prompt), Sampling(temperature=0.0), 1, priority=PRIORITY_LIVE)).pieces())
        assert d.steps - steps == 1
    finally:
        d.close()
