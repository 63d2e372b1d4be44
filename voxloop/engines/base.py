"""The engine contracts of every stage (abstract classes).

An *engine* is loaded once per process and shared by every session (``prewarm`` loads
its weights; nothing loads on import). Blocking inference runs on the engine's own
bounded executor, never on the event loop. Data types and options live in
``voxloop.engines.types``, the stream contract in ``voxloop.engines.streams``, the thread
bridge in ``voxloop.engines.threads``.
"""

from __future__ import annotations

import asyncio
import threading
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Hashable, Iterator, Sequence
from concurrent.futures import Executor
from typing import Any, TypeVar

from voxloop.audio.pcm import Audio, Float32Array
from voxloop.engines.executor import PriorityExecutor
from voxloop.engines.streams import EngineStream, LLMStream
from voxloop.engines.threads import iterate_in_thread
from voxloop.engines.types import (
    ASR_SAMPLE_RATE,
    Capabilities,
    ChatMessage,
    LLMOptions,
    TranscribeOptions,
    Transcript,
    TTSOptions,
    VADEvent,
    VADOptions,
)

__all__ = ["ASREngine", "Engine", "LLMEngine", "TTSEngine", "VADEngine"]

T = TypeVar("T")



class Engine(ABC):
    """Process-wide, shared. ``prewarm`` loads weights (idempotent, thread-safe)."""

    stage: str = ""
    name: str = ""

    def __init__(self, *, workers: int = 1, live_workers: int = 0) -> None:
        # jobs queue by the submitting context's priority (voxloop.engines.executor.PRIORITY);
        # ``live_workers`` more threads take live jobs only (never one queued behind later work)
        self._executor: Executor = PriorityExecutor(workers, thread_name_prefix=f"{self.stage}-{self.name}",
                                                    reserved=live_workers)
        self._load_lock = threading.Lock()
        self._loaded = False

    def prewarm(self) -> None:
        with self._load_lock:
            if not self._loaded:
                self._load()
                self._loaded = True

    def _load(self) -> None:  # noqa: B027 - optional hook
        """Load weights. Called once, under a lock."""

    def describe(self) -> dict[str, str]:
        """What this engine is and where its weights come from (for ``voxloop models``)."""
        return {"backend": self.name}

    async def run_blocking(self, fn: Callable[..., T], *args: Any) -> T:
        """Run blocking inference on this engine's bounded executor."""
        if not self._loaded:
            await asyncio.get_running_loop().run_in_executor(self._executor, self.prewarm)
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


class VADEngine(Engine):
    stage = "vad"
    sample_rate = 16000

    chunk_samples = 512  # 32 ms at 16 kHz

    @abstractmethod
    def stream(self, options: VADOptions = VADOptions()) -> EngineStream[Float32Array, VADEvent]:
        """A per-use stream: push 16 kHz float32 frames, get ``start``/``end`` events."""

    @abstractmethod
    def speech_probabilities(self, samples: Float32Array) -> Float32Array:
        """Blocking: one speech probability per ``chunk_samples`` chunk of 16 kHz audio."""


class ASREngine(Engine):
    stage = "asr"
    capabilities = Capabilities(streaming=False, languages=("en",), sample_rate=ASR_SAMPLE_RATE)

    @abstractmethod
    def transcribe_sync(self, audio: Audio, options: TranscribeOptions = TranscribeOptions()) -> Transcript:
        """Blocking transcription of one utterance or file-chunk (16 kHz)."""

    async def transcribe(self, audio: Audio, options: TranscribeOptions = TranscribeOptions()) -> Transcript:
        return await self.run_blocking(self.transcribe_sync, audio.to(ASR_SAMPLE_RATE), options)

    def batch_key(self, audio: Audio, options: TranscribeOptions) -> Hashable | None:
        """Decodes with equal keys can run as one batch (``transcribe_batch``); ``None``: only alone.
        Engines that batch (CTranslate2 Whisper) override this; the default never batches."""
        return None

    def transcribe_batch_sync(self, items: Sequence[tuple[Audio, TranscribeOptions]]) -> list[Transcript]:
        """Blocking: several decodes with one ``batch_key`` at once, results in order. The default runs
        them one by one; an engine that batches runs them together, with the transcripts they would get alone."""
        return [self.transcribe_sync(audio, options) for audio, options in items]

    async def transcribe_batch(self, items: Sequence[tuple[Audio, TranscribeOptions]]) -> list[Transcript]:
        resampled = [(audio.to(ASR_SAMPLE_RATE), options) for audio, options in items]
        return await self.run_blocking(self.transcribe_batch_sync, resampled)


class LLMEngine(Engine):
    stage = "llm"

    @abstractmethod
    def chat(self, messages: Sequence[ChatMessage], options: LLMOptions = LLMOptions()) -> LLMStream:
        """Start a streamed chat completion; iterate text deltas, ``aclose`` stops generation."""

    def count_tokens(self, text: str) -> int:
        """Token count used for history budgets. Backends with a tokenizer override this."""
        return max(1, len(text) // 4)


class TTSEngine(Engine):
    stage = "tts"
    sample_rate: int = 22050

    @abstractmethod
    def synthesize_sync(self, text: str, options: TTSOptions = TTSOptions()) -> Iterator[Float32Array]:
        """Blocking synthesis; yields float32 chunks at ``self.sample_rate`` (one per sentence or so)."""

    def synthesize(self, text: str, options: TTSOptions = TTSOptions()) -> AsyncIterator[Audio]:
        """Async synthesis of a whole text, chunk by chunk, off the event loop."""

        async def gen() -> AsyncIterator[Audio]:
            if not self._loaded:
                await asyncio.get_running_loop().run_in_executor(self._executor, self.prewarm)
            async for chunk in iterate_in_thread(lambda: self.synthesize_sync(text, options), self._executor):
                yield Audio(chunk, self.sample_rate)

        return gen()
