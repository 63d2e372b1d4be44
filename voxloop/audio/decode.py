"""Decode any common audio container (wav/flac/mp3/ogg/m4a/webm...) with PyAV."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from voxloop.audio.pcm import Audio, resample
from voxloop.errors import AudioDecodeError

__all__ = ["SUPPORTED_FORMATS", "AudioTooLong", "decode_audio", "decode_file"]

SUPPORTED_FORMATS = ("wav", "flac", "mp3", "ogg", "oga", "opus", "m4a", "mp4", "mpeg", "mpga", "webm", "aac")


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
    limit = int(max_seconds * sample_rate) if max_seconds is not None else None
    decoded = 0
    if not data:
        raise AudioDecodeError(f"{name}: empty file (0 bytes)")
    import av

    chunks: list[np.ndarray] = []
    try:
        with av.open(io.BytesIO(data), mode="r", metadata_errors="ignore") as container:
            if not container.streams.audio:
                raise AudioDecodeError(f"{name}: no audio stream found (not an audio file?)")
            stream = container.streams.audio[0]
            resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1))
                    decoded += len(chunks[-1])
                if limit is not None and decoded > limit:
                    raise AudioTooLong(f"{name}: audio is longer than {max_seconds:.0f} s")
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1))
    except AudioDecodeError:
        raise
    except (av.error.FFmpegError, ValueError, OSError, IndexError) as e:
        reason = str(e).split(":")[0] if str(e) else type(e).__name__
        raise AudioDecodeError(f"{name}: cannot decode audio ({reason.strip().lower()})") from e
    samples = np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)
    if samples.size == 0:
        raise AudioDecodeError(f"{name}: contains no audio samples")
    return Audio(samples, sample_rate)


def ensure_rate(audio: Audio, sample_rate: int) -> Audio:
    if audio.sample_rate == sample_rate:
        return audio
    return Audio(resample(audio.samples, audio.sample_rate, sample_rate), sample_rate)
