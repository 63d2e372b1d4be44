"""Long audio in bounded memory: decoding window by window, and the long-form cut over windows
(fake VAD and ASR from ``test_asr_longform``; no models)."""

from __future__ import annotations

import io
import tracemalloc
import wave
from collections.abc import AsyncIterator

import numpy as np
import pytest

from tests.unit.test_asr_longform import SR, EnergyFakeVAD, FakeASR, speech_and_silence
from voxloop.audio.decode import decode_audio, decode_windows
from voxloop.audio.pcm import Float32Array
from voxloop.engines.asr import windowed
from voxloop.engines.asr.longform import ChunkPlan, plan_chunks, speech_regions
from voxloop.engines.asr.windowed import transcribe_windows
from voxloop.errors import AudioDecodeError

# a long region crossing window edges, pauses, a region longer than a chunk, a silent stretch
LAYOUT = [(1, False), (8, True), (1, False), (12, True), (0.2, False), (9, True), (40, False),
          (70, True), (2, False), (3, True), (1, False)]


def pcm_wav(samples: Float32Array, rate: int, channels: int = 1) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        frames = np.repeat(samples, channels) if channels > 1 else samples
        w.writeframes((np.clip(frames, -1, 1) * 32767).astype("<i2").tobytes())
    return buf.getvalue()


async def windows_of(x: Float32Array, seconds: float) -> AsyncIterator[Float32Array]:
    step = int(seconds * SR)
    for i in range(0, len(x), step):
        yield x[i : i + step]


async def windowed_chunks(x: Float32Array, window_s: float, vad: EnergyFakeVAD | None) -> list[tuple[int, int]]:
    asr = FakeASR()
    got = [(round(offset * SR), round((offset + t.duration) * SR))
           async for offset, t in transcribe_windows(asr, vad, windows_of(x, window_s))]
    asr.close()
    return got


@pytest.mark.parametrize("window_s", [7.0, 30.0])
async def test_window_by_window_cuts_the_chunks_the_whole_file_plan_cuts(window_s: float) -> None:
    x = speech_and_silence(LAYOUT)
    vad = EnergyFakeVAD()
    whole = plan_chunks(x, speech_regions(vad.speech_probabilities(x), 512, len(x)))
    assert len(whole) >= 5
    assert await windowed_chunks(x, window_s, vad) == whole
    vad.close()


async def test_without_vad_every_sample_is_transcribed_once() -> None:
    x = speech_and_silence([(95, True)])
    assert await windowed_chunks(x, 10.0, None) == plan_chunks(x, None)


async def test_a_file_that_fits_one_whisper_window_is_one_chunk() -> None:
    x = speech_and_silence([(2, False), (5, True), (20, False)])
    vad = EnergyFakeVAD()
    assert await windowed_chunks(x, 4.0, vad) == [(0, len(x))]
    assert await windowed_chunks(np.zeros(50 * SR, np.float32), 4.0, vad) == []  # silence: no decode
    vad.close()


async def test_samples_held_stay_bounded_whatever_the_length(monkeypatch: pytest.MonkeyPatch) -> None:
    peaks: list[int] = []
    real = windowed.WindowedCut

    class Recorded(real):
        def add(self, window: Float32Array) -> None:
            super().add(window)
            peaks.append(self.peak)

    monkeypatch.setattr(windowed, "WindowedCut", Recorded)
    vad = EnergyFakeVAD()
    for minutes in (3, 12):  # speech and pauses repeated: four times as long, the same peak
        x = np.concatenate([speech_and_silence(LAYOUT)] * (minutes * 60 // 157 + 1))
        peaks.clear()
        chunks = await windowed_chunks(x, 10.0, vad)
        assert chunks and chunks[-1][1] <= len(x)
        assert max(peaks) <= int((ChunkPlan().max_chunk_s + 2 * 10.0) * SR)  # a chunk and a window or two
    vad.close()


def test_decode_windows_yields_fixed_windows_resampled() -> None:
    x = speech_and_silence([(65, True)])[::2].copy()  # 65 s at 8 kHz, stereo
    windows = list(decode_windows(pcm_wav(x, 8000, channels=2), 16000, window_s=30.0))
    assert [len(w) for w in windows[:-1]] == [30 * 16000, 30 * 16000]
    assert len(windows[-1]) == pytest.approx(5 * 16000, abs=200)
    assert all(w.dtype == np.float32 for w in windows)
    whole = decode_audio(pcm_wav(x, 8000, channels=2), 16000)
    assert np.array_equal(np.concatenate(windows), whole.samples)


def test_decode_windows_holds_a_window_not_the_file() -> None:
    rate, minutes = 22050, 5
    data = pcm_wav(np.zeros(minutes * 60 * rate, np.float32), rate)
    full_bytes = minutes * 60 * 16000 * 4  # the whole file as float32 at 16 kHz
    tracemalloc.start()
    try:
        total = 0
        for window in decode_windows(data, 16000, window_s=30.0):
            total += len(window)
            del window
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == pytest.approx(minutes * 60 * 16000, abs=500)
    window_bytes = 30 * 16000 * 4
    assert peak < 4 * window_bytes < full_bytes / 2, (peak, window_bytes, full_bytes)  # a few windows, not 10


def test_decode_windows_reads_a_file_object_and_reports_errors() -> None:
    data = pcm_wav(speech_and_silence([(3, True)]), 16000)
    assert sum(len(w) for w in decode_windows(io.BytesIO(data), 16000)) == 3 * 16000
    with pytest.raises(AudioDecodeError, match="empty"):
        list(decode_windows(b"", 16000))
    with pytest.raises(AudioDecodeError, match="cannot decode"):
        list(decode_windows(b"not audio" * 100, 16000))
