"""Input-side state of a session: the 16 kHz input buffer and a pending user turn."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import numpy as np

from voxloop.audio.pcm import Audio, Float32Array
from voxloop.session.reply import Reply

__all__ = ["RATE", "InputBuffer", "Turn"]

RATE = 16000


class InputBuffer:
    """16 kHz input audio addressed by absolute stream time (seconds)."""

    def __init__(self) -> None:
        self._chunks: list[Float32Array] = []
        self.start = 0.0  # absolute time of the first kept sample
        self.end = 0.0  # absolute time after the last sample

    def append(self, x: Float32Array) -> None:
        if len(x):
            self._chunks.append(x)
            self.end += len(x) / RATE

    def samples(self, since: float | None = None) -> Float32Array:
        data = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.float32)
        if len(self._chunks) > 1:
            self._chunks = [data]
        if since is None or since <= self.start:
            return data
        return data[int((since - self.start) * RATE) :]

    def drop_before(self, t: float) -> None:
        if t <= self.start:
            return
        data = self.samples(t)
        self._chunks = [data] if len(data) else []
        self.start = min(t, self.end)

    def clear(self) -> None:
        self._chunks = []
        self.start = self.end

    @property
    def seconds(self) -> float:
        return self.end - self.start


@dataclass
class Turn:
    item_id: str
    audio: Audio
    speculative: bool
    confirmed: asyncio.Event = field(default_factory=asyncio.Event)
    speech_end_wall: float | None = None
    task: asyncio.Task[None] | None = None
    reply: Reply | None = None
    create_response: bool = True
