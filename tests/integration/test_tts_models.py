"""The embedded Piper voice (en_US-joe-medium): real speech, speed, streaming, concurrency."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from voxloop.engines.tts.piper import PiperTTS
from voxloop.engines.tts.stream import tts_stream
from voxloop.engines.types import TTSOptions

pytestmark = pytest.mark.models

TEXT = "Hello there, this is a test of the voice engine."


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x)))) if len(x) else 0.0


def test_speaks_at_the_voice_rate_and_speed_makes_it_shorter(real_tts: PiperTTS) -> None:
    assert real_tts.sample_rate == 22050
    chunks = list(real_tts.synthesize_sync(TEXT))
    assert chunks and all(c.dtype == np.float32 and c.ndim == 1 for c in chunks)
    normal = np.concatenate(chunks)
    assert 1.5 < len(normal) / 22050 < 6.0
    assert rms(normal) > 0.02 and np.abs(normal).max() <= 1.0
    fast = np.concatenate(list(real_tts.synthesize_sync(TEXT, TTSOptions(speed=2.0))))
    assert len(fast) < 0.7 * len(normal)


def test_one_chunk_per_sentence(real_tts: PiperTTS) -> None:
    assert len(list(real_tts.synthesize_sync("One sentence. And another one!"))) == 2
    assert list(real_tts.synthesize_sync("  ")) == []


async def test_stream_resampled_for_the_realtime_protocol(real_tts: PiperTTS) -> None:
    stream = tts_stream(real_tts, TTSOptions(), sample_rate=24000)
    for word in "Sure, I can help with that. The weather today is sunny and warm.".split(" "):
        stream.push(word + " ")
    stream.end_input()
    chunks = [c async for c in stream]
    await stream.aclose()
    assert [c.text for c in chunks if c.text] == ["Sure, I can help with that.", "The weather today is sunny and warm."]
    assert {c.audio.sample_rate for c in chunks} == {24000}
    audio = np.concatenate([c.audio.samples for c in chunks])
    assert rms(audio) > 0.02 and len(audio) / 24000 > 2.0


async def test_two_concurrent_syntheses(real_tts: PiperTTS) -> None:
    async def say(text: str) -> np.ndarray:
        return np.concatenate([a.samples async for a in real_tts.synthesize(text)])

    a, b = await asyncio.gather(say("The first voice speaks."), say("And the second voice answers."))
    assert rms(a) > 0.02 and rms(b) > 0.02
