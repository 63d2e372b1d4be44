"""Long audio: cut by VAD into chunks of at most ~25 s, transcribe each, join with shifted times.

Nothing is truncated: a speech region longer than a chunk is cut at its quietest point
near the limit, and without a VAD the whole file is cut into fixed windows (again at
quiet points). With a VAD that finds no speech at all the result is empty text.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np
import numpy.typing as npt

from voxloop.audio.pcm import Audio, Float32Array
from voxloop.engines.asr.features import MAX_WINDOW_S, quietest_point, split_at_quiet_points
from voxloop.engines.base import ASREngine, VADEngine
from voxloop.engines.types import ASR_SAMPLE_RATE, Segment, TranscribeOptions, Transcript, Word

__all__ = [
    "Transcribes",
    "ChunkPlan",
    "Progress",
    "join_transcripts",
    "plan_chunks",
    "shift_segments",
    "speech_regions",
    "transcribe_long",
    "transcribe_long_async",
]

logger = logging.getLogger(__name__)

Progress = Callable[[float, float], None]  # (done_seconds, total_seconds)
SR = ASR_SAMPLE_RATE


@dataclass(frozen=True, slots=True)
class ChunkPlan:
    """How to cut: chunks up to ``max_chunk_s``; speech regions padded by ``pad_s`` and
    merged across pauses shorter than ``min_silence_s``; cuts looked for in the last
    ``search_s`` before a limit."""

    max_chunk_s: float = 25.0
    threshold: float = 0.5
    min_silence_s: float = 0.3
    pad_s: float = 0.2
    search_s: float = 5.0


def speech_regions(
    probabilities: npt.NDArray[np.floating],
    chunk_samples: int,
    n_samples: int,
    plan: ChunkPlan = ChunkPlan(),
) -> list[tuple[int, int]]:
    """Sample ranges of speech from per-chunk VAD probabilities, padded and merged."""
    speech = np.asarray(probabilities, dtype=np.float32) >= plan.threshold
    regions: list[tuple[int, int]] = []
    pad = int(plan.pad_s * SR)
    gap = int(plan.min_silence_s * SR)
    start: int | None = None
    for i, is_speech in enumerate([*speech.tolist(), False]):
        if is_speech and start is None:
            start = i
        elif not is_speech and start is not None:
            lo, hi = max(0, start * chunk_samples - pad), min(n_samples, i * chunk_samples + pad)
            if regions and lo - regions[-1][1] < gap:
                regions[-1] = (regions[-1][0], hi)
            else:
                regions.append((lo, hi))
            start = None
    return [(lo, hi) for lo, hi in regions if hi > lo]


def plan_chunks(
    samples: Float32Array,
    regions: Sequence[tuple[int, int]] | None,
    plan: ChunkPlan = ChunkPlan(),
    *,
    whole_if_short: bool = True,
) -> list[tuple[int, int]]:
    """Group speech ``regions`` into chunks of at most ``max_chunk_s``; ``None`` means no
    VAD: cut the whole audio into windows. Regions longer than a chunk are cut at their
    quietest point, so every sample of every region lands in exactly one chunk.
    ``whole_if_short``: ``samples`` is a whole file; if it fits one Whisper window (and has
    speech) it is one chunk."""
    limit = int(plan.max_chunk_s * SR)
    search = min(int(plan.search_s * SR), limit // 2)
    if regions is None:
        return split_at_quiet_points(samples, limit, search) if len(samples) else []
    if whole_if_short and regions and len(samples) <= int(MAX_WINDOW_S * SR):
        # A file that fits one Whisper window is decoded whole, as faster-whisper does: cutting
        # it to the VAD's regions loses soft word onsets and endings (bench/asr.py: 6.3 % WER).
        return [(0, len(samples))]
    chunks: list[tuple[int, int]] = []
    for lo, hi in regions:
        if chunks and hi - chunks[-1][0] <= limit:
            chunks[-1] = (chunks[-1][0], hi)  # the pause in between goes along: real audio
            continue
        while hi - lo > limit:
            cut = quietest_point(samples, lo + limit - search, lo + limit)
            cut = min(max(cut, lo + 1), lo + limit)
            chunks.append((lo, cut))
            lo = cut
        chunks.append((lo, hi))
    return chunks


def shift_segments(transcript: Transcript, offset: float) -> tuple[Segment, ...]:
    """The transcript's segments (and words) moved ``offset`` seconds later."""
    return tuple(
        replace(
            s,
            start=round(s.start + offset, 3),
            end=round(s.end + offset, 3),
            words=tuple(
                Word(round(w.start + offset, 3), round(w.end + offset, 3), w.word, w.probability)
                for w in s.words
            ),
        )
        for s in transcript.segments
    )


