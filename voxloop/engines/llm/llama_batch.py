"""One llama.cpp context decoding several conversations at once (continuous batching).

As llama.cpp's own server does with parallel slots: the context holds ``n_seq`` sequences, each
with its own KV cache (a conversation's prompt cache); one decode thread runs token steps, and
every step puts one token of each generating sequence, plus prompt tokens of newly admitted
ones, into a single ``llama_decode``. Eight replies then cost about one forward pass per token
step instead of eight, because the weights are read once per step.

Requests (:class:`Job`) wait by priority (a live reply before continuations before background
work), first come first served within a priority; a job that has waited ``aging_s`` counts one
priority level more urgent, so background work is late but never starved. Past ``max_waiting``
queued jobs a new one is refused at once with the retryable ``server_busy`` error (load
shedding: a reply minutes late is worse than a clear "try again"). A context with a free sequence
and nothing waiting takes a waiting job from a peer context whose sequences are all busy. A free
sequence goes to the job whose conversation it has cached the most turns of, else to the least
recently used one (the conversation it held waits in the host prompt cache,
:mod:`voxloop.engines.llm.prompt_cache`), and only the tokens after the common prefix are
evaluated. Within a step, prompt evaluation gets a bounded share so that a long new prompt does not
stall the others' streaming: as many prompt tokens as keep the step within
``1 / stream_tokens_per_s`` on this machine (measured step by step, at most ``prefill_chunk``;
speech needs ~4 tokens/s), live prompts first; a background prompt gets no more even alone, so a live
job arriving meanwhile waits one short step. With every sequence busy, a live job takes the sequence
of a background job, which waits again and resumes where it stopped. A job whose ``stop`` is set
(barge-in) leaves at the next step, within one token step. Pieces go to the job's queue; the
consumer (an executor thread) iterates :meth:`Job.pieces`.
"""

from __future__ import annotations

import codecs
import ctypes
import itertools
import logging
import math
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from voxloop.engines.llm.kv_reuse import reuse_plan
from voxloop.engines.llm.llama_pool import shared_turns
from voxloop.engines.llm.prompt_cache import PromptCache, Saved, common_prefix
from voxloop.engines.llm.tools import Turn
from voxloop.engines.types import PRIORITY_BACKGROUND
from voxloop.errors import BackendError, OverloadedError

__all__ = ["KV_TYPES", "BatchDecoder", "Job", "Sampling", "StepSpeed"]

logger = logging.getLogger(__name__)

# the KV cache's element type: q8_0 halves f16's memory (sequences x n_ctx tokens) at no
# measurable cost in speed or, for llama.cpp's users, quality
KV_TYPES = {"f16": "GGML_TYPE_F16", "q8_0": "GGML_TYPE_Q8_0"}
_END = object()
_POLL_S = 0.02  # how often the idle decode thread looks for stopped jobs
_MIN_PREFILL = 8  # prompt tokens a step takes at least, however slow the machine: prompts still progress


@dataclass(frozen=True, slots=True)
class Sampling:
    temperature: float = 0.7
    top_p: float = 0.95
    repeat_penalty: float = 1.1
    seed: int | None = None
    grammar: str | None = None  # GBNF, checked by the caller (see llama_steps.grammar_parses)
    min_tokens: int = 0  # end-of-generation tokens are banned until this many were generated


