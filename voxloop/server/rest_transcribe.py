"""``POST /v1/audio/transcriptions``: OpenAI's multipart form, Whisper behind it.

Fields: ``file`` and ``model`` (required; any model name means this server's ASR),
``language``, ``prompt``, ``response_format`` (json, text, srt, verbose_json, vtt),
``timestamp_granularities[]`` (word, segment), ``temperature`` (accepted), ``stream``
(Server-Sent Events: ``transcript.text.delta`` per decoded piece, then
``transcript.text.done``) and the voxloop extension ``hotwords`` (comma-separated; biases
decoding and is added to the server's vocabulary correction for this request).

Files of any length are segmented by the server's VAD and transcribed whole.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass, replace

from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from voxloop.audio import SUPPORTED_FORMATS, Audio, decode_audio
from voxloop.audio.decode import AudioTooLong
from voxloop.dialogue.vocabulary import Vocabulary
from voxloop.engines.asr.longform import (
    Transcribes,
    plan_chunks,
    speech_regions,
    transcribe_long_async,
)
from voxloop.engines.base import VADEngine
from voxloop.engines.types import OFFLINE_BEAM_SIZE, TranscribeOptions, Transcript
from voxloop.errors import AudioDecodeError, InvalidRequest, VoxloopError
from voxloop.server.rest_common import (
    PayloadTooLarge,
    UnsupportedAudio,
    api,
    background_asr,
    error_body,
    held,
    limited_stream,
    server_state,
)
from voxloop.server.rest_formats import FORMATS, apply_vocabulary, render
from voxloop.server.state import ServerState

__all__ = ["transcriptions"]

logger = logging.getLogger("voxloop.server.rest")

ASR_RATE = 16000
_FORM_SLACK = 256 << 10  # room for the form's other fields around the file
_MAX_FIELD_BYTES = 64 << 10
_GRANULARITIES = ("word", "segment")
SERVER_HOTWORD_CHARS = 400  # about the half of Whisper's prompt that hot words may take


@dataclass(frozen=True, slots=True)
class TranscriptionRequest:
    data: bytes
    filename: str
    model: str
    response_format: str
    granularities: frozenset[str]
    stream: bool
    options: TranscribeOptions


@api
async def transcriptions(request: Request) -> Response:
    state = server_state(request)
    config = state.config
    req = await _read_request(request, config.max_upload_bytes)
    if req.stream:
        return await _streamed(state, req)
    async with state.rest_jobs:  # REST's share of the engines (and of memory): one upload at a time
        return await _transcribed(state, req)


async def _streamed(state: ServerState, req: TranscriptionRequest) -> Response:
    async with state.rest_jobs:
        audio, options, vocabulary = await _prepare(state, req)
    events = held(state.rest_jobs, _sse(background_asr(state), state.stack.vad, audio, options, vocabulary))
    return StreamingResponse(events, media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


async def _prepare(state: ServerState, req: TranscriptionRequest) -> tuple[Audio, TranscribeOptions,
                                                                           Vocabulary | None]:
    audio = await asyncio.to_thread(_decode, req.data, req.filename, state.config.max_upload_seconds)
    server_vocabulary = getattr(state, "vocabulary", None)
    if not isinstance(server_vocabulary, Vocabulary):
        server_vocabulary = None
    options = _with_server_hotwords(req.options, server_vocabulary)
    vocabulary = await asyncio.to_thread(_vocabulary, server_vocabulary, req.options.hotwords)
    return audio, options, vocabulary


async def _transcribed(state: ServerState, req: TranscriptionRequest) -> Response:
    audio, options, vocabulary = await _prepare(state, req)
    transcript = await transcribe_long_async(background_asr(state), state.stack.vad, audio, options)
    if vocabulary is not None:  # a big vocabulary over a long file takes a while: off the loop
        transcript = await asyncio.to_thread(apply_vocabulary, transcript, vocabulary)
    body, media_type = render(transcript, req.response_format, req.granularities)
    return Response(body, media_type=media_type)


# --------------------------------------------------------------------------- the form


async def _read_request(request: Request, max_bytes: int) -> TranscriptionRequest:
    content_type = request.headers.get("content-type", "")
    if not content_type.lower().startswith("multipart/form-data"):
        raise InvalidRequest("send the audio as multipart/form-data with a 'file' field", param="file")
    parser = MultiPartParser(request.headers, limited_stream(request, max_bytes, overhead=_FORM_SLACK),
                             max_files=2, max_fields=64, max_part_size=_MAX_FIELD_BYTES)
    try:
        form = await parser.parse()
    except MultiPartException as e:
        raise InvalidRequest(f"malformed multipart form: {e.message}") from e
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise InvalidRequest("'file' is required (the audio file to transcribe)", param="file")
        if upload.size is not None and upload.size > max_bytes:
            raise PayloadTooLarge(f"file is {upload.size} bytes; this server accepts at most {max_bytes}",
                                  param="file")
        data = await upload.read()
        return _parse_fields(form, data, upload.filename or "file")
    finally:
        await form.close()


def _text(form: FormData, name: str) -> str | None:
    value = form.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidRequest(f"'{name}' must be a text field, not a file", param=name)
    return value.strip()


def _parse_fields(form: FormData, data: bytes, filename: str) -> TranscriptionRequest:
    if not data:
        raise InvalidRequest(f"{filename}: the uploaded file is empty", param="file", code="empty_file")
    model = _text(form, "model")
    if not model:
        raise InvalidRequest("'model' is required (any name, e.g. whisper-1, uses this server's ASR)",
                             param="model")
    response_format = _text(form, "response_format") or "json"
    if response_format not in FORMATS:
        raise InvalidRequest(f"response_format {response_format!r} is not supported; use one of: "
                             f"{', '.join(FORMATS)}", param="response_format")
    raw = [*form.getlist("timestamp_granularities[]"), *form.getlist("timestamp_granularities")]
    granularities: set[str] = set()
    for item in raw:
        if not isinstance(item, str):
            raise InvalidRequest("timestamp_granularities[] must be text", param="timestamp_granularities")
        for g in item.replace(",", " ").split():
            if g not in _GRANULARITIES:
                raise InvalidRequest(f"timestamp granularity {g!r} is not one of: word, segment",
                                     param="timestamp_granularities")
            granularities.add(g)
    temperature = _text(form, "temperature")
    if temperature:
        try:
            t = float(temperature)
        except ValueError:
            t = -1.0
        if not 0.0 <= t <= 1.0:
            raise InvalidRequest("temperature must be a number between 0 and 1", param="temperature")
    stream = (_text(form, "stream") or "false").lower()
    if stream not in ("true", "false", "1", "0"):
        raise InvalidRequest("stream must be true or false", param="stream")
    hotwords = tuple(w.strip() for w in (_text(form, "hotwords") or "").split(",") if w.strip())
    beam = _text(form, "beam_size")
    beam_size = OFFLINE_BEAM_SIZE
    if beam:
        beam_size = int(beam) if beam.isdigit() else 0
        if not 1 <= beam_size <= 10:
            raise InvalidRequest("beam_size must be an integer between 1 and 10", param="beam_size")
    options = TranscribeOptions(
        language=_text(form, "language") or None,
        prompt=_text(form, "prompt") or None,
        hotwords=hotwords,
        beam_size=beam_size,
        word_timestamps=(response_format == "verbose_json" and "word" in granularities)
        or response_format in ("srt", "vtt"),  # subtitle cues are cut at word times
    )
    return TranscriptionRequest(
        data=data,
        filename=filename,
        model=model,
        response_format=response_format,
        granularities=frozenset(granularities),
        stream=stream in ("true", "1"),
        options=options,
    )


def _vocabulary(server: Vocabulary | None, hotwords: tuple[str, ...]) -> Vocabulary | None:
    """The correction for this request: the server's vocabulary plus the request's hot words."""
    if hotwords:
        return server.merged(hotwords) if server is not None else Vocabulary(hotwords)
    return server if server else None


def _with_server_hotwords(options: TranscribeOptions, server: Vocabulary | None) -> TranscribeOptions:
    """A request without hot words is biased towards the server's vocabulary when all of
    it fits in the prompt (a longer list would be cut arbitrarily: correction only)."""
    if options.hotwords or not server:
        return options
    words = server.hotwords(SERVER_HOTWORD_CHARS)
    return replace(options, hotwords=words) if len(words) == len(server) else options


# --------------------------------------------------------------------------- decoding


def _decode(data: bytes, filename: str, max_seconds: float) -> Audio:
    """Blocking: refuse over-long audio from its header when it tells, then decode."""
    declared = _declared_duration(data)
    if declared is not None and declared > max_seconds:
        raise _too_long(declared, max_seconds)
    try:
        audio = decode_audio(data, ASR_RATE, name=filename, max_seconds=max_seconds + 1.0)
    except AudioTooLong as e:
        raise PayloadTooLarge(f"audio is longer than {max_seconds:.0f} s, the most this server accepts",
                              param="file", code="audio_too_long") from e
    except AudioDecodeError as e:
        raise UnsupportedAudio(f"{e.message}. Supported formats: {', '.join(SUPPORTED_FORMATS)}",
                               param="file") from e
    if audio.duration > max_seconds:
        raise _too_long(audio.duration, max_seconds)
    return audio


def _declared_duration(data: bytes) -> float | None:
    import av

    try:
        with av.open(io.BytesIO(data), mode="r", metadata_errors="ignore") as container:
            if container.duration is not None and container.duration > 0:
                return float(container.duration) / 1_000_000  # AV_TIME_BASE
    except (av.error.FFmpegError, ValueError, OSError, IndexError):
        return None  # decode_audio gives the precise error
    return None


def _too_long(seconds: float, limit: float) -> PayloadTooLarge:
    return PayloadTooLarge(f"audio is {seconds:.0f} s long; this server accepts at most {limit:.0f} s",
                           param="file", code="audio_too_long")


# --------------------------------------------------------------------------- transcription


async def _pieces(
    asr: Transcribes, vad: VADEngine, audio: Audio, options: TranscribeOptions
) -> AsyncGenerator[Transcript, None]:
    """Transcripts of the file's VAD chunks, each as soon as it is decoded.

    The same cut as :func:`transcribe_long_async` (never truncated), but piece by piece
    so that a stream can send each one as soon as it exists.
    """
    samples = audio.to(ASR_RATE).samples
    probabilities = await vad.run_blocking(vad.speech_probabilities, samples)
    regions = speech_regions(probabilities, vad.chunk_samples, len(samples))
    for lo, hi in plan_chunks(samples, regions):
        yield await asr.transcribe(Audio(samples[lo:hi], ASR_RATE), options)


async def _sse(
    asr: Transcribes, vad: VADEngine, audio: Audio, options: TranscribeOptions, vocabulary: Vocabulary | None
) -> AsyncIterator[bytes]:
    text = ""
    pieces = _pieces(asr, vad, audio, options)
    try:
        async for part in pieces:
            for segment in part.segments:
                piece = (vocabulary.correct(segment.text) if vocabulary is not None else segment.text).strip()
                if piece:
                    delta = f" {piece}" if text else piece
                    text += delta
                    yield _event({"type": "transcript.text.delta", "delta": delta})
        yield _event({"type": "transcript.text.done", "text": text})
    except VoxloopError as e:
        logger.warning("transcription stream failed: %s", e.message)
        yield _event({"type": "error", **error_body(e)})
    except Exception as e:
        logger.exception("transcription stream crashed")
        yield _event({"type": "error", **error_body(VoxloopError(f"transcription failed ({type(e).__name__})"))})
    finally:
        await pieces.aclose()


def _event(payload: dict[str, object]) -> bytes:
    return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n".encode()
