"""A very long sentence no longer leaves ONNX Runtime's arena at its peak (real Piper voice).

Compared within one run: what a usual sentence leaves resident, and what a ten times longer
one leaves after it (without the bound: +690 to +870 MiB, for good)."""

from __future__ import annotations

from pathlib import Path

import pytest

from voxloop.engines.tts.piper import PiperTTS
from voxloop.server.trim import glibc_trim

pytestmark = pytest.mark.models

WORDS = "the quick brown fox jumps over the lazy dog and then runs away into the forest".split()


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@pytest.mark.skipif(glibc_trim() is None, reason="needs glibc (RSS after malloc_trim)")
def test_a_long_sentence_gives_the_arena_back() -> None:
    trim = glibc_trim()
    assert trim is not None
    tts = PiperTTS(workers=1)
    tts.prewarm()

    def speak(n: int) -> float:
        audio = list(tts.synthesize_sync(" ".join((WORDS * 20)[:n]) + "."))
        assert audio
        trim()
        return _rss_mib()

    speak(12)
    usual = speak(12)
    long = speak(120)  # one sentence of 120 words, ~1,400 phoneme ids
    again = speak(12)
    tts.close()
    assert long - usual < 100, (usual, long)
    assert again - usual < 100, (usual, again)
