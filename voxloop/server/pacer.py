"""The outgoing side of a realtime connection: control events overtake media, audio is paced.

Control events (speech started, cancellations, errors, transcripts) always go out first.
Reply events (a reply's audio and the transcript/done events ordered with it) go out in order,
with audio paced so that the client never holds more than ``lead`` seconds of unplayed audio:
a barge-in then only has to drop what is queued here and what the client buffers. Each event
is rendered to the wire (``voxloop.server.wire``) as it leaves. When a reply's next audio leaves
after the client has played everything sent before it (its next clause was late), the pause is
reported (``on_gap``: the ``voxloop_reply_audio_gap_seconds`` histogram).
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Awaitable, Callable
from typing import Any

from voxloop.aio import now
from voxloop.server.wire import render
from voxloop.session.events import AudioOut, ReplyEvent, SessionEvent

__all__ = ["Pacer"]

Wire = dict[str, Any]
_GAP_S = 0.01  # a reply's audio that resumes later than this after the client ran out has a gap


class Pacer:
    """Implements :class:`voxloop.session.events.Output` for one WebSocket client."""

    def __init__(self, send: Callable[[Wire], Awaitable[None]], *, lead: float = 0.3,
                 extensions: Callable[[], bool] = lambda: False, max_backlog: int = 0,
                 on_overflow: Callable[[], None] | None = None,
                 observe: Callable[[SessionEvent | Wire], None] | None = None,
                 on_gap: Callable[[float], None] | None = None) -> None:
        self._send = send
        self._observe = observe  # sees every event as it leaves (metrics)
        self.lead = lead
        self.extensions = extensions  # send voxloop.* events (the client opted in)
        self._control: collections.deque[SessionEvent | Wire] = collections.deque()
        self._media: collections.deque[ReplyEvent] = collections.deque()
        self._wake = asyncio.Event()
        self.play_until = 0.0  # monotonic time when the client finishes playing what we sent
        self.on_media_sent: Callable[[ReplyEvent, float], None] | None = None
        self.max_backlog = max_backlog  # control events queued before on_overflow (0: no limit)
        self.on_overflow = on_overflow
        self.on_gap = on_gap  # seconds a reply's audio paused: the client had played all it was sent
        self._speaking: str | None = None  # the response whose audio went out last

    def control(self, event: SessionEvent | Wire) -> None:
        """A session event, or a wire event the server made itself (session.created, errors)."""
        self._control.append(event)
        self._wake.set()
        if self.max_backlog and len(self._control) > self.max_backlog and self.on_overflow is not None:
            self._control.clear()  # the client does not read: what is queued will not be read either
            self.on_overflow()

    def media(self, event: ReplyEvent) -> None:
        self._media.append(event)
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
        return self.play_until > now()

    def reset_playback(self) -> None:
        self.play_until = now()
        self._speaking = None

    async def _emit(self, event: SessionEvent | Wire) -> None:
        if self._observe is not None:
            self._observe(event)
        if isinstance(event, dict):
            await self._send(event)
            return
        for wire in render(event, extensions=self.extensions()):
            await self._send(wire)

    def _played(self, response_id: str, t: float) -> None:
        """Audio of ``response_id`` leaves at ``t``: if the client ran out of this reply's audio
        before it (the next clause was not ready), that pause is a gap the user heard."""
        gap = t - self.play_until
        if response_id == self._speaking and gap >= _GAP_S and self.on_gap is not None:
            self.on_gap(gap)
        self._speaking = response_id

    async def run(self) -> None:
        """The sender loop (one task per connection)."""
        while True:
            if self._control:
                await self._emit(self._control.popleft())
                continue
            if self._media:
                item = self._media[0]
                seconds = item.seconds if isinstance(item, AudioOut) else 0.0
                t = now()
                wait = self.play_until - t - self.lead if seconds else 0.0
                if wait > 0.001:  # (sub-millisecond waits would only spin)
                    self._wake.clear()
                    try:  # wake early if a control event (or a drop) arrives
                        async with asyncio.timeout(wait):  # (wait_for can swallow a cancel in 3.11)
                            await self._wake.wait()
                    except TimeoutError:
                        pass
                    continue
                self._media.popleft()
                if seconds:
                    self._played(item.response_id, t)
                    self.play_until = max(self.play_until, t) + seconds
                if self.on_media_sent is not None:  # before the send: once popped, it is leaving
                    self.on_media_sent(item, t)
                await self._emit(item)
                continue
            self._wake.clear()
            await self._wake.wait()
