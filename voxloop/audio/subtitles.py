"""SRT and WebVTT writers from timed segments."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

__all__ = ["format_timestamp", "to_srt", "to_vtt"]


class Timed(Protocol):
    @property
    def start(self) -> float: ...
    @property
    def end(self) -> float: ...
    @property
    def text(self) -> str: ...


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
