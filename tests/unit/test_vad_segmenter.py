from __future__ import annotations

import numpy as np

from voxloop.engines.types import VADOptions
from voxloop.engines.vad.energy import EnergyVAD
from voxloop.engines.vad.segmenter import SpeechSegmenter

CHUNK = np.zeros(512, np.float32)


def run(probs: list[float], **opts: int) -> list[tuple[str, float]]:
    seg = SpeechSegmenter(VADOptions(**opts))
    out = []
    for p in probs:
        out += [(e.kind, round(e.time, 3)) for e in seg.feed(CHUNK + p, p)]
    out += [(e.kind, round(e.time, 3)) for e in seg.finish()]
    return out


def test_start_and_end_with_onset_time() -> None:
    events = run([0.0] * 10 + [0.9] * 20 + [0.0] * 30, min_speech_ms=96, min_silence_ms=320)
    assert [k for k, _ in events] == ["start", "end"]
    assert events[0][1] == round(10 * 512 / 16000, 3)
    assert events[1][1] == round(30 * 512 / 16000, 3)


def test_short_blip_is_ignored() -> None:
    assert run([0.9] * 2 + [0.0] * 30, min_speech_ms=160) == []


def test_hysteresis_keeps_speech_through_dips() -> None:
    events = run([0.9] * 10 + [0.4] * 20 + [0.9] * 5 + [0.0] * 20, min_speech_ms=64, min_silence_ms=320)
    assert [k for k, _ in events] == ["start", "end"]


def test_pause_and_resume() -> None:
    events = run([0.9] * 10 + [0.0] * 8 + [0.9] * 10 + [0.0] * 20, min_speech_ms=64, min_silence_ms=500, pause_ms=200)
    assert [k for k, _ in events] == ["start", "pause", "resume", "pause", "end"]


def test_end_carries_prefix_padding_audio() -> None:
    seg = SpeechSegmenter(VADOptions(min_speech_ms=64, min_silence_ms=320, prefix_padding_ms=320))
    events = []
    for p in [0.0] * 20 + [0.9] * 10 + [0.0] * 12:
        events += seg.feed(CHUNK, p)
    end = events[-1]
    assert end.kind == "end" and end.audio is not None
    assert end.audio.duration >= (10 + 10) * 512 / 16000 - 1e-6  # speech + 320 ms padding


def test_energy_vad_probabilities() -> None:
    vad = EnergyVAD()
    x = np.concatenate([np.zeros(5120, np.float32), 0.3 * np.ones(5120, np.float32)])
    p = vad.speech_probabilities(x)
    assert p[:10].max() == 0.0 and p[10:].min() == 1.0
