"""The machine's default microphone and speakers (PortAudio via ``sounddevice``, the ``talk``
extra), as an :class:`~voxloop.api.conversation.AudioSource` and ``AudioSink``; and
in-memory ones for tests and scripts (:class:`BufferSource`, :class:`BufferSink`)."""

from __future__ import annotations

import asyncio
import collections
import threading
from collections.abc import AsyncIterator
from typing import Any

from voxloop.errors import MissingDependency, VoxloopError

__all__ = ["BufferSink", "BufferSource", "NoAudioDevice", "Microphone", "Speaker", "open_devices"]

FRAME_MS = 20


class NoAudioDevice(VoxloopError):
    """No usable microphone or speaker (or PortAudio is missing)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code="no_audio_device", retryable=False)


def _sounddevice() -> Any:
    try:
        import sounddevice
    except ImportError as e:
        raise MissingDependency("voxloop talk needs sounddevice: pip install 'voxloop[talk]'") from e
    except OSError as e:  # the wheel is there but PortAudio is not
        raise NoAudioDevice(f"PortAudio is not available ({e}); apt install libportaudio2") from e
    return sounddevice


def open_devices(sample_rate: int = 24000) -> tuple[Microphone, Speaker]:
    """The default input and output devices, or :class:`NoAudioDevice` saying what is missing."""
    sd = _sounddevice()
    try:
        sd.check_input_settings(samplerate=sample_rate, channels=1, dtype="int16")
        sd.check_output_settings(samplerate=sample_rate, channels=1, dtype="int16")
    except Exception as e:  # PortAudioError, ValueError: no such device, no default device
        raise NoAudioDevice(f"no usable microphone and speaker on this machine ({e})") from e
    return Microphone(sd, sample_rate), Speaker(sd, sample_rate)


class Microphone:
    """The default input device: 20 ms PCM16 chunks as they are recorded."""

    def __init__(self, sd: Any, sample_rate: int) -> None:
        self._sd, self.sample_rate = sd, sample_rate

    async def chunks(self) -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[bytes] = asyncio.Queue()

        def callback(indata: Any, frames: int, time: Any, status: Any) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, bytes(indata))

        blocksize = self.sample_rate * FRAME_MS // 1000
        with self._sd.RawInputStream(samplerate=self.sample_rate, channels=1, dtype="int16",
                                     blocksize=blocksize, callback=callback):
            while True:
                yield await queue.get()


class Speaker:
    """The default output device, fed from a buffer that ``clear`` empties (barge-in)."""

    def __init__(self, sd: Any, sample_rate: int) -> None:
        self._sd, self.sample_rate = sd, sample_rate
        self._buffer = bytearray()
        self._lock = threading.Lock()
        self._stream: Any = None

    def _callback(self, outdata: Any, frames: int, time: Any, status: Any) -> None:
        need = frames * 2
        with self._lock:
            chunk = bytes(self._buffer[:need])
            del self._buffer[:need]
        outdata[:] = chunk + b"\0" * (need - len(chunk))

    def write(self, pcm: bytes) -> None:
        if self._stream is None:
            self._stream = self._sd.RawOutputStream(samplerate=self.sample_rate, channels=1, dtype="int16",
                                                    callback=self._callback)
            self._stream.start()
        with self._lock:
            self._buffer += pcm

    def clear(self) -> None:
        with self._lock:
            self._buffer.clear()

    def close(self) -> None:
        if self._stream is not None:
            self._stream.stop()
            self._stream.close()
            self._stream = None


class BufferSource:
    """PCM16 from memory, in ``FRAME_MS`` chunks (paced by ``converse(realtime=True)``)."""

    def __init__(self, pcm: bytes, sample_rate: int = 24000) -> None:
        self.pcm, self.sample_rate = pcm, sample_rate

    async def chunks(self) -> AsyncIterator[bytes]:
        step = self.sample_rate * FRAME_MS // 1000 * 2
        for i in range(0, len(self.pcm), step):
            yield self.pcm[i:i + step]


class BufferSink:
    """Keeps what the agent said: ``played`` everything written, ``cleared`` how many times
    a barge-in dropped queued audio."""

    def __init__(self, sample_rate: int = 24000) -> None:
        self.sample_rate = sample_rate
        self.played = bytearray()
        self.chunks: collections.deque[bytes] = collections.deque()
        self.cleared = 0

    def write(self, pcm: bytes) -> None:
        self.played += pcm
        self.chunks.append(pcm)

    def clear(self) -> None:
        self.cleared += 1
