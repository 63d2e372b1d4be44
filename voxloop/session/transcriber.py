"""Streaming transcription on top of a batch ASR engine.

* :class:`ASRScheduler` — one per ASR engine, shared by every stream: a bounded number of
  decodes at once, finals before partials, a cap on concurrent streams ("busy" past it).
* :class:`PartialTranscriber` — re-decodes a growing utterance every ``interval`` and emits
  only the words two successive hypotheses agree on (local agreement), so text shown is never
  rewritten. The cadence stretches when the scheduler is loaded.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import re
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass

import numpy as np

from voxloop.audio.pcm import Audio, Float32Array
from voxloop.engines.base import ASREngine
from voxloop.engines.executor import PRIORITY
from voxloop.engines.types import PRIORITY_BACKGROUND, PRIORITY_LIVE, TranscribeOptions, Transcript
from voxloop.errors import BackendError, OverloadedError

__all__ = ["BACKGROUND", "FINAL", "PARTIAL", "ASRScheduler", "Background", "PartialTranscriber", "agreed_prefix"]

_seq = itertools.count()


FINAL, PARTIAL, BACKGROUND = 0, 1, 2  # decode priorities: a live turn's final, partials, uploads
# what a decode's executor job queues as (the ASR executor may run other work: warm-ups, contracts)
_EXECUTOR_PRIORITY = {FINAL: PRIORITY_LIVE, PARTIAL: PRIORITY_LIVE + 1, BACKGROUND: PRIORITY_BACKGROUND}
logger = logging.getLogger(__name__)


class Background:
    """The scheduler seen as an engine whose every decode is background work (REST uploads):
    a live turn's final transcript waits for at most one piece of an upload."""

    def __init__(self, scheduler: ASRScheduler) -> None:
        self.scheduler = scheduler

    async def transcribe(self, audio: Audio, options: TranscribeOptions = TranscribeOptions(), /) -> Transcript:
        return await self.scheduler.transcribe(audio, options, priority=BACKGROUND)


@dataclass(eq=False, slots=True)
class _Request:
    audio: Audio
    options: TranscribeOptions
    priority: int
    key: Hashable | None  # the engine's batch key: equal keys decode together
    queued_at: float
    result: asyncio.Future[Transcript]


