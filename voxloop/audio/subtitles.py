"""SRT and WebVTT writers from timed segments."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

__all__ = ["Cue", "format_timestamp", "subtitle_cues", "to_srt", "to_vtt"]


class Timed(Protocol):
    @property
    def start(self) -> float: ...
    @property
    def end(self) -> float: ...
    @property
    def text(self) -> str: ...


class TimedWord(Protocol):
    @property
    def start(self) -> float: ...
    @property
    def end(self) -> float: ...
    @property
    def word(self) -> str: ...


class WordSegment(Timed, Protocol):
    @property
    def words(self) -> Sequence[TimedWord]: ...


@dataclass(frozen=True, slots=True)
class Cue:
    start: float
    end: float
    text: str


def subtitle_cues(segments: Iterable[WordSegment], max_chars: int = 84, max_seconds: float = 6.0) -> list[Cue]:
    """Re-cut segments into readable cues using word timestamps: a cue ends at a sentence end,
    or before it would pass ``max_chars`` (two 42-character lines) or ``max_seconds``."""
    cues: list[Cue] = []
    for seg in segments:
        words = [w for w in seg.words if w.word.strip()]
        if not words:
            cues.append(Cue(seg.start, seg.end, seg.text.strip()))
            continue
        current: list[TimedWord] = []
        for w in words:
            if current:
                text = "".join(x.word for x in current).strip()
                too_long = len(text) + len(w.word) > max_chars or w.end - current[0].start > max_seconds
                if too_long:
                    cues.append(Cue(current[0].start, current[-1].end, text))
                    current = []
            current.append(w)
            if w.word.rstrip().endswith((".", "?", "!")):
                cues.append(Cue(current[0].start, current[-1].end, "".join(x.word for x in current).strip()))
                current = []
        if current:
            cues.append(Cue(current[0].start, current[-1].end, "".join(x.word for x in current).strip()))
    return cues


def format_timestamp(seconds: float, sep: str) -> str:
    ms = max(0, round(seconds * 1000))
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def _cues(segments: Iterable[Timed]) -> list[tuple[float, float, str]]:
    cues: list[tuple[float, float, str]] = []
    last_end = 0.0
    for seg in segments:
        text = seg.text.strip()
        if not text:
            continue
        start = max(seg.start, last_end)
        end = max(seg.end, start + 0.001)
        cues.append((start, end, text))
        last_end = end
    return cues


def to_srt(segments: Iterable[Timed]) -> str:
    out = []
    for i, (start, end, text) in enumerate(_cues(segments), 1):
        out.append(f"{i}\n{format_timestamp(start, ',')} --> {format_timestamp(end, ',')}\n{text}\n")
    return "\n".join(out)


def to_vtt(segments: Iterable[Timed]) -> str:
    out = ["WEBVTT\n"]
    for start, end, text in _cues(segments):
        out.append(f"{format_timestamp(start, '.')} --> {format_timestamp(end, '.')}\n{text}\n")
    return "\n".join(out)