@dataclass(eq=False)
class Job:
    """One generation: ``tokens`` is the whole prompt; ``probe`` (yes, no token ids) asks only for
    P(yes) among the two after the prompt, instead of generating."""

    tokens: list[int]
    sampling: Sampling = Sampling()
    max_tokens: int = 256
    stop_strings: tuple[str, ...] = ()
    stop: threading.Event = field(default_factory=threading.Event)
    priority: int = 0
    conversation: tuple[Turn, ...] = ()  # for cache affinity
    probe: tuple[int, int] | None = None
    on_token: Callable[[], None] | None = None
    out: queue.SimpleQueue[object] = field(default_factory=queue.SimpleQueue)
    submitted_at: float = 0.0  # time.monotonic() when it was queued
    queued_s: float = 0.0  # time it waited before earlier admissions (a preempted job waits again)
    progress: _Progress | None = None  # where a preempted generation stopped
    abandoned: threading.Event = field(default_factory=threading.Event)  # the consumer left

    @property
    def stopped(self) -> bool:
        return self.stop.is_set() or self.abandoned.is_set()

    def pieces(self) -> Iterator[str]:
        """Text as it is generated (blocking; on the consumer's thread). Raises the decoder's error.
        Leaving the iteration early ends the job at the next step."""
        try:
            while True:
                item = self.out.get()
                if item is _END:
                    return
                if isinstance(item, BaseException):
                    raise item
                assert isinstance(item, str)
                yield item
        finally:
            self.abandoned.set()

    def probability(self) -> float | None:
        """A probe's answer (None if stopped first)."""
        item = self.out.get()
        if isinstance(item, BaseException):
            raise item
        if isinstance(item, float):
            self.out.get()  # _END
            return item
        return None


@dataclass(slots=True)
class _Progress:
    """A preempted generation's own state: it resumes with the same sampler (penalty window, random
    state), the same half-decoded UTF-8 and held-back text, as if it had never stopped."""

    sampler: Any
    utf8: Any
    held: str
    generated: int
    keep: bool


@dataclass(eq=False)
class _Seq:
    id: int
    tokens: list[int] = field(default_factory=list)  # in the KV cache, in order
    history: tuple[Turn, ...] = ()
    last_used: float = 0.0
    job: Job | None = None
    pending: list[int] = field(default_factory=list)  # prompt tokens still to evaluate
    sampler: Any = None
    next_token: int | None = None  # sampled, not yet evaluated
    generated: int = 0
    utf8: Any = None
    held: str = ""  # text that may be the start of a stop string
    keep: bool = False  # worth copying to the host prompt cache when another job takes this sequence


class StepSpeed:
    """What a token step costs on this machine, learnt from the steps themselves: the time of a step
    of only generating sequences, and the time per prompt token in steps that read a prompt."""

    def __init__(self) -> None:
        self.stream_step_s: dict[int, float] = {}  # generating sequences -> seconds per step
        self.prompt_token_s = 0.0  # seconds per prompt token (0: not measured yet)

    def observe(self, streaming: int, prompt: int, seconds: float) -> None:
        if prompt == 0:
            old = self.stream_step_s.get(streaming)
            self.stream_step_s[streaming] = seconds if old is None else 0.8 * old + 0.2 * seconds
        elif prompt >= _MIN_PREFILL:
            base = self.stream_step_s.get(streaming, 0.0) if streaming else 0.0
            per = max(seconds - base, 0.0) / prompt
            self.prompt_token_s = per if not self.prompt_token_s else 0.8 * self.prompt_token_s + 0.2 * per

    def prefill_budget(self, streaming: int, step_s: float, limit: int) -> int:
        """Prompt tokens a step beside ``streaming`` generating sequences can take and still last
        about ``step_s``; ``limit`` until the prompt speed is known."""
        if not self.prompt_token_s:
            return limit
        base = self.stream_step_s.get(streaming, 0.0)
        fits = int(max(step_s - base, 0.0) / self.prompt_token_s)
        return max(_MIN_PREFILL, min(limit, fits))


def _stop_at(text: str, stops: tuple[str, ...]) -> tuple[str, str, bool]:
    """(text to emit now, text to hold back, whether a stop string was hit)."""
    for s in stops:
        i = text.find(s)
        if i >= 0:
            return text[:i], "", True
    hold = 0
    for s in stops:
        for k in range(min(len(s) - 1, len(text)), 0, -1):
            if text.endswith(s[:k]):
                hold = max(hold, k)
                break
    return text[: len(text) - hold], text[len(text) - hold:], False


