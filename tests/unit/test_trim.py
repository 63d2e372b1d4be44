"""Freed heap handed back after large work: the rate limit, the REST lane, and glibc's trim."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from tests.unit.test_rest_transcriptions import client, make_app, tones
from voxloop.server import state as state_module
from voxloop.server.trim import Trimmer, glibc_trim


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


async def test_trims_at_most_once_per_interval() -> None:
    calls: list[int] = []
    clock = Clock()
    trimmer = Trimmer(lambda: calls.append(1), min_interval_s=2.0, clock=clock)
    trimmer.after_large_work()
    trimmer.after_large_work()  # right after: skipped
    clock.t += 2.5
    trimmer.after_large_work()
    await asyncio.sleep(0.2)  # the executor's thread
    assert len(calls) == trimmer.trims == 2
    Trimmer(None).after_large_work()  # no glibc: nothing to do


async def test_rest_jobs_trim_when_they_end(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    monkeypatch.setattr(state_module.Trimmer, "for_this_process",
                        classmethod(lambda cls: cls(lambda: calls.append(1), min_interval_s=0.0)))
    app = make_app()
    async with client(app) as c:
        r = await c.post("/v1/audio/transcriptions", data={"model": "whisper-1"},
                         files={"file": ("a.wav", tones(0.5))})
        assert r.status_code == 200
        await asyncio.sleep(0.2)  # the executor's thread
        assert calls
        before = len(calls)
        r = await c.post("/v1/audio/speech", json={"model": "tts-1", "input": "hi there", "response_format": "pcm"})
        assert r.status_code == 200 and r.content
        await asyncio.sleep(0.2)
    assert len(calls) > before
    assert not app.state.voxloop.rest_jobs.locked()


def _rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.mark.skipif(glibc_trim() is None, reason="needs glibc")
def test_glibc_keeps_freed_blocks_until_trimmed() -> None:
    """What the fuzz run showed: blocks freed below a live one stay in the process until the
    trim (here 64 MiB in 4 KiB blocks: held after the free, given back by the trim)."""
    assert sys.platform.startswith("linux")
    trim = glibc_trim()
    assert trim is not None
    trim()
    blocks = [bytearray(4096) for _ in range(16384)]
    sentinel = bytearray(4096)  # above them on the heap: the heap's top cannot shrink by itself
    grown = _rss_kib()
    del blocks
    freed = _rss_kib()
    trim()
    trimmed = _rss_kib()
    assert sentinel is not None
    assert grown - freed < 16 * 1024, (grown, freed, trimmed)  # freeing alone gives little back
    assert freed - trimmed > 32 * 1024, (grown, freed, trimmed)  # the trim gives most of it
