"""WAV read/write (PCM16 mono), no third-party dependency."""

from __future__ import annotations

import io
import wave
from pathlib import Path

import numpy as np

from voxloop.audio.pcm import Audio, float_to_pcm16, pcm16_to_float

__all__ = ["read_wav", "wav_bytes", "write_wav"]


def wav_bytes(audio: Audio) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(audio.sample_rate)
        w.writeframes(float_to_pcm16(audio.samples))
    return buf.getvalue()


def write_wav(path: str | Path, audio: Audio) -> None:
    Path(path).write_bytes(wav_bytes(audio))


def read_wav(path: str | Path) -> Audio:
    """Read a PCM16 WAV (any channel count; channels are averaged)."""
    with wave.open(str(path), "rb") as w:
        channels, width, rate = w.getnchannels(), w.getsampwidth(), w.getframerate()
        data = w.readframes(w.getnframes())
    if width != 2:
        raise ValueError(f"{path}: only 16-bit WAV is supported here, use decode_file")
    x = pcm16_to_float(data)
    if channels > 1:
        x = x.reshape(-1, channels).mean(axis=1).astype(np.float32)
    return Audio(x, rate)
