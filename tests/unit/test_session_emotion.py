"""Emotion in a session (scripted fakes, virtual clock): the hint reaches the LLM right before
the user's message, the reply's voice follows the delivery table, ``voxloop.input_emotion``
goes out only to clients that opted in, and ``session.voxloop.emotion: false`` turns it off."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.fakes import FakeASR, FakeLLM, FakeTTS, quiet, tone
from tests.unit.test_session import Harness
from tests.virtual_time import VirtualTimePolicy
from voxloop.audio.pcm import Float32Array
from voxloop.dialogue.emotion import DEFAULT_DELIVERY, EmotionSettings
from voxloop.engines.types import TTSOptions
from voxloop.session.config import SessionConfig

ANGRY = "this is ridiculous and I hate this stupid thing"


class RecordingTTS(FakeTTS):
    def __init__(self) -> None:
        super().__init__()
        self.options: list[TTSOptions] = []

    def synthesize_sync(self, text: str, options: TTSOptions = TTSOptions()) -> Iterator[Float32Array]:
        self.options.append(options)
        yield from super().synthesize_sync(text, options)


@pytest.fixture
def event_loop_policy() -> VirtualTimePolicy:
    return VirtualTimePolicy()


async def _turn(config: SessionConfig, text: str) -> tuple[Harness, FakeLLM, RecordingTTS]:
    llm, tts = FakeLLM(), RecordingTTS()
    h = Harness(config, asr=FakeASR(text), llm=llm, tts=tts)
    await h.start()
    try:
        await h.feed(quiet(0.3))
        await h.feed(tone(3.0))
        await h.feed(quiet(1.0))
        await h.until(lambda e: e["type"] == "response.done")
    finally:
        await h.aclose()
    return h, llm, tts


def _emotion_events(h: Harness) -> list[dict[str, Any]]:
    return [e for e in h.events if e["type"] == "voxloop.input_emotion"]


async def test_the_hint_reaches_the_llm_and_the_event_goes_out() -> None:
    h, llm, tts = await _turn(SessionConfig(voxloop_events=True, speed=1.0), ANGRY)
    messages = llm.requests[-1]
    assert messages[-1].role == "user" and messages[-1].content == ANGRY
    assert messages[-2].role == "system" and messages[-2].content.startswith("The user sounds angry")
    (ev,) = _emotion_events(h)
    user_item = h.session.conversation.items[0]
    assert ev["item_id"] == user_item.id and ev["emotion"]["label"] == "angry"
    assert ev["voice"]["f0_median_hz"] == pytest.approx(220, rel=0.02)  # the fake speech is a 220 Hz tone
    t = h.types()
    assert t.index("conversation.item.input_audio_transcription.completed") < t.index("voxloop.input_emotion")
    d = DEFAULT_DELIVERY["angry"]
    assert tts.options and all(o.speed == d.speed and o.noise_scale == d.noise_scale for o in tts.options)
    # the hint is for this reply only: history keeps the user's words, not the hint
    assert [i.role for i in h.session.conversation.items] == ["user", "assistant"]


async def test_no_event_without_extensions_and_a_neutral_turn_gets_no_hint() -> None:
    h, llm, tts = await _turn(SessionConfig(), "what time is it in tokyo")
    assert _emotion_events(h) == []
    assert [m.role for m in llm.requests[-1]] == ["user"]
    assert all(o.noise_scale is None and o.speed == 1.0 for o in tts.options)


async def test_emotion_off_means_no_hint_no_delivery_no_event() -> None:
    cfg = SessionConfig(voxloop_events=True, emotion=EmotionSettings(enabled=False))
    h, llm, tts = await _turn(cfg, ANGRY)
    assert _emotion_events(h) == []
    assert [m.role for m in llm.requests[-1]] == ["user"]
    assert all(o.noise_scale is None for o in tts.options)
