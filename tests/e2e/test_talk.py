"""``voxloop talk`` with the real embedded models and an injected audio source and sink (no
device): a spoken question gets a spoken answer with the transcript on screen, and speaking
over a long reply interrupts it (the sink is told to drop its queued audio)."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator

import numpy as np
import pytest

import voxloop
from tests.support import silence, speak
from voxloop.audio.pcm import float_to_pcm16
from voxloop.cli.talk import talk
from voxloop.engines.stack import EngineStack

pytestmark = pytest.mark.models
RATE = 24000


@pytest.fixture(scope="module")
def stack() -> EngineStack:
    return voxloop.Pipeline().stack()


def _pcm(samples: np.ndarray) -> bytes:
    return float_to_pcm16(samples)


async def test_talk_answers_a_spoken_question(stack: EngineStack) -> None:
    pcm = _pcm(np.concatenate([silence(0.3), speak("What is the capital of France?"), silence(1.5)]))
    source, sink, screen = voxloop.BufferSource(pcm, RATE), voxloop.BufferSink(RATE), io.StringIO()
    transcript = await talk(voxloop.Agent("You are a helpful assistant. Answer in one short sentence."),
                            None, source, sink, out=screen, replies=1, stack=stack)
    shown = screen.getvalue()
    assert "you: " in shown and "france" in shown.lower(), shown
    assert "agent: " in shown, shown
    assert [r for r, _ in transcript] == ["user", "assistant"], transcript
    assert len(sink.played) > RATE  # more than half a second of the answer reached the speaker


class InterruptingSource:
    """A microphone that asks for a story, stays quiet until the story has been playing for a
    second, then speaks over it."""

    sample_rate = RATE

    def __init__(self, sink: voxloop.BufferSink) -> None:
        self.sink = sink

    async def chunks(self) -> AsyncIterator[bytes]:
        ask = _pcm(np.concatenate([silence(0.3), speak("Tell me a long story about a dragon."), silence(1.0)]))
        async for chunk in voxloop.BufferSource(ask, RATE).chunks():
            yield chunk
        frame = _pcm(silence(0.02))
        while len(self.sink.played) < 2 * RATE:  # until a second of the story was played
            yield frame
            await asyncio.sleep(0.02)
        stop = _pcm(np.concatenate([speak("Stop. Wait a moment please."), silence(1.5)]))
        async for chunk in voxloop.BufferSource(stop, RATE).chunks():
            yield chunk
            await asyncio.sleep(0.02)  # a microphone: real time


async def test_speaking_over_the_agent_interrupts_it(stack: EngineStack) -> None:
    sink, screen = voxloop.BufferSink(RATE), io.StringIO()
    agent = voxloop.Agent("You are a storyteller. Always tell long, detailed stories.")
    transcript = await talk(agent, None, InterruptingSource(sink), sink, out=screen, stack=stack)
    shown = screen.getvalue()
    assert "[interrupted]" in shown, shown
    assert sink.cleared >= 1
    roles = [r for r, _ in transcript]
    assert roles[:3] == ["user", "assistant", "user"], transcript
