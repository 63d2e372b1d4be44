"""Long audio in bounded memory: the long-form cut (:mod:`.longform`) over a file that arrives
window by window, each chunk transcribed as soon as no later audio can change it.

Samples held at a time: the window just decoded plus the chunk still open at its end (at most
``max_chunk_s``), whatever the file's length. Chunks are the ones the whole-file plan would
make: every chunk but the last of a window's plan is final (the plan is greedy from the start
and later audio only extends the last region), so the last one is carried into the next window.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator

import numpy as np

from voxloop.audio.pcm import Audio, Float32Array
from voxloop.engines.asr.features import MAX_WINDOW_S
from voxloop.engines.asr.longform import ChunkPlan, Transcribes, plan_chunks, speech_regions
from voxloop.engines.base import VADEngine
from voxloop.engines.types import ASR_SAMPLE_RATE, TranscribeOptions, Transcript

__all__ = ["WindowedCut", "transcribe_windows"]

SR = ASR_SAMPLE_RATE


class WindowedCut:
    """The cut's state between windows: the samples not yet transcribed and their VAD scores."""

    def __init__(self, step: int, plan: ChunkPlan = ChunkPlan()) -> None:
        self.step = step  # VAD chunk size in samples (1 without a VAD)
        self.plan = plan
        self.buffer: Float32Array = np.zeros(0, np.float32)
        self.start = 0  # file sample index of buffer[0] (a multiple of step)
        self.done = 0  # file sample index up to which audio is transcribed
        self.probabilities: Float32Array = np.zeros(0, np.float32)  # for buffer[: len * step]
        self.peak = 0  # most samples held at once (for tests and logs)

    @property
    def scored(self) -> int:
        return len(self.probabilities) * self.step

    def add(self, window: Float32Array) -> None:
        self.buffer = np.concatenate([self.buffer, np.asarray(window, np.float32)])
        self.peak = max(self.peak, len(self.buffer))

    def unscored(self) -> Float32Array:
        """The samples the VAD still has to score (whole VAD chunks only)."""
        return self.buffer[self.scored : len(self.buffer) // self.step * self.step]

    def chunks(self, final: bool, vad: bool) -> list[tuple[int, Float32Array]]:
        """The chunks ready to transcribe (file sample index, samples); the rest is kept for the
        next window."""
        untouched = self.start == 0 and self.done == 0
        if not final and untouched and len(self.buffer) <= int(MAX_WINDOW_S * SR):
            return []  # may still be a file that fits one Whisper window: decoded whole
        n = self.scored if vad and not final else len(self.buffer)
        regions = None
        if vad:  # what is before ``done`` was transcribed (the buffer starts a little earlier)
            floor = self.done - self.start
            regions = [(max(lo, floor), hi) for lo, hi in speech_regions(self.probabilities, self.step, n, self.plan)
                       if hi > floor]
        planned = plan_chunks(self.buffer[:n], regions, self.plan, whole_if_short=final and untouched)
        settled = bool(planned) and vad and self._settled(planned[-1], n)
        ready = planned if final or settled else planned[:-1]
        out = [(max(self.start + lo, self.done), self.start + hi) for lo, hi in ready]
        ready_samples = [(lo, self.buffer[lo - self.start : hi - self.start]) for lo, hi in out if hi > lo]
        if out:
            self.done = max(self.done, out[-1][1])
        if not final:
            keep = planned[-1][0] if planned and not settled else max(0, n - self._quiet)
            self._drop(keep // self.step * self.step)  # the views above keep their samples
        return ready_samples

    @property
    def _quiet(self) -> int:
        """Quiet after a region that keeps the next one apart (its padding and the merge gap)."""
        return int((self.plan.pad_s + self.plan.min_silence_s) * SR) + self.step

    def _settled(self, last: tuple[int, int], n: int) -> bool:
        """Later audio can no longer change the ``last`` chunk of the plan of ``buffer[:n]``: its
        speech ended long enough ago not to merge with more, and a region after ``n`` would make
        it longer than a chunk may be. (Else silence after it would be held until speech came.)"""
        lo, hi = last
        return n - hi >= self._quiet and n - lo >= int(self.plan.max_chunk_s * SR)

    def _drop(self, keep: int) -> None:
        """Forget ``buffer[:keep]`` (already transcribed, or silence)."""
        if keep <= 0:
            return
        self.buffer = self.buffer[keep:].copy()
        self.probabilities = self.probabilities[keep // self.step :].copy()
        self.start += keep


async def transcribe_windows(
    asr: Transcribes,
    vad: VADEngine | None,
    windows: AsyncIterator[Float32Array],
    options: TranscribeOptions = TranscribeOptions(),
    plan: ChunkPlan = ChunkPlan(),
) -> AsyncGenerator[tuple[float, Transcript], None]:
    """``(offset_seconds, transcript)`` of each chunk of 16 kHz audio given window by window,
    in time order, as soon as it is decoded (join them with :func:`.longform.join_transcripts`)."""
    cut = WindowedCut(vad.chunk_samples if vad is not None else 1, plan)
    final = False
    try:
        while not final:
            window = await anext(windows, None)
            final = window is None
            if window is not None:
                cut.add(window)
            if vad is not None:
                fresh = cut.unscored()
                if len(fresh) >= vad.chunk_samples:
                    scores = await vad.run_blocking(vad.speech_probabilities, fresh)
                    cut.probabilities = np.concatenate([cut.probabilities, np.asarray(scores, np.float32)])
            for lo, samples in cut.chunks(final, vad is not None):
                yield lo / SR, await asr.transcribe(Audio(samples, SR), options)
    finally:
        aclose = getattr(windows, "aclose", None)
        if aclose is not None:
            await aclose()