class ASRScheduler:
    """Fair access to one ASR engine for many streams.

    Decodes wait in one queue ordered by priority, then arrival. A free slot takes the first
    and, when the engine batches (``ASREngine.batch_key``), up to ``max_batch - 1`` more of
    the same priority and key: eight streams' partials cost about one decoder pass per token.
    """

    def __init__(self, engine: ASREngine, *, slots: int = 1, max_streams: int = 32, max_batch: int = 8) -> None:
        self.engine = engine
        self.slots = max(1, slots)
        self.max_streams = max_streams
        self.max_batch = max(1, max_batch)
        self.streams = 0
        self._busy = 0
        self._side_batches = 0  # slots running a batch of partials or background work
        self._waiters: list[tuple[int, int, _Request]] = []
        self._running: set[asyncio.Task[None]] = set()
        self.decode_seconds = 0.0  # exponential average of one decode's wall time
        self.batched = 0  # decodes served as part of a batch of two or more
        self.on_wait: Callable[[float, int], None] | None = None  # (seconds waited, priority) per decode

    # -- stream accounting --------------------------------------------------------------
    def open_stream(self) -> None:
        if self.streams >= self.max_streams:
            raise OverloadedError(
                f"transcription capacity reached ({self.max_streams} concurrent streams); try again later"
            )
        self.streams += 1

    def close_stream(self) -> None:
        self.streams = max(0, self.streams - 1)

    @property
    def queued(self) -> int:
        """Decodes waiting for a slot."""
        return sum(1 for _, _, r in self._waiters if not r.result.done())

    @property
    def busy(self) -> int:
        """Slots decoding now."""
        return self._busy

    @property
    def load(self) -> float:
        """Queued decodes per slot (0 = idle)."""
        return (self._busy + self.queued) / self.slots

    # -- decoding ---------------------------------------------------------------------
    async def transcribe(self, audio: Audio, options: TranscribeOptions, *, final: bool = True,
                         background: bool = False, priority: int | None = None) -> Transcript:
        """Decode when a slot is free: live finals first, then partials, then ``background`` work
        (REST uploads, one piece at a time, so a live turn waits for one piece at most)."""
        if priority is None:
            priority = BACKGROUND if background else FINAL if final else PARTIAL
        batch_key = getattr(self.engine, "batch_key", None)  # engines that only have transcribe() decode alone
        key = batch_key(audio, options) if batch_key is not None and self.max_batch > 1 else None
        loop = asyncio.get_running_loop()
        request = _Request(audio, options, priority, key, time.perf_counter(), loop.create_future())
        heapq.heappush(self._waiters, (priority, next(_seq), request))
        self._dispatch()
        return await request.result  # cancelling it takes the request out of the queue (or its result)

    def _dispatch(self) -> None:
        while self._busy < self.slots:
            batch = self._take_batch()
            if not batch:
                return
            self._busy += 1
            task = asyncio.get_running_loop().create_task(self._run(batch), name=f"asr-decode-{len(batch)}")
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    def _take_batch(self) -> list[_Request]:
        """The first waiting request and the waiting ones that can share its decode."""
        while self._waiters:
            _, _, head = heapq.heappop(self._waiters)
            if not head.result.done():
                break
        else:
            return []
        batch = [head]
        # a batch holds its slot longer than one decode: partials and uploads batch on all slots but
        # one, so a live final always finds a slot within one lone decode (one slot: it batches)
        side = head.priority != FINAL
        if head.key is not None and not (side and 1 < self.slots <= self._side_batches + 1):
            mates = [w for w in self._waiters if w[2].priority == head.priority and w[2].key == head.key
                     and not w[2].result.done()]
            for entry in heapq.nsmallest(self.max_batch - 1, mates):
                batch.append(entry[2])
                self._waiters.remove(entry)
            heapq.heapify(self._waiters)
        if side and len(batch) > 1:
            self._side_batches += 1
        now = time.perf_counter()
        if self.on_wait is not None:
            for request in batch:
                self.on_wait(now - request.queued_at, request.priority)
        return batch

    async def _run(self, batch: list[_Request]) -> None:
        """Decode one batch (a lone request is a batch of one) and hand out the transcripts."""
        PRIORITY.set(_EXECUTOR_PRIORITY.get(batch[0].priority, PRIORITY_BACKGROUND))
        side_batch = len(batch) > 1 and batch[0].priority != FINAL  # counted in _side_batches
        batch = [r for r in batch if not r.result.done()]  # callers that went away meanwhile
        t0 = time.perf_counter()
        try:
            if not batch:
                return
            if len(batch) > 1:
                try:
                    results = await self.engine.transcribe_batch([(r.audio, r.options) for r in batch])
                    self.batched += len(batch)
                except Exception:  # each request then gets its own result or error
                    logger.warning("ASR batch of %d failed: decoding one by one", len(batch), exc_info=True)
                    for request in batch:
                        await self._run_alone(request)
                else:
                    for request, result in zip(batch, results, strict=True):
                        if not request.result.done():
                            request.result.set_result(result)
            else:
                await self._run_alone(batch[0])
            dt = time.perf_counter() - t0
            self.decode_seconds = dt if not self.decode_seconds else 0.8 * self.decode_seconds + 0.2 * dt
        except asyncio.CancelledError:
            for request in batch:
                request.result.cancel()
            raise
        finally:
            for request in batch:  # never leave a caller waiting, whatever went wrong above
                if not request.result.done():
                    request.result.set_exception(BackendError("the ASR decode ended without a result"))
            self._busy -= 1
            if side_batch:
                self._side_batches -= 1
            self._dispatch()

    async def _run_alone(self, request: _Request) -> None:
        if request.result.done():
            return  # its caller went away
        try:
            result = await self.engine.transcribe(request.audio, request.options)
        except Exception as e:  # the caller gets the error
            if not request.result.done():
                request.result.set_exception(e)
        else:
            if not request.result.done():
                request.result.set_result(result)

    async def close(self) -> None:
        """Cancel the decodes in flight (their callers get ``CancelledError``)."""
        for task in list(self._running):
            task.cancel()
        await asyncio.gather(*self._running, return_exceptions=True)


_WORD = re.compile(r"[^\w']+")


def _norm(word: str) -> str:
    return _WORD.sub("", word.lower())


def agreed_prefix(a: list[str], b: list[str]) -> int:
    """Number of leading words two hypotheses share (compared without case/punctuation)."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if _norm(x) != _norm(y):
            break
        n += 1
    return n


class PartialTranscriber:
    """Live partials for one utterance; ``audio()`` returns the utterance so far (16 kHz)."""

    def __init__(
        self,
        scheduler: ASRScheduler,
        options: TranscribeOptions,
        audio: Callable[[], Float32Array],
        on_delta: Callable[[str], None],
        *,
        interval: float = 0.3,
        min_new_audio: float = 0.2,
    ) -> None:
        self._scheduler = scheduler
        self._options = options
        self._audio = audio
        self._on_delta = on_delta
        self.interval = interval
        self._min_new = int(min_new_audio * 16000)
        self._previous: list[str] = []
        self.committed: list[str] = []
        self.partials = 0

    def _next_interval(self) -> float:
        # stretch the cadence under load: never ask more often than decodes can be served
        load = self._scheduler.load
        return max(self.interval, self._scheduler.decode_seconds * (1.0 + load)) * (1.0 + 0.5 * load)

    async def run(self) -> None:
        """Loop until cancelled (the session cancels it when the utterance ends)."""
        decoded_len = 0
        while True:
            await asyncio.sleep(self._next_interval())
            samples = self._audio()
            if len(samples) - decoded_len < self._min_new or len(samples) < 8000:
                continue
            decoded_len = len(samples)
            result = await self._scheduler.transcribe(Audio(np.asarray(samples, np.float32), 16000),
                                                      self._options, final=False)
            self.partials += 1
            words = result.text.split()
            # the last word of a hypothesis is often cut mid-way: never commit it
            stable = agreed_prefix(self._previous, words[:-1] if len(words) > 1 else [])
            self._previous = words
            if stable > len(self.committed) and agreed_prefix(self.committed, words) == len(self.committed):
                new = words[len(self.committed) : stable]
                self.committed.extend(new)
                self._on_delta((" " if len(self.committed) > len(new) else "") + " ".join(new))
