"""Emotion in a session: estimate it per user turn, hint the LLM, shape the reply's voice.

The session calls :meth:`EmotionTracker.estimate` once the final transcript of a turn is known
(speculative turns too: their reply needs it), :meth:`messages` / :meth:`tts_options` when it
builds the reply, and :meth:`confirmed` once the turn is really over: only confirmed turns
join the session's voice baseline, and only they are reported (``UserEmotion``, rendered as
``voxloop.input_emotion`` for clients that asked for extension events).

The work (VADER, the pitch tracker: ~3 ms per second of audio, at most the turn's last
:data:`MAX_SECONDS`) runs off the event loop, on the executor the session hands over: the
VAD engine's (short jobs, bounded like every engine pool), so a fake stack's inline executor
keeps tests on a virtual clock deterministic.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from voxloop.audio.pcm import Audio
from voxloop.audio.prosody import Prosody, analyze
from voxloop.dialogue.arousal import VoiceBaseline, combine
from voxloop.dialogue.emotion import Emotion, EmotionSettings, text_emotion
from voxloop.engines.types import ChatMessage, TTSOptions
from voxloop.session.events import SessionEvent, UserEmotion

__all__ = ["EmotionTracker", "TurnEmotion"]

RATE = 16000
MAX_SECONDS = 12.0  # the voice of a long turn: its end is what the reply answers
Run = Callable[..., Awaitable[Any]]  # run_blocking(fn, *args)


@dataclass(frozen=True, slots=True)
class TurnEmotion:
    emotion: Emotion
    prosody: Prosody | None


def _measure(text: str, audio: Audio | None) -> tuple[Emotion, Prosody | None]:
    emotion = text_emotion(text)
    if audio is None or audio.duration < 0.3:
        return emotion, None
    a = audio.to(RATE)
    samples = a.samples[-int(MAX_SECONDS * RATE):]
    words = len(text.split())
    if len(samples) < len(a.samples):  # the words of the part kept, pro rata
        words = max(1, round(words * len(samples) / len(a.samples)))
    return emotion, analyze(samples, RATE, words=words)


class EmotionTracker:
    """One per session: the voice baseline and the last estimates by item id."""

    def __init__(self, run: Run | None = None) -> None:
        self.baseline = VoiceBaseline()
        self.run: Run = run or asyncio.to_thread  # where the numpy work runs
        self._last: dict[str, TurnEmotion] = {}

    async def estimate(self, settings: EmotionSettings, item_id: str, text: str,
                       audio: Audio | None) -> TurnEmotion | None:
        if not settings.enabled or not text.strip():
            return None
        emotion, prosody = await self.run(_measure, text, audio)
        if prosody is not None:
            emotion = combine(emotion, self.baseline.arousal(prosody))
        result = TurnEmotion(emotion, prosody)
        self._last[item_id] = result
        while len(self._last) > 8:
            self._last.pop(next(iter(self._last)))
        return result

    @staticmethod
    def messages(settings: EmotionSettings, turn: TurnEmotion | None) -> list[ChatMessage]:
        """The system hint to put right before the user's message (or nothing)."""
        line = settings.hint_for(turn.emotion if turn else None)
        return [ChatMessage("system", line)] if line else []

    @staticmethod
    def tts_options(settings: EmotionSettings, turn: TurnEmotion | None, speed: float) -> TTSOptions | None:
        """The reply's voice for this emotion, or ``None`` for the session's plain voice."""
        d = settings.delivery_for(turn.emotion if turn else None)
        if d is None:
            return None
        return TTSOptions(voice=None, speed=min(4.0, max(0.25, speed * d.speed)), noise_scale=d.noise_scale)

    def confirmed(self, item_id: str, control: Callable[[SessionEvent], None]) -> None:
        """The turn is over: it joins the baseline, its emotion is reported."""
        turn = self._last.pop(item_id, None)
        if turn is None:
            return
        if turn.prosody is not None:
            self.baseline.observe(item_id, turn.prosody)
        voice = turn.prosody.as_dict() if turn.prosody is not None else None
        control(UserEmotion(item_id, turn.emotion.as_dict(), voice))
