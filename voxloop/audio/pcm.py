"""PCM conversions and resampling. Internally audio is float32 mono in [-1, 1]."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["Audio", "Float32Array", "float_to_pcm16", "pcm16_to_float", "resample"]

Float32Array = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class Audio:
    """A mono float32 buffer with its sample rate."""

    samples: Float32Array
    sample_rate: int

    @property
    def duration(self) -> float:
        return len(self.samples) / self.sample_rate if self.sample_rate else 0.0

    def to(self, sample_rate: int) -> Audio:
        if sample_rate == self.sample_rate:
            return self
        return Audio(resample(self.samples, self.sample_rate, sample_rate), sample_rate)

    def pcm16(self) -> bytes:
        return float_to_pcm16(self.samples)


_PCM16_SCALE = np.float32(1.0 / 32768.0)


def pcm16_to_float(data: bytes | bytearray | memoryview) -> Float32Array:
    """Little-endian signed 16-bit PCM bytes to float32 samples. Odd trailing bytes are an error."""
    if len(data) % 2:
        raise ValueError(f"PCM16 data must have an even number of bytes, got {len(data)}")
    x = np.frombuffer(data, dtype="<i2").astype(np.float32)
    x *= _PCM16_SCALE  # in place: one array per call (a power of two: the same values as / 32768)
    return x


def float_to_pcm16(samples: npt.NDArray[np.floating]) -> bytes:
    clipped = np.clip(samples, -1.0, 1.0)
    data: bytes = (clipped * 32767.0).astype("<i2").tobytes()
    return data


def resample(samples: npt.NDArray[np.floating], src_rate: int, dst_rate: int) -> Float32Array:
    """Resample a whole buffer (soxr, high quality). For streams use :class:`StreamResampler`."""
    x = np.asarray(samples, dtype=np.float32)
    if src_rate == dst_rate or len(x) == 0:
        return x
    import soxr

    return np.asarray(soxr.resample(x, src_rate, dst_rate, quality="HQ"), dtype=np.float32)


class StreamResampler:
    """Chunk-by-chunk resampling that keeps filter state across chunks."""

    def __init__(self, src_rate: int, dst_rate: int) -> None:
        self.src_rate = src_rate
        self.dst_rate = dst_rate
        self._rs = None
        if src_rate != dst_rate:
            import soxr

            self._rs = soxr.ResampleStream(src_rate, dst_rate, 1, dtype="float32", quality="HQ")

    def push(self, samples: npt.NDArray[np.floating], last: bool = False) -> Float32Array:
        x = np.asarray(samples, dtype=np.float32)
        if self._rs is None:
            return x
        return np.asarray(self._rs.resample_chunk(x, last=last), dtype=np.float32)
