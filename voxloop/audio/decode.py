"""Decode any common audio container (wav/flac/mp3/ogg/m4a/webm...) with PyAV.

:func:`decode_windows` decodes piece by piece (one window of samples held at a time, whatever
the file's length); :func:`decode_audio` is the whole file in one array.
"""

from __future__ import annotations

import io
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from voxloop.audio.pcm import Audio, Float32Array, resample
from voxloop.errors import AudioDecodeError

__all__ = ["SUPPORTED_FORMATS", "WINDOW_S", "AudioTooLong", "decode_audio", "decode_file", "decode_windows"]

SUPPORTED_FORMATS = ("wav", "flac", "mp3", "ogg", "oga", "opus", "m4a", "mp4", "mpeg", "mpga", "webm", "aac")
WINDOW_S = 30.0  # what decode_windows yields at a time


def decode_file(path: str | Path, sample_rate: int = 16000) -> Audio:
    """Decode a file to mono float32 at ``sample_rate``; errors name the file and the reason."""
    p = Path(path)
    if not p.exists():
        raise AudioDecodeError(f"{p}: no such file")
    if p.is_dir():
        raise AudioDecodeError(f"{p}: is a directory, not an audio file")
    try:
        data = p.read_bytes()
    except OSError as e:
        raise AudioDecodeError(f"{p}: cannot read ({e.strerror or e})") from e
    return decode_audio(data, sample_rate, name=str(p))


class AudioTooLong(AudioDecodeError):
    """Decoding passed ``max_seconds`` (checked while decoding, whatever the header claims)."""

    code = "audio_too_long"
    http_status = 413


def decode_audio(data: bytes, sample_rate: int = 16000, name: str = "audio",
                 max_seconds: float | None = None) -> Audio:
    """Decode in-memory audio bytes to mono float32 at ``sample_rate``.

    ``max_seconds`` stops decoding as soon as it is passed (:class:`AudioTooLong`), so a small
    file of very low bitrate cannot expand to gigabytes of samples.
    """
    windows = list(decode_windows(data, sample_rate, name=name, max_seconds=max_seconds))
    return Audio(np.concatenate(windows) if len(windows) > 1 else windows[0], sample_rate)


def decode_windows(source: bytes | BinaryIO, sample_rate: int = 16000, *, window_s: float = WINDOW_S,
                   name: str = "audio", max_seconds: float | None = None) -> Generator[Float32Array, None, None]:
    """Mono float32 at ``sample_rate`` in windows of ``window_s`` (the last one shorter), decoded
    as they are asked for: at most one window (and one codec frame) is held at a time.

    ``source`` is the encoded file, in memory or as a seekable binary file (an upload spooled to
    disk stays there). Errors as :func:`decode_audio`: empty, undecodable, longer than
    ``max_seconds``.
    """
    if isinstance(source, bytes):
        if not source:
            raise AudioDecodeError(f"{name}: empty file (0 bytes)")
        source = io.BytesIO(source)
    import av

    window = max(1, int(window_s * sample_rate))
    limit = int(max_seconds * sample_rate) if max_seconds is not None else None
    pending: list[Float32Array] = []
    held = decoded = 0
    try:
        with av.open(source, mode="r", metadata_errors="ignore") as container:
            if not container.streams.audio:
                raise AudioDecodeError(f"{name}: no audio stream found (not an audio file?)")
            for piece in _mono(container, sample_rate):
                pending.append(piece)
                held += len(piece)
                decoded += len(piece)
                if limit is not None and decoded > limit:
                    raise AudioTooLong(f"{name}: audio is longer than {max_seconds:.0f} s")
                while held >= window:
                    joined = np.concatenate(pending)
                    rest = joined[window:].copy()
                    pending, held = ([rest] if len(rest) else []), len(rest)
                    yield joined[:window]
    except AudioDecodeError:
        raise
    except (av.error.FFmpegError, ValueError, OSError, IndexError) as e:
        reason = str(e).split(":")[0] if str(e) else type(e).__name__
        raise AudioDecodeError(f"{name}: cannot decode audio ({reason.strip().lower()})") from e
    if decoded == 0:
        raise AudioDecodeError(f"{name}: contains no audio samples")
    if held:
        yield np.concatenate(pending)


def _mono(container: Any, sample_rate: int) -> Iterator[Float32Array]:
    """The first audio stream's samples, frame by frame, resampled (the resampler flushed at the end)."""
    import av

    resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
    for frame in container.decode(container.streams.audio[0]):
        for out in resampler.resample(frame):
            yield np.asarray(out.to_ndarray().reshape(-1), np.float32)
    for out in resampler.resample(None):
        yield np.asarray(out.to_ndarray().reshape(-1), np.float32)


def ensure_rate(audio: Audio, sample_rate: int) -> Audio:
    if audio.sample_rate == sample_rate:
        return audio
    return Audio(resample(audio.samples, audio.sample_rate, sample_rate), sample_rate)
