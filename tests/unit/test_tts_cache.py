"""The speech cache: memory LRU by bytes, the disk level, keys, and nothing kept of a cut-off synthesis."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.fakes import FakeTTS
from voxloop.engines.tts.cache import CachedTTS, MemoryLRU, TTSCacheSettings, speech_key
from voxloop.engines.types import TTSOptions
from voxloop.store.speech import DiskSpeechCache


class CountingTTS(FakeTTS):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def synthesize_sync(self, text: str, options: TTSOptions = TTSOptions()):  # type: ignore[no-untyped-def]
        self.calls += 1
        yield from super().synthesize_sync(text, options)
        yield from super().synthesize_sync("and more", options)


async def speak(tts: CachedTTS, text: str, options: TTSOptions = TTSOptions()) -> np.ndarray:
    return np.concatenate([a.samples async for a in tts.synthesize(text, options)])


async def test_a_repeated_phrase_is_synthesised_once() -> None:
    inner = CountingTTS()
    tts = CachedTTS(inner)
    first = await speak(tts, "Hello, how can I help?")
    again = await speak(tts, "  Hello,   how can I help? ")  # whitespace does not matter
    assert inner.calls == 1 and tts.stats.hits_memory == 1 and tts.stats.misses == 1
    assert np.abs(first - again).max() < 1e-4  # 16-bit PCM in the cache
    await speak(tts, "Hello, how can I help?", TTSOptions(speed=1.2))  # another delivery: another key
    await speak(tts, "Hello, how can I help?", TTSOptions(voice="nova"))
    assert inner.calls == 3
    tts.close()


async def test_a_cut_off_synthesis_is_not_kept() -> None:
    inner = CountingTTS()
    tts = CachedTTS(inner)
    stream = tts.synthesize("Let me tell you a story.")
    async for _ in stream:
        break  # a barge-in: the reply stops reading
    await stream.aclose()  # type: ignore[attr-defined]
    assert tts.stats.stored == 0 and len(tts.memory) == 0
    await speak(tts, "Let me tell you a story.")
    assert inner.calls == 2 and tts.stats.stored == 1
    tts.close()


async def test_long_texts_are_not_cached() -> None:
    inner = CountingTTS()
    tts = CachedTTS(inner, TTSCacheSettings(max_chars=10))
    for _ in range(2):
        await speak(tts, "This sentence is longer than ten characters.")
    assert inner.calls == 2 and tts.stats.uncacheable == 2 and len(tts.memory) == 0
    tts.close()


def test_memory_lru_is_bounded_by_bytes() -> None:
    lru = MemoryLRU(100)
    for i in range(5):
        lru.put(str(i), bytes(30))
    assert lru.bytes <= 100 and lru.get("0") is None and lru.get("4") is not None
    assert lru.get("2") is not None  # now the most recent
    lru.put("5", bytes(30))
    assert lru.get("2") is not None and lru.get("3") is None
    lru.put("big", bytes(101))  # larger than the whole cache: not kept, nothing evicted
    assert lru.get("big") is None and lru.get("5") is not None


async def test_the_disk_level_survives_a_restart_and_stays_bounded(tmp_path: Path) -> None:
    inner = CountingTTS()
    first = CachedTTS(inner, disk=DiskSpeechCache(tmp_path, 1 << 20))
    await speak(first, "Good morning!")
    first.close()
    inner2 = CountingTTS()
    second = CachedTTS(inner2, disk=DiskSpeechCache(tmp_path, 1 << 20))  # a new process: memory empty
    await speak(second, "Good morning!")
    assert inner2.calls == 0 and second.stats.hits_disk == 1
    await speak(second, "Good morning!")
    assert second.stats.hits_memory == 1
    second.close()
    disk = DiskSpeechCache(tmp_path / "small", 10_000)
    for i in range(20):
        disk.put(speech_key("e", 16000, f"phrase {i}", TTSOptions()), bytes(2000))
    s = disk.stats()
    assert s.bytes <= 10_000 and s.files == s.bytes // 2000
    assert disk.clear() == s.files and disk.stats().files == 0


def test_disk_level_tolerates_bad_files_and_keys(tmp_path: Path) -> None:
    disk = DiskSpeechCache(tmp_path, 1 << 20)
    key = speech_key("e", 16000, "x", TTSOptions())
    (tmp_path / f"{key}.pcm").write_bytes(b"\x01")  # torn or foreign: odd length
    assert disk.get(key) is None
    assert disk.get("0" * 64) is None  # absent
    with pytest.raises(ValueError):
        disk.get("../etc/passwd")
    ro = DiskSpeechCache(tmp_path / "file-not-dir", 1 << 20)
    (tmp_path / "file-not-dir").write_text("x")
    ro.put(key, bytes(10))  # cannot write: a warning, not an exception
    assert ro.get(key) is None
