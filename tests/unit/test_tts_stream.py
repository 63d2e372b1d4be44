"""TTSStream with a scripted fake TTS engine (no model)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import numpy as np
import pytest

from voxloop.audio.pcm import Float32Array
from voxloop.engines.base import TTSEngine
from voxloop.engines.tts.stream import TTSChunk, TTSStream, tts_stream
from voxloop.engines.types import TTSOptions
from voxloop.errors import BackendError

SAMPLES_PER_CHAR = 100


class FakeTTS(TTSEngine):
    """Yields one chunk per word (``SAMPLES_PER_CHAR`` samples per character, value 0.5).

    ``gate`` (when set) makes every chunk wait until the test releases it.
    """

    name = "fake"
    sample_rate = 16000

    def __init__(self, *, fail_on: str | None = None) -> None:
        super().__init__(workers=1)
        self.calls: list[tuple[str, float]] = []
        self.chunks_made = 0
        self.fail_on = fail_on
        self.gate: threading.Semaphore | None = None

    def synthesize_sync(self, text: str, options: TTSOptions = TTSOptions()) -> Iterator[Float32Array]:  # noqa: B008
        self.calls.append((text, options.speed))
        if self.fail_on and self.fail_on in text:
            raise BackendError(f"cannot say {text!r}")
        for word in text.split():
            if self.gate is not None and not self.gate.acquire(timeout=5):
                raise RuntimeError("test gate never opened")
            self.chunks_made += 1
            yield np.full(len(word) * SAMPLES_PER_CHAR, 0.5, dtype=np.float32)


async def collect(stream: TTSStream) -> list[TTSChunk]:
    return [chunk async for chunk in stream]


def spoken(chunks: list[TTSChunk]) -> list[str]:
    return [c.text for c in chunks if c.text]


async def test_clauses_are_spoken_in_order_with_their_text() -> None:
    engine = FakeTTS()
    stream = tts_stream(engine, TTSOptions(speed=1.5))
    for word in "Hello there! How are you today? I am fine, thanks.".split(" "):
        stream.push(word + " ")
    stream.end_input()
    chunks = await collect(stream)
    await stream.aclose()
    assert spoken(chunks) == ["Hello there!", "How are you today?", "I am fine, thanks."]
    assert [c for c, _ in engine.calls] == spoken(chunks)
    assert {speed for _, speed in engine.calls} == {1.5}
    total = sum(len(c.audio.samples) for c in chunks)
    letters = sum(len(w) for w in "Hello there! How are you today? I am fine, thanks.".split())
    assert total == letters * SAMPLES_PER_CHAR
    assert all(c.audio.sample_rate == 16000 for c in chunks)
    assert chunks[0].text == "Hello there!" and chunks[1].text == ""  # text on the first chunk only


async def test_first_clause_is_spoken_before_the_text_ends() -> None:
    engine = FakeTTS()
    stream = tts_stream(engine, TTSOptions())
    stream.push("Sure, I can do that. And then")
    first = await asyncio.wait_for(stream.__anext__(), 5)
    assert first.text == "Sure, I can do that."
    stream.push(" some more.")
    stream.end_input()
    rest = await collect(stream)
    await stream.aclose()
    assert spoken(rest) == ["And then some more."]


async def test_flush_speaks_pending_text_without_sentence_end() -> None:
    engine = FakeTTS()
    stream = tts_stream(engine, TTSOptions())
    stream.push("no punctuation here")
    stream.flush()
    first = await asyncio.wait_for(stream.__anext__(), 5)
    assert first.text == "no punctuation here"
    stream.end_input()
    assert spoken(await collect(stream)) == []  # only the rest of that clause's audio
    await stream.aclose()
    assert [c for c, _ in engine.calls] == ["no punctuation here"]


async def test_resamples_to_the_requested_rate() -> None:
    engine = FakeTTS()
    stream = tts_stream(engine, TTSOptions(), sample_rate=24000)
    stream.push("One two three. Four five six seven.")
    stream.end_input()
    chunks = await collect(stream)
    await stream.aclose()
    assert {c.audio.sample_rate for c in chunks} == {24000}
    assert spoken(chunks) == ["One two three.", "Four five six seven."]
    total = sum(len(c.audio.samples) for c in chunks)
    expected = sum(len(w) for w in "One two three. Four five six seven.".split()) * SAMPLES_PER_CHAR * 24000 // 16000
    assert abs(total - expected) <= 4  # every input sample is accounted for
    # Inside the second clause (16 kHz chunk edges at 400, 800, 1100): no clicks at the edges.
    second = np.concatenate([c.audio.samples for c in chunks])[1800 + 100 : 1800 + 2550 - 100]
    assert np.allclose(second, 0.5, atol=0.01)


async def test_aclose_stops_at_once() -> None:
    engine = FakeTTS()
    engine.gate = threading.Semaphore(2)  # two words, then synthesis blocks
    stream = tts_stream(engine, TTSOptions())
    stream.push("one two three four five six. Second sentence here.")
    stream.end_input()
    first = await asyncio.wait_for(stream.__anext__(), 5)
    assert first.text.startswith("one two")
    await stream.aclose()
    for _ in range(10):
        engine.gate.release()  # let the worker run: it must notice the stop and return
    await asyncio.sleep(0.2)
    made = engine.chunks_made
    assert made <= 4  # stopped within a chunk or two of the close, never reached the end
    assert [c for c, _ in engine.calls] == ["one two three four five six."]  # second clause never started
    with pytest.raises(StopAsyncIteration):
        await stream.__anext__()  # no more events
    await asyncio.sleep(0.1)
    assert engine.chunks_made == made


async def test_engine_error_reaches_the_consumer() -> None:
    engine = FakeTTS(fail_on="boom")
    stream = tts_stream(engine, TTSOptions())
    stream.push("This is fine. But boom now.")
    stream.end_input()
    got: list[TTSChunk] = []
    with pytest.raises(BackendError, match="boom"):
        async for chunk in stream:
            got.append(chunk)
    await stream.aclose()
    assert spoken(got) == ["This is fine."]


async def test_clause_without_audio_still_reports_its_text() -> None:
    class Silent(FakeTTS):
        def synthesize_sync(self, text: str, options: TTSOptions = TTSOptions()) -> Iterator[Float32Array]:  # noqa: B008
            return iter(())

    stream = tts_stream(Silent(), TTSOptions())
    stream.push("Quiet please.")
    stream.end_input()
    chunks = await collect(stream)
    await stream.aclose()
    assert [(c.text, len(c.audio.samples)) for c in chunks] == [("Quiet please.", 0)]


async def test_markdown_and_emojis_never_reach_the_engine() -> None:
    engine = FakeTTS()
    stream = tts_stream(engine, TTSOptions())
    stream.push("**Done** 🎉!\n```\ncode()\n```\nBye.")
    stream.end_input()
    await collect(stream)
    await stream.aclose()
    assert [c for c, _ in engine.calls] == ["Done!", "Bye."]
