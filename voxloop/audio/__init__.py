"""Audio primitives: PCM conversion, resampling, decoding files, WAV and subtitle writers."""

from voxloop.audio.decode import SUPPORTED_FORMATS, decode_audio, decode_file
from voxloop.audio.pcm import (
    Audio,
    float_to_pcm16,
    pcm16_to_float,
    resample,
)
from voxloop.audio.subtitles import to_srt, to_vtt
from voxloop.audio.wav import read_wav, wav_bytes, write_wav

__all__ = [
    "SUPPORTED_FORMATS",
    "Audio",
    "decode_audio",
    "decode_file",
    "float_to_pcm16",
    "pcm16_to_float",
    "read_wav",
    "resample",
    "to_srt",
    "to_vtt",
    "wav_bytes",
    "write_wav",
]
