"""Streaming TTS: push LLM text deltas, get audio clause by clause.

A :class:`~voxloop.engines.tts.chunker.ClauseChunker` cuts the text into clauses; each
clause is synthesized in order on the engine's executor while more text keeps
arriving. Every :class:`TTSChunk` says which clause it speaks (on the clause's first
chunk), so a session can keep in history only the text whose audio was played.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

import numpy as np

from voxloop.aio import cancel_and_wait, create_named_task, now
from voxloop.audio.pcm import Audio, StreamResampler
from voxloop.engines.base import TTSEngine
from voxloop.engines.executor import PRIORITY
from voxloop.engines.streams import EngineStream, _Flush
from voxloop.engines.tts.chunker import ClauseChunker
from voxloop.engines.types import PRIORITY_CONTINUATION, PRIORITY_LIVE, TTSOptions

__all__ = ["TTSChunk", "TTSStream", "tts_stream"]

logger = logging.getLogger(__name__)

DEFAULT_OPTIONS = TTSOptions()


@dataclass(frozen=True, slots=True)
class TTSChunk:
    """Audio of one clause, or part of it.

    ``text`` is the clause this audio speaks, set on the clause's first chunk and
    ``""`` on the chunks that follow it. A clause that produced no audio still gets
    one chunk (with empty audio) so its text is never lost.
    """

    audio: Audio
    text: str


class TTSStream(EngineStream[str, TTSChunk]):
    """push(text delta) / flush() / end_input() / aclose() + ``async for chunk in stream``.

    ``flush()`` speaks the pending text even without a sentence end; ``aclose()``
    stops at once: no event follows it and the engine stops after its current sentence.
    """

    def __init__(
        self,
        engine: TTSEngine,
        options: TTSOptions,
        *,
        sample_rate: int | None = None,
        chunker: ClauseChunker | None = None,
        priority: int = PRIORITY_LIVE,
    ) -> None:
        self._engine = engine
        self.priority = priority
        self._options = options
        self.sample_rate = sample_rate or engine.sample_rate
        self._chunker = chunker or ClauseChunker(first_min_words=4)  # early first audio
        self.first_clause_at: float | None = None  # voxloop.aio.now() when the first clause was complete
        self._first_audio_at: float | None = None  # when its first audio left this stream
        self._audio_s = 0.0  # seconds of audio it has given out
        super().__init__(f"tts-stream:{engine.name}")

    async def _run(self, inputs: AsyncIterator[str | _Flush]) -> None:
        clauses: asyncio.Queue[tuple[str, float] | None] = asyncio.Queue()  # (clause, when its text was complete)
        reader = create_named_task(self._read(inputs, clauses), "tts-stream:read")
        speaker = create_named_task(self._speak(clauses), "tts-stream:speak")
        try:
            done, _ = await asyncio.wait({reader, speaker}, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                task.result()  # re-raise the first failure
            await speaker  # the reader ended cleanly: let every clause be spoken
        finally:
            await cancel_and_wait(reader, speaker)

    async def _read(self, inputs: AsyncIterator[str | _Flush], clauses: asyncio.Queue[tuple[str, float] | None]) -> None:
        async for item in inputs:
            self._queue(self._chunker.flush() if isinstance(item, _Flush) else self._chunker.push(item), clauses)
        self._queue(self._chunker.flush(), clauses)
        clauses.put_nowait(None)

    def _queue(self, ready: list[str], clauses: asyncio.Queue[tuple[str, float] | None]) -> None:
        t = now()
        if ready and self.first_clause_at is None:
            self.first_clause_at = t
        for clause in ready:
            clauses.put_nowait((clause, t))

    async def _speak(self, clauses: asyncio.Queue[tuple[str, float] | None]) -> None:
        # this task's own context: the first clause at the stream's priority, later ones (the
        # first is already playing) after other replies' first clauses
        PRIORITY.set(self.priority)
        while (item := await clauses.get()) is not None:
            await self._speak_clause(*item)
            PRIORITY.set(max(self.priority, PRIORITY_CONTINUATION))

    def _left(self, at: float) -> float | None:
        """Seconds of this stream's audio still to play at ``at``, as if played from its first
        audio on without a pause (None before any audio): below 0, the listener hears a pause."""
        return None if self._first_audio_at is None else self._audio_s - (at - self._first_audio_at)

    async def _speak_clause(self, clause: str, ready_at: float) -> None:
        resampler = StreamResampler(self._engine.sample_rate, self.sample_rate)
        text = clause  # attached to the first chunk that has audio
        chunks = self._engine.synthesize(clause, self._options)
        t0 = now()
        try:
            async for audio in chunks:
                if text and logger.isEnabledFor(logging.DEBUG):  # a negative "left": who was late
                    logger.debug("clause of %d chars at priority %d: first audio after %.0f ms; audio left to "
                                 "play when its text was complete %s s, at its first audio %s s", len(clause),
                                 PRIORITY.get(), 1000 * (now() - t0), _seconds(self._left(ready_at)),
                                 _seconds(self._left(now())))
                samples = resampler.push(audio.samples)
                if len(samples):
                    self._emit_audio(TTSChunk(Audio(samples, self.sample_rate), text))
                    text = ""
        finally:
            aclose = getattr(chunks, "aclose", None)  # async generators: stop the engine now
            if aclose is not None:
                await aclose()
        tail = resampler.push(np.zeros(0, dtype=np.float32), last=True)
        if len(tail) or text:
            self._emit_audio(TTSChunk(Audio(tail, self.sample_rate), text))

    def _emit_audio(self, chunk: TTSChunk) -> None:
        if self._first_audio_at is None and len(chunk.audio.samples):
            self._first_audio_at = now()
        self._audio_s += chunk.audio.duration
        self._emit(chunk)


def _seconds(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def tts_stream(engine: TTSEngine, options: TTSOptions = DEFAULT_OPTIONS, *, sample_rate: int | None = None) -> TTSStream:
    """Open a streaming synthesis of text deltas; ``sample_rate`` resamples the output."""
    return TTSStream(engine, options, sample_rate=sample_rate)
