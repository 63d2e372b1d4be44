"""Long-form transcription with a scripted fake VAD and a fake ASR (no models)."""

from __future__ import annotations

import numpy as np
import pytest

from voxloop.audio.pcm import Audio, Float32Array
from voxloop.engines.asr.longform import (
    ChunkPlan,
    plan_chunks,
    speech_regions,
    transcribe_long,
    transcribe_long_async,
)
from voxloop.engines.base import ASREngine, VADEngine
from voxloop.engines.streams import EngineStream
from voxloop.engines.types import Segment, TranscribeOptions, Transcript, VADEvent, VADOptions, Word

SR = 16000


class EnergyFakeVAD(VADEngine):
    """Speech wherever a 512-sample chunk is louder than a threshold."""

    name = "fake"

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def stream(self, options: VADOptions = VADOptions()) -> EngineStream[Float32Array, VADEvent]:
        raise NotImplementedError

    def speech_probabilities(self, samples: Float32Array) -> Float32Array:
        self.calls += 1
        n = len(samples) // self.chunk_samples
        rms = np.sqrt((samples[: n * 512].reshape(n, 512) ** 2).mean(axis=1))
        speech: Float32Array = (rms > 0.01).astype(np.float32)
        return speech


class FakeASR(ASREngine):
    """Says which stretch it got: one word per call, timed at its centre."""

    name = "fake"

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[float] = []

    def transcribe_sync(
        self, audio: Audio, options: TranscribeOptions = TranscribeOptions()
    ) -> Transcript:
        d = audio.duration
        self.calls.append(d)
        assert d <= 30.0
        loud = np.abs(audio.samples).max() > 0.01
        if not loud:
            return Transcript("", "en", d, ())
        text = f"chunk{len(self.calls)}"
        word = Word(d / 2 - 0.1, d / 2 + 0.1, " " + text)
        return Transcript(text, "en", d, (Segment(0.0, d, text, (word,)),))


def speech_and_silence(layout: list[tuple[float, bool]]) -> np.ndarray:
    """Concatenate (seconds, is_speech) stretches: noise bursts for speech, zeros otherwise."""
    rng = np.random.default_rng(0)
    parts = [
        (rng.standard_normal(int(s * SR)) * 0.1).astype(np.float32)
        if speech
        else np.zeros(int(s * SR), np.float32)
        for s, speech in layout
    ]
    return np.concatenate(parts)


def test_speech_regions_pad_and_merge() -> None:
    probs = np.array([0, 0, 1, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0], np.float32)
    regions = speech_regions(probs, 512, 20 * 512, ChunkPlan(pad_s=0.0, min_silence_s=0.1))
    # chunks 2-3 and 5 merge across a 32 ms gap; chunk 18 stays apart
    assert regions == [(2 * 512, 6 * 512), (18 * 512, 19 * 512)]
    assert speech_regions(np.zeros(10, np.float32), 512, 5120) == []


def test_chunks_group_regions_and_cut_long_ones() -> None:
    x = speech_and_silence(
        [(1, False), (8, True), (1, False), (8, True), (1, False), (70, True), (2, False)]
    )
    regions = [(1 * SR, 9 * SR), (10 * SR, 18 * SR), (19 * SR, 89 * SR)]
    chunks = plan_chunks(x, regions, ChunkPlan(max_chunk_s=25.0))
    assert chunks[0] == (1 * SR, 18 * SR)  # two short regions share a chunk
    assert all(0 < hi - lo <= 25 * SR for lo, hi in chunks)
    covered = np.zeros(len(x), bool)
    for lo, hi in chunks:
        assert not covered[lo:hi].any()  # no overlap
        covered[lo:hi] = True
    for lo, hi in regions:
        assert covered[lo:hi].all()  # nothing of any region is dropped


def test_a_short_file_with_speech_is_one_chunk_edges_included() -> None:
    x = speech_and_silence([(1, False), (3, True), (1, False)])
    assert plan_chunks(x, [(int(0.8 * SR), int(4.2 * SR))], ChunkPlan(max_chunk_s=25.0)) == [(0, len(x))]
    assert plan_chunks(x, [], ChunkPlan(max_chunk_s=25.0)) == []  # no speech: nothing to decode


def test_no_vad_means_fixed_windows_over_everything() -> None:
    x = speech_and_silence([(61, True)])
    chunks = plan_chunks(x, None, ChunkPlan(max_chunk_s=25.0))
    assert chunks[0][0] == 0 and chunks[-1][1] == len(x)
    assert all(a[1] == b[0] for a, b in zip(chunks, chunks[1:], strict=False))
    assert len(chunks) == 3


def test_transcribe_long_shifts_times_and_reports_progress() -> None:
    x = speech_and_silence([(2, False), (6, True), (30, False), (5, True), (3, False)])
    asr, vad = FakeASR(), EnergyFakeVAD()
    seen: list[tuple[float, float]] = []
    result = transcribe_long(
        asr, vad, Audio(x, SR), TranscribeOptions(), progress=lambda d, t: seen.append((d, t))
    )
    assert result.text == "chunk1 chunk2"
    assert result.duration == pytest.approx(46.0)
    assert len(result.segments) == 2
    first, second = result.segments
    assert 1.5 < first.start < 2.0 and 7.9 < first.end < 8.5
    assert 37.5 < second.start < 38.0
    assert second.words[0].start == pytest.approx(
        second.start + (second.end - second.start) / 2 - 0.1, abs=0.01
    )
    assert vad.calls == 1
    assert [round(d) for d, _ in seen] == [8, 46] and all(t == pytest.approx(46.0) for _, t in seen)
    for engine in (asr, vad):
        engine.close()


def test_no_speech_gives_empty_text_without_calling_asr() -> None:
    x = np.zeros(40 * SR, np.float32)
    asr, vad = FakeASR(), EnergyFakeVAD()
    seen: list[tuple[float, float]] = []
    result = transcribe_long(asr, vad, Audio(x, SR), progress=lambda d, t: seen.append((d, t)))
    assert result.text == "" and result.segments == () and asr.calls == []
    assert result.duration == pytest.approx(40.0)
    assert seen == [(40.0, 40.0)]


def test_without_vad_nothing_is_dropped() -> None:
    x = speech_and_silence([(70, True)])
    asr = FakeASR()
    result = transcribe_long(asr, None, Audio(x, SR))
    assert sum(asr.calls) == pytest.approx(70.0)
    assert result.text == "chunk1 chunk2 chunk3"


def test_other_sample_rates_are_resampled() -> None:
    x8k = speech_and_silence([(3, True)])[::2].copy()
    asr = FakeASR()
    result = transcribe_long(asr, None, Audio(x8k, 8000))
    assert result.duration == pytest.approx(3.0, abs=0.01)


async def test_async_variant_uses_the_engines_executors() -> None:
    x = speech_and_silence([(1, False), (4, True), (1, False)])
    asr, vad = FakeASR(), EnergyFakeVAD()
    seen: list[float] = []
    result = await transcribe_long_async(
        asr, vad, Audio(x, SR), progress=lambda d, t: seen.append(d)
    )
    assert result.text == "chunk1"
    assert seen == [pytest.approx(6.0)]
    for engine in (asr, vad):
        engine.close()
