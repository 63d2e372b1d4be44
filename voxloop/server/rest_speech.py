"""``POST /v1/audio/speech``: OpenAI's JSON body, streamed audio as it is synthesized.

All formats are mono 24 kHz, like OpenAI's: ``pcm`` is raw PCM16, ``wav`` is PCM16 behind
a streaming header (sizes 0xFFFFFFFF), and ``mp3``, ``opus`` (Ogg), ``flac`` and ``aac``
(ADTS) are encoded with PyAV where its encoders are available. The first chunk of audio
leaves as soon as the first sentence is synthesized.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import struct
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from voxloop.audio.pcm import Audio, Float32Array, StreamResampler, float_to_pcm16
from voxloop.engines.base import TTSEngine
from voxloop.engines.executor import PRIORITY
from voxloop.engines.types import PRIORITY_BACKGROUND, TTSOptions
from voxloop.errors import InvalidRequest
from voxloop.server.jsonlimits import loads
from voxloop.server.rest_common import api, held, read_body, require_json, server_state

__all__ = ["OPENAI_VOICES", "SPEECH_RATE", "speech", "supported_speech_formats"]

logger = logging.getLogger("voxloop.server.rest")

SPEECH_RATE = 24000
OPENAI_VOICES = frozenset(
    "alloy ash ballad coral echo fable onyx nova sage shimmer verse marin cedar".split()
)
_MEDIA_TYPES = {"mp3": "audio/mpeg", "opus": "audio/ogg", "aac": "audio/aac", "flac": "audio/flac",
                "wav": "audio/wav", "pcm": "audio/pcm"}
# response_format -> (PyAV container format, encoder names in order of preference)
_ENCODED = {"mp3": ("mp3", ("libmp3lame", "mp3")), "opus": ("ogg", ("libopus",)),
            "aac": ("adts", ("aac",)), "flac": ("flac", ("flac",))}
_BODY_SLACK = 64 << 10
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@functools.cache
def _codec(fmt: str) -> str | None:
    """The encoder this PyAV build has for ``fmt``, or None."""
    import av

    container, names = _ENCODED[fmt]
    if container not in av.formats_available:
        return None
    for name in names:
        try:
            av.codec.Codec(name, "w")
        except (av.error.FFmpegError, ValueError):  # ValueError: unknown codec
            continue
        return name
    return None


def supported_speech_formats() -> tuple[str, ...]:
    return (*(f for f in _ENCODED if _codec(f) is not None), "wav", "pcm")


@api
async def speech(request: Request) -> Response:
    state = server_state(request)
    config = state.config
    require_json(request)
    raw = await read_body(request, config.max_speech_chars * 6 + _BODY_SLACK)
    body = loads(raw, max_depth=config.max_json_depth, what="the body")
    if not isinstance(body, dict):
        raise InvalidRequest("the body must be a JSON object")
    text, fmt, options = _parse(body, config.max_speech_chars)
    chunks = held(state.rest_jobs, _by_sentence(state.stack.tts, text, options))  # one sentence at a time
    try:
        first = await anext(chunks, None)  # errors before any audio still get a status
    except BaseException:
        await _aclose(chunks)
        raise
    return StreamingResponse(_stream(first, chunks, fmt), media_type=_MEDIA_TYPES[fmt])


def _parse(body: dict[str, Any], max_chars: int) -> tuple[str, str, TTSOptions]:
    text = body.get("input")
    if isinstance(text, str):  # control characters (NUL…) are nothing to say, and break synthesis
        text = _CONTROL.sub(" ", text)
    if not isinstance(text, str) or not text.strip():
        raise InvalidRequest("'input' is required: the text to speak", param="input")
    if len(text) > max_chars:
        raise InvalidRequest(f"'input' is {len(text)} characters; the maximum is {max_chars}", param="input")
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise InvalidRequest("'model' is required (any name, e.g. tts-1, uses this server's voice)",
                             param="model")
    voice = body.get("voice")
    if isinstance(voice, dict):
        voice = voice.get("id")
    if voice is not None and not isinstance(voice, str):
        raise InvalidRequest("'voice' must be a voice name", param="voice")
    if voice is not None and (voice.strip().lower() in OPENAI_VOICES or not voice.strip()):
        voice = None  # OpenAI's names all mean this server's default voice
    supported = supported_speech_formats()
    fmt = body.get("response_format") or ("mp3" if "mp3" in supported else "wav")
    if fmt not in supported:
        raise InvalidRequest(f"response_format {fmt!r} is not supported here; use one of: {', '.join(supported)}",
                             param="response_format")
    speed = body.get("speed", 1.0)
    if isinstance(speed, bool) or not isinstance(speed, int | float) or not 0.25 <= speed <= 4.0:
        raise InvalidRequest("speed must be a number between 0.25 and 4.0", param="speed")
    stream_format = body.get("stream_format", "audio")
    if stream_format not in (None, "audio"):
        raise InvalidRequest("only stream_format 'audio' is supported", param="stream_format")
    return text, fmt, TTSOptions(voice=voice, speed=float(speed))


async def _stream(first: Audio | None, chunks: AsyncIterator[Audio], fmt: str) -> AsyncIterator[bytes]:
    encoder = _Encoder(fmt, first.sample_rate if first is not None else SPEECH_RATE)
    try:
        head = encoder.header()
        if head:
            yield head
        chunk = first
        while chunk is not None:
            data = await asyncio.to_thread(encoder.encode, chunk.samples)
            if data:
                yield data
            chunk = await anext(chunks, None)
        tail = await asyncio.to_thread(encoder.finish)
        if tail:
            yield tail
    except Exception:
        logger.exception("speech stream failed; the response is cut short")
        raise
    finally:
        await _aclose(chunks)
        encoder.close()


_SENTENCE_END = re.compile(r"(?<=[.!?;:…])\s+")
_PIECE_CHARS = 400  # a sentence longer than this is cut at a comma or a space


def sentences(text: str) -> list[str]:
    """The text in sentences (long ones cut), the units synthesised one job at a time."""
    out: list[str] = []
    for sentence in (s.strip() for s in _SENTENCE_END.split(text)):
        while len(sentence) > _PIECE_CHARS:
            cut = max(sentence.rfind(", ", 0, _PIECE_CHARS), sentence.rfind(" ", 0, _PIECE_CHARS))
            cut = cut + 1 if cut > 0 else _PIECE_CHARS
            out.append(sentence[:cut].strip())
            sentence = sentence[cut:].strip()
        if sentence:
            out.append(sentence)
    return out


async def _by_sentence(tts: TTSEngine, text: str, options: TTSOptions) -> AsyncIterator[Audio]:
    """Sentence by sentence, each queued as background work (after live replies' clauses): a long
    input never holds the TTS for long, and only one sentence's audio is in memory at a time."""
    for sentence in sentences(text):
        chunks = tts.synthesize(sentence, options)
        token = PRIORITY.set(PRIORITY_BACKGROUND)  # the job is submitted by the first step
        try:
            first = await anext(chunks, None)
        finally:
            PRIORITY.reset(token)
        try:
            while first is not None:
                yield first
                first = await anext(chunks, None)
        finally:
            await _aclose(chunks)


async def _aclose(chunks: AsyncIterator[Audio]) -> None:
    aclose = getattr(chunks, "aclose", None)
    if aclose is not None:
        await aclose()


class _Encoder:
    """Resample to 24 kHz and encode chunk by chunk (one thread at a time)."""

    def __init__(self, fmt: str, source_rate: int) -> None:
        self.fmt = fmt
        self._resampler = StreamResampler(source_rate, SPEECH_RATE)
        self._container: Any = None
        self._stream: Any = None
        self._sink = _Sink()
        self._pts = 0
        if fmt in _ENCODED:
            import av

            codec = _codec(fmt)
            assert codec is not None  # checked by supported_speech_formats
            self._container = av.open(self._sink, mode="w", format=_ENCODED[fmt][0])
            self._stream = self._container.add_stream(codec, rate=SPEECH_RATE)
            self._stream.layout = "mono"
            if fmt in ("mp3", "aac", "opus"):
                self._stream.bit_rate = 64000

    def header(self) -> bytes:
        if self.fmt != "wav":
            return b""
        unknown = 0xFFFFFFFF  # streaming: the length is not known yet
        return b"".join((
            b"RIFF", struct.pack("<I", unknown), b"WAVE",
            b"fmt ", struct.pack("<IHHIIHH", 16, 1, 1, SPEECH_RATE, SPEECH_RATE * 2, 2, 16),
            b"data", struct.pack("<I", unknown),
        ))

    def encode(self, samples: Float32Array, last: bool = False) -> bytes:
        x = self._resampler.push(samples, last=last)
        if self._container is None:
            return float_to_pcm16(x)
        if len(x):
            self._mux(x)
        return self._sink.take()

    def finish(self) -> bytes:
        data = self.encode(np.zeros(0, np.float32), last=True)
        if self._container is None:
            return data
        for packet in self._stream.encode(None):
            self._container.mux(packet)
        self._container.close()
        self._container = None
        return data + self._sink.take()

    def _mux(self, x: Float32Array) -> None:
        import av

        pcm = (np.clip(x, -1.0, 1.0) * 32767.0).astype(np.int16).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
        frame.sample_rate = SPEECH_RATE
        frame.pts = self._pts
        self._pts += pcm.shape[1]
        for packet in self._stream.encode(frame):
            self._container.mux(packet)

    def close(self) -> None:
        if self._container is not None:
            try:
                self._container.close()
            except Exception:  # noqa: BLE001 - a half-written stream on a closed request
                logger.debug("closing an unfinished %s encoder failed", self.fmt, exc_info=True)
            self._container = None


class _Sink:
    """A write-only file for the muxer: hands out what was written since the last take.

    Muxers that seek back to patch a header (mp3's Xing frame, FLAC's STREAMINFO) after
    those bytes left are ignored there; players do not need those patches.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self._sent = 0  # bytes handed out before _buf
        self._pos = 0

    def write(self, data: bytes | memoryview) -> int:
        b = bytes(data)
        at = self._pos - self._sent
        self._pos += len(b)
        if at < 0:  # patching bytes already sent
            b = b[-at:]
            at = 0
        if at + len(b) > len(self._buf):
            self._buf.extend(b"\0" * (at + len(b) - len(self._buf)))
        self._buf[at : at + len(b)] = b
        return len(data)

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._pos, 2: self._sent + len(self._buf)}[whence]
        self._pos = base + offset
        return self._pos

    def tell(self) -> int:
        return self._pos

    def take(self) -> bytes:
        out = bytes(self._buf)
        self._sent += len(out)
        self._buf.clear()
        return out
