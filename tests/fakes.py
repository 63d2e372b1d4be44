"""Scripted fake engines for fast unit tests (no models)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator, Sequence

import numpy as np

from voxloop.audio.pcm import Audio, Float32Array
from voxloop.engines.base import ASREngine, LLMEngine, TTSEngine
from voxloop.engines.stack import EngineStack
from voxloop.engines.streams import LLMStream
from voxloop.engines.types import (
    ChatMessage,
    LLMChunk,
    LLMOptions,
    ToolCallDelta,
    TranscribeOptions,
    Transcript,
    TTSOptions,
)
from voxloop.engines.vad.energy import EnergyVAD


class FakeASR(ASREngine):
    name = "fake"

    def __init__(self, text: str = "hello there") -> None:
        super().__init__(workers=1)
        self.text = text
        self.calls = 0

    def transcribe_sync(self, audio: Audio, options: TranscribeOptions = TranscribeOptions()) -> Transcript:
        self.calls += 1
        words = self.text.split()
        n = max(1, min(len(words), int(audio.duration / 0.3)))
        return Transcript(" ".join(words[:n]), "en", audio.duration)


class FakeLLM(LLMEngine):
    name = "fake"

    def __init__(self, reply: str = "Sure. Here is a fine answer, with words.", delay: float = 0.005) -> None:
        super().__init__(workers=1)
        self.reply = reply
        self.delay = delay
        self.generated = 0
        self.requests: list[Sequence[ChatMessage]] = []

    def chat(self, messages: Sequence[ChatMessage], options: LLMOptions = LLMOptions()) -> LLMStream:
        self.requests.append(list(messages))

        async def gen() -> AsyncIterator[str]:
            for word in self.reply.split(" "):
                await asyncio.sleep(self.delay)
                self.generated += 1
                yield word + " "

        return LLMStream(gen())


class FakeTTS(TTSEngine):
    """A 440 Hz tone, ``seconds_per_word`` long per word."""

    name = "fake"
    sample_rate = 24000

    def __init__(self, seconds_per_word: float = 0.05) -> None:
        super().__init__(workers=1)
        self.spw = seconds_per_word
        self.lock = threading.Lock()

    def synthesize_sync(self, text: str, options: TTSOptions = TTSOptions()) -> Iterator[Float32Array]:
        n = int(self.sample_rate * self.spw * max(1, len(text.split())))
        t = np.arange(n) / self.sample_rate
        yield (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)


def fake_stack(*, inline: bool = False, **kw: object) -> EngineStack:
    """Fake engines (and the model-free energy VAD). ``inline``: blocking calls run in the
    event loop's thread, as a virtual clock needs (tests/virtual_time.py)."""
    engines = {"vad": EnergyVAD(), "asr": FakeASR(), "llm": FakeLLM(), "tts": FakeTTS()}
    engines.update(kw)  # type: ignore[arg-type]
    if inline:
        from tests.virtual_time import InlineExecutor

        for engine in engines.values():
            engine._executor = InlineExecutor()  # type: ignore[attr-defined]
    return EngineStack(engines=engines)  # type: ignore[arg-type]


def tone(seconds: float, rate: int = 24000, level: float = 0.3) -> Float32Array:
    t = np.arange(int(seconds * rate)) / rate
    return (level * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


def quiet(seconds: float, rate: int = 24000) -> Float32Array:
    return np.zeros(int(seconds * rate), np.float32)


class FakeTurn:
    """A turn detector that always (or never) thinks the user is done."""

    stage = "turn"
    name = "fake"

    def __init__(self, p: float) -> None:
        self.p = p
        self.calls = 0

    def prewarm(self) -> None:
        pass

    def close(self) -> None:
        pass

    async def probability(self, audio: Audio) -> float:
        self.calls += 1
        return self.p


class FakeToolLLM(LLMEngine):
    """Calls ``call`` = (name, arguments JSON) when offered tools (and tool_choice is not
    "none") unless the last message is a tool result; otherwise answers with ``reply``."""

    name = "fake-tools"

    def __init__(self, call: tuple[str, str] = ("get_weather", '{"city": "Paris"}'),
                 reply: str = "It is sunny in Paris.", pieces: int = 3) -> None:
        super().__init__(workers=1)
        self.call = call
        self.reply = reply
        self.pieces = pieces
        self.requests: list[tuple[list[ChatMessage], LLMOptions]] = []

    def chat(self, messages: Sequence[ChatMessage], options: LLMOptions = LLMOptions()) -> LLMStream:
        self.requests.append((list(messages), options))
        calls = bool(options.tools) and options.tool_choice != "none" and messages[-1].role != "tool"

        async def gen() -> AsyncIterator[LLMChunk]:
            await asyncio.sleep(0.005)
            if calls:
                name, args = self.call
                step = max(1, len(args) // self.pieces)
                for i in range(0, len(args), step):
                    yield ToolCallDelta(0, args[i:i + step], call_id="call_fake1" if i == 0 else None,
                                        name=name if i == 0 else None)
                return
            for word in self.reply.split(" "):
                await asyncio.sleep(0.005)
                yield word + " "

        return LLMStream(gen())
