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
import re
import time
from collections.abc import Callable

import numpy as np

from voxloop.audio.pcm import Audio, Float32Array
from voxloop.engines.base import ASREngine
from voxloop.engines.types import TranscribeOptions, Transcript
from voxloop.errors import OverloadedError

__all__ = ["BACKGROUND", "FINAL", "PARTIAL", "ASRScheduler", "Background", "PartialTranscriber", "agreed_prefix"]

_seq = itertools.count()


FINAL, PARTIAL, BACKGROUND = 0, 1, 2  # decode priorities: a live turn's final, partials, uploads


class Background:
    """The scheduler seen as an engine whose every decode is background work (REST uploads):
    a live turn's final transcript waits for at most one piece of an upload."""

    def __init__(self, scheduler: ASRScheduler) -> None:
        self.scheduler = scheduler

    async def transcribe(self, audio: Audio, options: TranscribeOptions = TranscribeOptions(), /) -> Transcript:
        return await self.scheduler.transcribe(audio, options, priority=BACKGROUND)


class ASRScheduler:
    """Fair access to one ASR engine for many streams."""

    def __init__(self, engine: ASREngine, *, slots: int = 1, max_streams: int = 32) -> None:
        self.engine = engine
        self.slots = max(1, slots)
        self.max_streams = max_streams
        self.streams = 0
        self._busy = 0
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self.decode_seconds = 0.0  # exponential average of one decode's wall time
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
        return len(self._waiters)

    @property
    def busy(self) -> int:
        """Slots decoding now."""
        return self._busy

    @property
    def load(self) -> float:
        """Queued decodes per slot (0 = idle)."""
        return (self._busy + len(self._waiters)) / self.slots

    # -- decoding ---------------------------------------------------------------------
    async def _acquire(self, priority: int) -> None:
        if self._busy < self.slots and not self._waiters:
            self._busy += 1
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (priority, next(_seq), fut))
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                self._release()  # we were granted the slot as we got cancelled
            raise

    def _release(self) -> None:
        while self._waiters:
            _, _, fut = heapq.heappop(self._waiters)
            if not fut.done():
                fut.set_result(None)
                return
        self._busy -= 1

    async def transcribe(self, audio: Audio, options: TranscribeOptions, *, final: bool = True,
                         background: bool = False, priority: int | None = None) -> Transcript:
        """Decode when a slot is free: live finals first, then partials, then ``background`` work
        (REST uploads, one piece at a time, so a live turn waits for one piece at most)."""
        waited = time.perf_counter()
        if priority is None:
            priority = BACKGROUND if background else FINAL if final else PARTIAL
        await self._acquire(priority)
        if self.on_wait is not None:
            self.on_wait(time.perf_counter() - waited, priority)
        try:
            t0 = time.perf_counter()
            result = await self.engine.transcribe(audio, options)
            dt = time.perf_counter() - t0
            self.decode_seconds = dt if not self.decode_seconds else 0.8 * self.decode_seconds + 0.2 * dt
            return result
        finally:
            self._release()


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
