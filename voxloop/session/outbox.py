"""The session's outgoing queue: control events overtake media, audio is paced.

Control events (speech started, cancellations, errors, transcripts) always go out first.
Media events (a reply's audio and the transcript/done events ordered with it) go out in order,
with audio paced so that the client never holds more than ``lead`` seconds of unplayed audio:
a barge-in then only has to drop what is queued here and what the client buffers.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["Outbox"]

Event = dict[str, Any]


@dataclass(slots=True)
class Media:
    event: Event
    response_id: str
    seconds: float = 0.0  # audio duration carried by this event


class Outbox:
    def __init__(self, send: Callable[[Event], Awaitable[None]], *, lead: float = 0.3) -> None:
        self._send = send
        self.lead = lead
        self._control: collections.deque[Event] = collections.deque()
        self._media: collections.deque[Media] = collections.deque()
        self._wake = asyncio.Event()
        self.play_until = 0.0  # monotonic time when the client finishes playing what we sent
        self.on_media_sent: Callable[[Media, float], None] | None = None

    def control(self, event: Event) -> None:
        self._control.append(event)
        self._wake.set()

    def media(self, event: Event, response_id: str, seconds: float = 0.0) -> None:
        self._media.append(Media(event, response_id, seconds))
        self._wake.set()

    def drop_media(self, response_id: str | None = None) -> int:
        """Drop queued media (all, or one response's). Returns how many events were dropped."""
        before = len(self._media)
        if response_id is None:
            self._media.clear()
        else:
            self._media = collections.deque(m for m in self._media if m.response_id != response_id)
        return before - len(self._media)

    def has_media(self, response_id: str) -> bool:
        return any(m.response_id == response_id for m in self._media)

    @property
    def client_playing(self) -> bool:
        return self.play_until > time.monotonic()

    def reset_playback(self) -> None:
        self.play_until = time.monotonic()

    async def run(self) -> None:
        """The sender loop (one task per session)."""
        while True:
            if self._control:
                await self._send(self._control.popleft())
                continue
            if self._media:
                item = self._media[0]
                now = time.monotonic()
                wait = self.play_until - now - self.lead if item.seconds else 0.0
                if wait > 0:
                    self._wake.clear()
                    try:  # wake early if a control event (or a drop) arrives
                        await asyncio.wait_for(self._wake.wait(), wait)
                    except TimeoutError:
                        pass
                    continue
                self._media.popleft()
                if item.seconds:
                    self.play_until = max(self.play_until, now) + item.seconds
                if self.on_media_sent is not None:  # before the send: once popped, it is leaving
                    self.on_media_sent(item, now)
                await self._send(item.event)
                continue
            self._wake.clear()
            await self._wake.wait()