def join_transcripts(
    parts: Sequence[tuple[float, Transcript]], duration: float, language: str
) -> Transcript:
    """One transcript from ``(offset_seconds, transcript)`` pieces, in time order."""
    segments: list[Segment] = []
    texts: list[str] = []
    lang = ""
    for offset, part in sorted(parts, key=lambda p: p[0]):
        if part.text.strip():
            texts.append(part.text.strip())
            lang = lang or part.language
        segments.extend(s for s in shift_segments(part, offset) if s.text.strip())
    return Transcript(" ".join(texts), lang or language, duration, tuple(segments))


def _prepare(audio: Audio) -> Float32Array:
    return np.asarray(audio.to(SR).samples, dtype=np.float32)


def _regions(
    vad: VADEngine | None,
    samples: Float32Array,
    probs: npt.NDArray[np.floating] | None,
    plan: ChunkPlan,
) -> list[tuple[int, int]] | None:
    if vad is None or probs is None:
        return None
    return speech_regions(probs, vad.chunk_samples, len(samples), plan)


def transcribe_long(
    asr: ASREngine,
    vad: VADEngine | None,
    audio: Audio,
    options: TranscribeOptions = TranscribeOptions(),
    progress: Progress | None = None,
    plan: ChunkPlan = ChunkPlan(),
) -> Transcript:
    """Blocking: transcribe audio of any length (call it off the event loop)."""
    samples = _prepare(audio)
    total = len(samples) / SR
    probs = None
    if vad is not None:
        vad.prewarm()
        probs = vad.speech_probabilities(samples)
    chunks = plan_chunks(samples, _regions(vad, samples, probs, plan), plan)
    parts: list[tuple[float, Transcript]] = []
    for lo, hi in chunks:
        parts.append((lo / SR, asr.transcribe_sync(Audio(samples[lo:hi], SR), options)))
        _report(progress, hi, lo, chunks, total)
    return _finish(parts, total, options, progress, chunks)


class Transcribes(Protocol):
    """What the async long-form path needs: an engine, or a scheduler's queue in front of one."""

    async def transcribe(self, audio: Audio, options: TranscribeOptions = ..., /) -> Transcript: ...


async def transcribe_long_async(
    asr: Transcribes,
    vad: VADEngine | None,
    audio: Audio,
    options: TranscribeOptions = TranscribeOptions(),
    progress: Progress | None = None,
    plan: ChunkPlan = ChunkPlan(),
) -> Transcript:
    """The same on the engines' own executors, for servers and sessions."""
    samples = _prepare(audio)
    total = len(samples) / SR
    probs = await vad.run_blocking(vad.speech_probabilities, samples) if vad is not None else None
    chunks = plan_chunks(samples, _regions(vad, samples, probs, plan), plan)
    parts: list[tuple[float, Transcript]] = []
    for lo, hi in chunks:
        parts.append((lo / SR, await asr.transcribe(Audio(samples[lo:hi], SR), options)))
        _report(progress, hi, lo, chunks, total)
    return _finish(parts, total, options, progress, chunks)


def _report(
    progress: Progress | None, hi: int, lo: int, chunks: Sequence[tuple[int, int]], total: float
) -> None:
    if progress is not None:
        last = (lo, hi) == chunks[-1]
        progress(total if last else hi / SR, total)


def _finish(
    parts: Sequence[tuple[float, Transcript]],
    total: float,
    options: TranscribeOptions,
    progress: Progress | None,
    chunks: Sequence[tuple[int, int]],
) -> Transcript:
    if not chunks:
        logger.debug("no speech found in %.1f s of audio", total)
        if progress is not None:
            progress(total, total)
    return join_transcripts(parts, total, options.language or "en")
