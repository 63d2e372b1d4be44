"""The uniform contracts of every stage: data types, options, engines and streams.

An *engine* is loaded once per process and shared by every session (``prewarm`` loads
its weights; nothing loads on import). Blocking inference runs on the engine's own
bounded executor, never on the event loop.

A *stream* is per use: ``push(...)``, ``flush()``, ``end_input()``, ``aclose()`` and
``async for event in stream``. A backend implements one coroutine, ``_run``.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

from voxloop.aio import cancel_and_wait, create_named_task
from voxloop.audio.pcm import Audio, Float32Array
from voxloop.errors import BackendError, InvalidRequest, VoxloopError

__all__ = [
    "OFFLINE_BEAM_SIZE",
    "ASREngine",
    "Capabilities",
    "ChatMessage",
    "Engine",
    "EngineStream",
    "LLMEngine",
    "LLMOptions",
    "LLMStream",
    "Segment",
    "TTSEngine",
    "TTSOptions",
    "TranscribeOptions",
    "Transcript",
    "VADEngine",
    "VADEvent",
    "VADOptions",
    "Word",
    "iterate_in_thread",
]

T = TypeVar("T")
InT = TypeVar("InT")
EvT = TypeVar("EvT")

ASR_SAMPLE_RATE = 16000

# --------------------------------------------------------------------------- data types


@dataclass(frozen=True, slots=True)
class Word:
    start: float
    end: float
    word: str
    probability: float = 1.0


@dataclass(frozen=True, slots=True)
class Segment:
    start: float
    end: float
    text: str
    words: tuple[Word, ...] = ()
    avg_logprob: float = 0.0
    no_speech_prob: float = 0.0


@dataclass(frozen=True, slots=True)
class Transcript:
    text: str
    language: str
    duration: float
    segments: tuple[Segment, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "language": self.language,
            "duration": round(self.duration, 3),
            "segments": [
                {
                    "start": round(s.start, 3),
                    "end": round(s.end, 3),
                    "text": s.text,
                    "words": [
                        {
                            "start": round(w.start, 3),
                            "end": round(w.end, 3),
                            "word": w.word,
                            "probability": round(w.probability, 3),
                        }
                        for w in s.words
                    ],
                }
                for s in self.segments
            ],
        }


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: Literal["system", "user", "assistant"]
    content: str


@dataclass(frozen=True, slots=True)
class Capabilities:
    streaming: bool
    languages: tuple[str, ...]
    sample_rate: int


# --------------------------------------------------------------------------- options


@dataclass(frozen=True, slots=True)
class VADOptions:
    threshold: float = 0.5
    min_speech_ms: int = 250
    min_silence_ms: int = 500
    prefix_padding_ms: int = 300
    # > 0: emit a tentative ``pause`` after this much silence (and ``resume`` if speech comes
    # back before ``min_silence_ms``) so a reply can start speculatively.
    pause_ms: int = 0

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold < 1.0:
            raise InvalidRequest("threshold must be between 0 and 1", param="threshold")
        for name in ("min_speech_ms", "min_silence_ms", "prefix_padding_ms"):
            if getattr(self, name) < 0:
                raise InvalidRequest(f"{name} must be >= 0", param=name)


# Offline transcription (files: CLI, REST) decodes with beam search, as faster-whisper and
# OpenAI do; live turns and partials stay greedy (``TranscribeOptions()``) for latency.
OFFLINE_BEAM_SIZE = 5


@dataclass(frozen=True, slots=True)
class TranscribeOptions:
    language: str | None = None
    prompt: str | None = None
    hotwords: tuple[str, ...] = ()
    word_timestamps: bool = False
    beam_size: int = 1
    # "auto": a reduced encoder window for short audio; "full": always Whisper's 30 s.
    window: Literal["auto", "full"] = "auto"


@dataclass(frozen=True, slots=True)
class LLMOptions:
    temperature: float = 0.7
    top_p: float = 0.95
    max_tokens: int = 256
    stop: tuple[str, ...] = ()
    seed: int | None = None
    model: str | None = None


@dataclass(frozen=True, slots=True)
class TTSOptions:
    voice: str | None = None
    speed: float = 1.0

    def __post_init__(self) -> None:
        if not 0.25 <= self.speed <= 4.0:
            raise InvalidRequest("speed must be between 0.25 and 4.0", param="speed")


@dataclass(frozen=True, slots=True)
class VADEvent:
    """``kind`` is ``start``, ``pause``, ``resume`` or ``end``; times are seconds since the
    stream began. ``pause`` and ``end`` carry the utterance audio (16 kHz), prefix padding
    included.
    """

    kind: Literal["start", "pause", "resume", "end"]
    time: float
    audio: Audio | None = None
    speech_start: float = 0.0


# --------------------------------------------------------------------------- engines


class Engine(ABC):
    """Process-wide, shared. ``prewarm`` loads weights (idempotent, thread-safe)."""

    stage: str = ""
    name: str = ""

    def __init__(self, *, workers: int = 1) -> None:
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"{self.stage}-{self.name}")
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


# --------------------------------------------------------------------------- streams


class _Flush:
    __slots__ = ()


class _End:
    __slots__ = ()


FLUSH = _Flush()
_END = _End()


class EngineStream(ABC, Generic[InT, EvT]):
    """push / flush / end_input / aclose + ``async for event in stream``.

    Subclasses implement ``_run(inputs)``, reading items (or ``FLUSH`` markers) from
    ``inputs`` and calling ``self._emit(event)``. An exception in ``_run`` is raised to
    the consumer of the events.
    """

    def __init__(self, name: str) -> None:
        self._in: asyncio.Queue[InT | _Flush | _End] = asyncio.Queue()
        self._out: asyncio.Queue[EvT | _End | BaseException] = asyncio.Queue()
        self._input_ended = False
        self._task = create_named_task(self._main(), name)

    def push(self, item: InT) -> None:
        if self._input_ended:
            raise RuntimeError("push() after end_input()")
        self._in.put_nowait(item)

    def flush(self) -> None:
        if not self._input_ended:
            self._in.put_nowait(FLUSH)

    def end_input(self) -> None:
        if not self._input_ended:
            self._in.put_nowait(FLUSH)
            self._in.put_nowait(_END)
            self._input_ended = True

    async def aclose(self) -> None:
        """Stop at once and drop events not yet consumed: a closed stream yields nothing more."""
        self._input_ended = True
        await cancel_and_wait(self._task)
        while not self._out.empty():
            self._out.get_nowait()
        self._out.put_nowait(_END)

    def _emit(self, event: EvT) -> None:
        self._out.put_nowait(event)

    async def _inputs(self) -> AsyncIterator[InT | _Flush]:
        while True:
            item = await self._in.get()
            if isinstance(item, _End):
                return
            yield item

    @abstractmethod
    async def _run(self, inputs: AsyncIterator[InT | _Flush]) -> None: ...

    async def _main(self) -> None:
        try:
            await self._run(self._inputs())
        except asyncio.CancelledError:
            self._out.put_nowait(_END)
            raise
        except VoxloopError as e:
            self._out.put_nowait(e)
        except Exception as e:  # a backend bug or crash: surface it as a backend error
            err = BackendError(f"{type(self).__name__} failed: {e}")
            err.__cause__ = e
            self._out.put_nowait(err)
        self._out.put_nowait(_END)

    def __aiter__(self) -> EngineStream[InT, EvT]:
        return self

    async def __anext__(self) -> EvT:
        item = await self._out.get()
        if isinstance(item, _End):
            self._out.put_nowait(item)  # stay exhausted
            raise StopAsyncIteration
        if isinstance(item, BaseException):
            raise item
        return item


class LLMStream:
    """An async iterator of text deltas. ``aclose`` stops generation for real."""

    def __init__(self, deltas: AsyncIterator[str], on_close: Callable[[], None] | None = None) -> None:
        self._deltas = deltas
        self._on_close = on_close
        self.tokens = 0

    def __aiter__(self) -> LLMStream:
        return self

    async def __anext__(self) -> str:
        delta = await self._deltas.__anext__()
        self.tokens += 1
        return delta

    async def aclose(self) -> None:
        if self._on_close is not None:
            self._on_close()
        aclose = getattr(self._deltas, "aclose", None)
        if aclose is not None:
            with contextlib.suppress(RuntimeError):
                await aclose()


async def iterate_in_thread(
    factory: Callable[[], Iterator[T]],
    executor: ThreadPoolExecutor,
    stop: threading.Event | None = None,
    max_buffer: int = 64,
) -> AsyncIterator[T]:
    """Drive a blocking iterator on ``executor`` and yield its items on the event loop.

    Closing the async generator (or cancelling its consumer) sets ``stop``; the worker
    checks it between items and returns, so the blocking producer really stops.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
    stop = stop or threading.Event()
    room = threading.Semaphore(max_buffer)

    def put(kind: str, value: Any) -> None:
        with contextlib.suppress(RuntimeError):  # loop closed
            loop.call_soon_threadsafe(queue.put_nowait, (kind, value))

    def work() -> None:
        try:
            it = factory()
            try:
                for item in it:
                    while not room.acquire(timeout=0.05):
                        if stop.is_set():
                            return
                    if stop.is_set():
                        return
                    put("item", item)
                    if stop.is_set():
                        return
            finally:
                close = getattr(it, "close", None)
                if close is not None:
                    close()
        except BaseException as e:  # noqa: BLE001 - forwarded to the consumer
            put("error", e)
        finally:
            put("end", None)

    future = loop.run_in_executor(executor, work)
    try:
        while True:
            kind, value = await queue.get()
            if kind == "item":
                room.release()
                yield value
            elif kind == "error":
                raise value
            else:
                break
    finally:
        # The worker sees this between items and returns; we do not wait for it here so
        # that a barge-in never waits on the tail of a blocking call.
        stop.set()
        future.add_done_callback(lambda f: f.cancelled() or f.exception())