class BatchDecoder:
    """``n_seq`` sequences of ``n_ctx`` tokens each on one context of ``llama``'s model."""

    def __init__(self, llama: Any, *, n_seq: int, n_ctx: int, n_threads: int, n_batch: int = 512,
                 prefill_chunk: int = 128, kv_cache: str = "q8_0", max_waiting: int = 0,
                 aging_s: float = 2.0, stream_tokens_per_s: float = 10.0, name: str = "llama-batch",
                 prompt_cache: PromptCache | None = None) -> None:
        import llama_cpp
        from llama_cpp import _internals

        self.llama = llama
        self.n_seq = n_seq
        self.n_ctx = n_ctx
        self.n_batch = max(n_batch, n_seq + prefill_chunk)
        self.prefill_chunk = prefill_chunk
        self.stream_tokens_per_s = stream_tokens_per_s
        self.prompt_cache = prompt_cache
        self._speed = StepSpeed()
        params = llama_cpp.llama_context_default_params()
        params.n_ctx = n_ctx * n_seq
        params.n_batch = self.n_batch
        params.n_ubatch = self.n_batch
        params.n_seq_max = n_seq
        params.n_threads = n_threads
        params.n_threads_batch = n_threads
        params.kv_unified = False  # a stream per sequence: attention reads only its own cells
        if kv_cache not in KV_TYPES:
            raise BackendError(f"kv_cache must be one of {', '.join(KV_TYPES)}")
        if kv_cache != "f16":  # a quantized V cache needs flash attention
            params.flash_attn_type = llama_cpp.LLAMA_FLASH_ATTN_TYPE_ENABLED
            params.type_k = params.type_v = getattr(llama_cpp, KV_TYPES[kv_cache])
        else:  # as a ``Llama`` instance computes attention: the same text from the same prompt
            params.flash_attn_type = llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED
        params.no_perf = True
        try:
            self._ctx = _internals.LlamaContext(model=llama._model, params=params, verbose=False)
        except ValueError as e:
            raise BackendError(f"cannot create a llama.cpp context for {n_seq} sequences: {e}") from e
        self._batch = _internals.LlamaBatch(n_tokens=self.n_batch, embd=0, n_seq_max=1, verbose=False)
        self._vocab = llama._model.vocab
        n_vocab = llama.n_vocab()
        self._eog = [t for t in range(n_vocab) if llama_cpp.llama_vocab_is_eog(self._vocab, t)]
        self._seqs = [_Seq(i) for i in range(n_seq)]
        self._cond = threading.Condition()
        self._waiting: list[tuple[int, int, Job]] = []  # (priority, arrival, job)
        self._arrival = itertools.count()
        self.max_waiting = max_waiting or 4 * n_seq
        self.aging_s = aging_s
        self._closed = False
        self.steps = 0  # decode calls, for tests and metrics
        self.step_tokens = 0  # tokens in them
        self.prompt_tokens = 0  # of which prompt tokens (what a cached prefix saves)
        self.reused_tokens = 0  # prompt tokens cached past a change (moved, not read: kv_reuse)
        self.on_wait: Callable[[float, int], None] | None = None
        self.peers: list[BatchDecoder] = []  # the engine's other contexts: an idle one takes their waiting jobs
        self.taken = 0  # jobs this context took from a busy peer
        self.preempted = 0  # background jobs that gave their sequence to a live one
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    # -- the consumer side --------------------------------------------------------------------

    def submit(self, job: Job) -> Job:
        if len(job.tokens) + (0 if job.probe else 1) > self.n_ctx:
            raise BackendError(f"prompt too long: {len(job.tokens)} tokens for a context of {self.n_ctx}",
                               code="context_length_exceeded", retryable=False)
        with self._cond:
            if self._closed:
                raise BackendError("the llama.cpp decoder is closed")
            if len(self._waiting) >= self.max_waiting:
                raise OverloadedError(f"the LLM is at capacity ({self.n_seq} replies decoding, "
                                      f"{len(self._waiting)} waiting); try again later")
            job.submitted_at = time.monotonic()
            self._waiting.append((job.priority, next(self._arrival), job))
            self._cond.notify_all()
            full = all(s.job is not None for s in self._seqs)
        if full:  # a peer with a free sequence may take it
            for peer in self.peers:
                with peer._cond:
                    peer._cond.notify_all()
        return job

    def remember(self, conversation: tuple[Turn, ...], history: tuple[Turn, ...]) -> None:
        """The turns now in the cache of the sequence that served ``conversation`` (affinity)."""
        with self._cond:
            for seq in self._seqs:
                if seq.job is None and seq.history == conversation:
                    seq.history = history
                    return

    def affinity(self, conversation: tuple[Turn, ...]) -> int:
        """Turns of ``conversation`` cached in one of the sequences (0: none)."""
        with self._cond:
            return max(shared_turns(s.history, conversation) for s in self._seqs)

    @property
    def queued(self) -> int:
        with self._cond:
            return len(self._waiting)

    @property
    def idle(self) -> int:
        with self._cond:
            return sum(s.job is None for s in self._seqs)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(timeout=5)

    # -- the decode thread --------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                self._drop_stopped_waiters()
                self._admit()
                if self.peers and not self._waiting and any(s.job is None for s in self._seqs):
                    self._take_from_peers()
                    self._admit()
                active = [s for s in self._seqs if s.job is not None]
                if self._closed:
                    for s in active:
                        self._finish(s, BackendError("the llama.cpp decoder closed"))
                    for _, _, job in self._waiting:
                        self._leave(job, BackendError("the llama.cpp decoder closed"))
                    self._waiting.clear()
                    return
                if not active:  # with peers, look again soon: a peer's lock may have been held just now
                    self._cond.wait(_POLL_S if self._waiting or self.peers else None)
                    continue
            try:
                self._step(active)
            except Exception as e:  # a failed decode fails its jobs; the decoder keeps serving
                logger.exception("llama.cpp batch step failed")
                err = e if isinstance(e, BackendError) else BackendError(f"llama.cpp generation failed: {e}")
                with self._cond:
                    for s in active:
                        if s.job is not None:
                            self._reset_seq(s)
                            self._finish(s, err)

    def _drop_stopped_waiters(self) -> None:
        stopped = [w for w in self._waiting if w[2].stopped]
        if stopped:
            for w in stopped:
                self._leave(w[2])
            self._waiting = [w for w in self._waiting if not w[2].stopped]

    @staticmethod
    def _leave(job: Job, error: BaseException | None = None) -> None:
        """A waiting job ends without a sequence (stopped, or the decoder closed)."""
        if job.progress is not None and job.progress.sampler is not None:
            job.progress.sampler.close()
        job.progress = None
        if error is not None:
            job.out.put(error)
        job.out.put(_END)

    def _take_from_peers(self) -> None:
        """A waiting job of a peer whose every sequence is busy comes here, where one is free (its
        conversation's cache follows it through the host prompt cache). Never blocks on a peer's
        lock: two contexts taking from each other cannot deadlock."""
        for peer in self.peers:
            if not peer._cond.acquire(blocking=False):
                continue
            try:
                if peer._waiting and all(s.job is not None for s in peer._seqs):
                    job = peer._next()
                    self._waiting.append((job.priority, next(self._arrival), job))
                    self.taken += 1
                    return
            finally:
                peer._cond.release()

    def _urgency(self, job: Job, now: float | None) -> int:
        """A job's priority less a level per ``aging_s`` it has waited (``now``: it waits still)."""
        waited = job.queued_s + (now - job.submitted_at if now is not None else 0.0)
        return job.priority - int(waited / self.aging_s)

    def _most_urgent(self) -> tuple[int, int, Job]:
        """The waiting job to admit next: by urgency, then arrival."""
        now = time.monotonic()
        return min(self._waiting, key=lambda w: (self._urgency(w[2], now), w[1]))

    def _next(self) -> Job:
        best = self._most_urgent()
        self._waiting.remove(best)
        return best[2]

    def _preempt(self) -> _Seq | None:
        """Every sequence is busy and a live job waits: a background job (a summary, a fact extraction,
        a cache warm-up) gives up its sequence. Its cells go to the host prompt cache and it waits
        again, to resume where it stopped. Not when a peer context has a free sequence (the peer takes
        the job), nor for background work that has itself waited so long it counts as urgent (aging).
        The sequence freed, if one was."""
        _, _, waiter = self._most_urgent()
        if waiter.priority >= PRIORITY_BACKGROUND:
            return None
        if any(s.job is None for peer in self.peers for s in peer._seqs):  # unlocked look: a hint
            return None
        urgency = self._urgency(waiter, time.monotonic())
        victims = [s for s in self._seqs if s.job is not None and s.job.priority >= PRIORITY_BACKGROUND
                   and not s.job.stopped and self._urgency(s.job, None) > urgency]
        if not victims:
            return None
        victim = max(victims, key=lambda s: (s.job.priority if s.job else 0, len(s.pending)))
        self._suspend(victim)
        return victim

    def _suspend(self, seq: _Seq) -> None:
        job = seq.job
        assert job is not None
        # what the cache holds and what it still has to read: the sampled token not yet evaluated,
        # or the rest of the prompt
        rest = [seq.next_token] if seq.next_token is not None else seq.pending
        job.tokens = [*seq.tokens, *rest]
        job.progress = _Progress(seq.sampler, seq.utf8, seq.held, seq.generated, seq.keep)
        logger.debug("%s sequence %d: background job preempted after %d tokens generated, %d to read",
                     self._thread.name, seq.id, seq.generated, len(rest))
        seq.keep = True  # its cells go to host memory when the live job takes the sequence
        seq.job = None
        seq.sampler = None
        seq.pending = []
        seq.next_token = None
        seq.last_used = time.monotonic()
        job.submitted_at = seq.last_used
        self._waiting.append((job.priority, next(self._arrival), job))
        self.preempted += 1

    def _admit(self) -> None:
        while self._waiting:
            free = [s for s in self._seqs if s.job is None]
            if not free:
                freed = self._preempt()
                if freed is None:
                    return
                free = [freed]
            job = self._next()
            seq = max(free, key=lambda s: (shared_turns(s.history, job.conversation), -s.last_used))
            self._start(seq, job)

    def _start(self, seq: _Seq, job: Job) -> None:
        import llama_cpp

        waited = time.monotonic() - job.submitted_at
        if self.on_wait is not None and job.progress is None:  # a resumed job was counted once
            self.on_wait(waited, job.priority)
        job.queued_s += waited
        prefix = common_prefix(seq.tokens, job.tokens)
        restored = 0
        if self.prompt_cache is not None:
            prefix, restored = self._swap(seq, job, prefix)
        common = self._reuse(seq, job.tokens, prefix) if prefix < len(seq.tokens) else prefix
        common = min(common, len(job.tokens) - 1)  # the last prompt token is evaluated for its logits
        if common < len(seq.tokens) and not llama_cpp.llama_memory_seq_rm(self._ctx.memory, seq.id, common, -1):
            llama_cpp.llama_memory_seq_rm(self._ctx.memory, seq.id, -1, -1)
            common = 0
        seq.tokens = list(job.tokens[:common])  # what the cache now holds, position by position
        logger.debug("%s sequence %d: %d prompt tokens, %d cached (%d from host memory, %d moved past a change), "
                     "%d to read (priority %d, waited %.0f ms)", self._thread.name, seq.id, len(job.tokens), common, restored,
                     max(0, common - prefix), len(job.tokens) - common, job.priority, 1000 * waited)
        seq.job = job
        seq.history = job.conversation
        seq.pending = list(job.tokens[common:])
        seq.next_token = None
        if (p := job.progress) is not None:  # preempted before: go on where it stopped
            job.progress = None
            seq.sampler, seq.utf8, seq.held, seq.generated, seq.keep = p.sampler, p.utf8, p.held, p.generated, p.keep
            return
        # a summary or fact extraction is one-off work: not worth copying out (a probe of a turn is)
        seq.keep = job.priority < PRIORITY_BACKGROUND or common >= len(job.tokens) // 2
        seq.generated = 0
        seq.held = ""
        seq.utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        seq.sampler = None if job.probe else self._sampler(job.sampling)

    def _sampler(self, s: Sampling) -> Any:
        from llama_cpp import _internals
        from llama_cpp.llama_grammar import LlamaGrammar

        internals: Any = _internals  # untyped
        chain = internals.LlamaSampler()
        if s.grammar is not None:
            chain.add_grammar(self.llama._model, LlamaGrammar.from_string(s.grammar, verbose=False))
        if s.repeat_penalty != 1.0:
            chain.add_penalties(self.llama.n_vocab(), 64, s.repeat_penalty, 0.0, 0.0)
        if s.temperature <= 0:
            chain.add_greedy()
        else:
            chain.add_top_k(40)
            chain.add_top_p(s.top_p, 1)
            chain.add_min_p(0.05, 1)
            chain.add_temp(s.temperature)
            chain.add_dist(s.seed if s.seed is not None else 0xFFFFFFFF)
        return chain

    def _finish(self, seq: _Seq, error: BaseException | None = None) -> None:
        job = seq.job
        if job is None:
            return
        if error is None and seq.held and not job.stopped:
            job.out.put(seq.held)
        if error is not None:
            job.out.put(error)
        job.out.put(_END)
        if seq.sampler is not None:
            seq.sampler.close()
        seq.sampler = None
        seq.job = None
        seq.pending = []
        seq.next_token = None
        seq.last_used = time.monotonic()

    def _swap(self, seq: _Seq, job: Job, prefix: int) -> tuple[int, int]:
        """Through the host prompt cache: copy out the conversation ``seq`` holds if ``job`` is another
        one, and copy in the state that shares most of ``job``'s prompt; (prefix cached now, of which
        restored from host memory)."""
        cache = self.prompt_cache
        assert cache is not None
        other = prefix < len(seq.tokens) // 2  # the job is not the conversation this sequence holds
        saved = cache.take(job.tokens, better_than=prefix)
        if other and seq.keep and cache.wants(seq.tokens):
            self._save(seq, cache)
        if saved is None:
            return prefix, 0
        if not self._restore(seq, saved):
            return 0, 0
        n = common_prefix(seq.tokens, job.tokens)
        return n, n

    def _save(self, seq: _Seq, cache: PromptCache) -> None:
        import llama_cpp

        size = llama_cpp.llama_state_seq_get_size(self._ctx.ctx, seq.id)
        data = (ctypes.c_uint8 * size)()
        if written := llama_cpp.llama_state_seq_get_data(self._ctx.ctx, data, size, seq.id):
            cache.put(Saved(tuple(seq.tokens), data, written))
        seq.keep = False  # copied once

    def _restore(self, seq: _Seq, saved: Saved) -> bool:
        import llama_cpp

        llama_cpp.llama_memory_seq_rm(self._ctx.memory, seq.id, -1, -1)
        seq.tokens = []
        if not llama_cpp.llama_state_seq_set_data(self._ctx.ctx, saved.data, saved.size, seq.id):
            logger.warning("could not copy a cached prompt back into sequence %d; reading it again", seq.id)
            llama_cpp.llama_memory_seq_rm(self._ctx.memory, seq.id, -1, -1)
            return False
        seq.tokens = list(saved.tokens)
        return True

    def _reuse(self, seq: _Seq, tokens: list[int], prefix: int) -> int:
        """Move the cached chunks that ``tokens`` repeats after ``prefix`` to their new positions
        (:mod:`voxloop.engines.llm.kv_reuse`); how many of ``tokens`` are then cached."""
        import llama_cpp

        mem = self._ctx.memory
        chunks, cached = reuse_plan(seq.tokens, tokens, prefix)
        if not chunks or not llama_cpp.llama_memory_can_shift(mem):
            return prefix
        for chunk in chunks:
            if not llama_cpp.llama_memory_seq_rm(mem, seq.id, chunk.prompt, chunk.cached):
                return 0  # cannot drop part of this sequence: the caller clears it
            llama_cpp.llama_memory_seq_add(mem, seq.id, chunk.cached, chunk.cached + chunk.length,
                                           chunk.prompt - chunk.cached)
        self.reused_tokens += cached - prefix
        return cached

    def _reset_seq(self, seq: _Seq) -> None:
        import llama_cpp

        llama_cpp.llama_memory_seq_rm(self._ctx.memory, seq.id, -1, -1)
        seq.tokens.clear()
        seq.history = ()

    def _step(self, active: list[_Seq]) -> None:
        """One ``llama_decode`` over every active sequence, then sampling."""
        import llama_cpp

        b = self._batch.batch
        n = 0
        outputs: list[tuple[_Seq, int]] = []

        def add(seq: _Seq, token: int, logits: bool) -> None:
            nonlocal n
            b.token[n] = token
            b.pos[n] = len(seq.tokens)
            b.n_seq_id[n] = 1
            b.seq_id[n][0] = seq.id
            b.logits[n] = logits
            seq.tokens.append(token)
            if logits:
                outputs.append((seq, n))
            n += 1

        with self._cond:
            for seq in active:
                if seq.job is not None and seq.job.stopped:
                    self._finish(seq)
        order = sorted((s for s in active if s.job is not None), key=lambda s: s.job.priority if s.job else 0)
        for seq in order:
            if seq.next_token is not None:
                add(seq, seq.next_token, True)
                seq.next_token = None
        # nothing streaming: a live prompt may fill the batch; else a chunk the streams can afford.
        # Background prompts get a chunk either way: a live job that arrives meanwhile waits for the
        # end of the step, and a 500-token step is seconds on a small CPU.
        streaming = n
        chunk = self._speed.prefill_budget(n, 1.0 / self.stream_tokens_per_s, self.prefill_chunk)
        budget = self.n_batch if n == 0 else min(self.n_batch - n, chunk)
        background = chunk
        for seq in order:
            if not seq.pending or budget <= 0:
                continue
            late = seq.job is not None and seq.job.priority >= PRIORITY_BACKGROUND
            if late and background <= 0:
                continue
            take = seq.pending[:min(budget, background) if late else budget]
            del seq.pending[:len(take)]
            budget -= len(take)
            background -= len(take) if late else 0
            self.prompt_tokens += len(take)
            for i, tok in enumerate(take):
                add(seq, tok, i == len(take) - 1 and not seq.pending)
        if n == 0:
            return
        b.n_tokens = n
        t0 = time.perf_counter()
        rc = llama_cpp.llama_decode(self._ctx.ctx, b)
        seconds = time.perf_counter() - t0
        self._speed.observe(streaming, n - streaming, seconds)
        if seconds > 0.5:
            logger.debug("%s: a step of %.0f ms (%d generating, %d prompt tokens)", self._thread.name,
                         1000 * seconds, streaming, n - streaming)
        self.steps += 1
        self.step_tokens += n
        if self.steps % 500 == 0 and logger.isEnabledFor(logging.DEBUG):
            logger.debug("step times by generating sequences: %s ms; %.2f ms a prompt token", ", ".join(
                f"{k}: {1000 * v:.0f}" for k, v in sorted(self._speed.stream_step_s.items())),
                1000 * self._speed.prompt_token_s)
        if rc != 0:
            raise BackendError(f"llama_decode returned {rc} (no room in the KV cache?)")
        with self._cond:
            for seq, idx in outputs:
                self._sampled(seq, idx)

    def _sampled(self, seq: _Seq, idx: int) -> None:
        import llama_cpp

        job = seq.job
        if job is None:
            return
        if job.probe is not None:
            logits = llama_cpp.llama_get_logits_ith(self._ctx.ctx, idx)
            yes, no = job.probe
            job.out.put(1 / (1 + math.exp(float(logits[no]) - float(logits[yes]))))
            self._finish(seq)
            return
        if seq.generated < job.sampling.min_tokens:  # e.g. a reply is never empty
            logits = llama_cpp.llama_get_logits_ith(self._ctx.ctx, idx)
            for t in self._eog:
                logits[t] = -math.inf
        token = seq.sampler.sample(self._ctx, idx)
        if job.on_token is not None:
            job.on_token()
        if llama_cpp.llama_vocab_is_eog(self._vocab, token):
            self._finish(seq)
            return
        seq.generated += 1
        piece = seq.utf8.decode(self.llama._model.detokenize([token], special=False))
        emit, seq.held, hit = _stop_at(seq.held + piece, job.stop_strings)
        if emit:
            job.out.put(emit)
        if hit or seq.generated >= job.max_tokens or len(seq.tokens) + 1 >= self.n_ctx:
            seq.held = ""
            self._finish(seq)
            return
        seq.next_token = token
