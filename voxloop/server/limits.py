"""Limits on one realtime connection: idle time, total duration, a client that does not read.

A socket that sends no audio and no events for ``idle_timeout_s`` is closed, and so is any
session that has run ``max_session_seconds``; each gets an ``error`` event naming the limit,
then a close frame with its own code. A client that reads nothing for ``send_timeout_s`` (or
lets ``max_send_backlog`` events pile up) is dropped without one: it would not read it.
"""

from __future__ import annotations

import enum

from voxloop.aio import now
from voxloop.server.config import ServerConfig

__all__ = ["Ending", "Watch"]


class Ending(enum.Enum):
    """Why the server ended a connection: (error code, WebSocket close code)."""

    IDLE = ("idle_timeout", 4408)
    DURATION = ("session_expired", 4410)
    SLOW_READER = ("slow_reader", 1008)

    @property
    def code(self) -> str:
        return self.value[0]

    @property
    def close_code(self) -> int:
        return self.value[1]

    def message(self, config: ServerConfig) -> str:
        if self is Ending.IDLE:
            return (f"no audio and no events for {config.idle_timeout_s:g} seconds; the session is closed "
                    "(reconnect with the resume token to continue)")
        if self is Ending.DURATION:
            return (f"the session reached its maximum duration of {config.max_session_seconds:g} seconds; "
                    "reconnect with the resume token to continue")
        return "the client did not read what the server sent; the connection is dropped"


class Watch:
    """The clock of one connection (``voxloop.aio.now``: virtual in tests)."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.started = self.last = now()
        self.ending: Ending | None = None

    def activity(self) -> None:
        self.last = now()

    def _deadlines(self) -> tuple[float, float]:
        return self.last + self.config.idle_timeout_s, self.started + self.config.max_session_seconds

    def wait_s(self) -> float:
        """How long the next receive may wait before a limit is reached."""
        return max(0.0, min(self._deadlines()) - now())

    def timed_out(self) -> None:
        """A receive waited :meth:`wait_s`: record which limit it reached."""
        idle, duration = self._deadlines()
        self.end(Ending.DURATION if duration <= idle else Ending.IDLE)

    def end(self, why: Ending) -> None:
        if self.ending is None:
            self.ending = why
