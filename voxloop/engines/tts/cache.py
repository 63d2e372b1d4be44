"""A speech cache in front of any TTS engine: greetings, fillers and frequent short phrases are
synthesised once.

Two levels, as Home Assistant's TTS cache has: memory (LRU, bounded in bytes) and, when given,
a disk store (bounded; ``voxloop.store.speech``) that survives restarts. The key is a hash of
the engine (backend and voice model), the sample rate, every option that changes the sound
(voice, speed, noise scales) and the text with its whitespace normalised. Only texts up to
``max_chars`` are cached: long, unique sentences would only churn it. Audio is kept as 16-bit
PCM (half the bytes of float32; Piper and every voice here produce 16-bit audio anyway).

A synthesis is stored only when it ran to the end: a reply cancelled by a barge-in leaves
nothing half-said behind.
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import json
import re
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from voxloop.audio.pcm import Audio, Float32Array, float_to_pcm16, pcm16_to_float
from voxloop.engines.base import TTSEngine
from voxloop.engines.types import TTSOptions

__all__ = ["CacheStats", "CachedTTS", "MemoryLRU", "SpeechStore", "TTSCacheSettings", "speech_key"]

_SPACE = re.compile(r"\s+")
DEFAULT_OPTIONS = TTSOptions()


@dataclass(frozen=True, slots=True)
class TTSCacheSettings:
    memory_bytes: int = 32 << 20  # 0: no cache at all
    disk_bytes: int = 256 << 20  # 0: memory only
    directory: str | None = None  # the disk level's directory (the CLI's default: the user's data directory)
    max_chars: int = 200  # longer texts are synthesised every time


class SpeechStore(Protocol):
    """The disk level: bytes by key, bounded by its own policy; thread-safe; failures are misses."""

    def get(self, key: str) -> bytes | None: ...

    def put(self, key: str, data: bytes) -> None: ...


@dataclass(slots=True)
class CacheStats:
    hits_memory: int = 0
    hits_disk: int = 0
    misses: int = 0
    uncacheable: int = 0  # texts longer than max_chars
    stored: int = 0

    @property
    def hits(self) -> int:
        return self.hits_memory + self.hits_disk


def speech_key(engine: str, sample_rate: int, text: str, options: TTSOptions) -> str:
    """The cache key: a SHA-256 over what decides the sound."""
    parts = [engine, sample_rate, options.voice, options.speed, options.noise_scale, options.noise_w_scale,
             normalize(text)]
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode()).hexdigest()


def normalize(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


class MemoryLRU:
    """Least recently used first out, bounded by the bytes it holds. Thread-safe."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self._items: collections.OrderedDict[str, bytes] = collections.OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: str) -> bytes | None:
        with self._lock:
            data = self._items.get(key)
            if data is not None:
                self._items.move_to_end(key)
            return data

    def put(self, key: str, data: bytes) -> None:
        if len(data) > self.max_bytes:
            return
        with self._lock:
            old = self._items.pop(key, None)
            self.bytes -= len(old) if old is not None else 0
            self._items[key] = data
            self.bytes += len(data)
            while self.bytes > self.max_bytes:
                _, evicted = self._items.popitem(last=False)
                self.bytes -= len(evicted)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.bytes = 0


class CachedTTS(TTSEngine):
    """``inner`` with a speech cache; everything else (rate, voices, prewarm) is the inner engine's."""

    name = "cached"

    def __init__(self, inner: TTSEngine, settings: TTSCacheSettings = TTSCacheSettings(),
                 disk: SpeechStore | None = None) -> None:
        super().__init__(workers=1)  # for the disk level's reads and writes
        self.inner = inner
        self.settings = settings
        self.memory = MemoryLRU(settings.memory_bytes)
        self.disk = disk
        self.stats = CacheStats()
        self._engine_id = json.dumps(sorted(inner.describe().items()))

    @property
    def sample_rate(self) -> int:
        return self.inner.sample_rate

    @sample_rate.setter
    def sample_rate(self, value: int) -> None:  # the inner engine's rate is authoritative
        pass

    def prewarm(self) -> None:
        self.inner.prewarm()
        super().prewarm()

    def describe(self) -> dict[str, str]:
        return self.inner.describe()

    def close(self) -> None:
        self.inner.close()
        super().close()

    def key(self, text: str, options: TTSOptions) -> str | None:
        if len(normalize(text)) > self.settings.max_chars or not normalize(text):
            self.stats.uncacheable += 1
            return None
        return speech_key(self._engine_id, self.sample_rate, text, options)

    def _from_memory(self, key: str) -> bytes | None:
        data = self.memory.get(key)
        if data is not None:
            self.stats.hits_memory += 1
        elif self.disk is None:
            self.stats.misses += 1
        return data

    def _from_disk(self, key: str) -> bytes | None:  # blocking
        assert self.disk is not None
        data = self.disk.get(key)
        if data is None:
            self.stats.misses += 1
            return None
        self.stats.hits_disk += 1
        self.memory.put(key, data)
        return data

    def _keep(self, key: str, chunks: list[Float32Array]) -> bytes | None:
        """Into memory; returns the bytes for the disk level (``None``: nothing to keep)."""
        if not chunks:
            return None
        data = float_to_pcm16(np.concatenate(chunks))
        self.memory.put(key, data)
        self.stats.stored += 1
        return data

    def synthesize_sync(self, text: str, options: TTSOptions = DEFAULT_OPTIONS) -> Iterator[Float32Array]:
        key = self.key(text, options)
        data = None if key is None else self._from_memory(key)
        if key is not None and data is None and self.disk is not None:
            data = self._from_disk(key)
        if data is not None:
            yield pcm16_to_float(data)
            return
        chunks: list[Float32Array] = []
        for chunk in self.inner.synthesize_sync(text, options):
            chunks.append(chunk)
            yield chunk
        if key is not None and (kept := self._keep(key, chunks)) is not None and self.disk is not None:
            self.disk.put(key, kept)

    def synthesize(self, text: str, options: TTSOptions = DEFAULT_OPTIONS) -> AsyncIterator[Audio]:
        key = self.key(text, options)

        async def gen() -> AsyncIterator[Audio]:
            loop = asyncio.get_running_loop()
            data = None if key is None else self._from_memory(key)  # memory: in the loop, no hop
            if key is not None and data is None and self.disk is not None:
                data = await loop.run_in_executor(self._executor, self._from_disk, key)
            if data is not None:
                yield Audio(pcm16_to_float(data), self.sample_rate)
                return
            chunks: list[Float32Array] = []
            async for chunk in self.inner.synthesize(text, options):
                chunks.append(chunk.to(self.sample_rate).samples if chunk.sample_rate != self.sample_rate
                              else chunk.samples)
                yield chunk
            # ran to the end (a cancelled synthesis never gets here)
            if key is not None and (kept := self._keep(key, chunks)) is not None and self.disk is not None:
                await loop.run_in_executor(self._executor, self.disk.put, key, kept)

        return gen()
