"""``POST /v1/audio/transcriptions``: OpenAI's multipart form, Whisper behind it.

Fields: ``file`` and ``model`` (required; any model name means this server's ASR),
``language``, ``prompt``, ``response_format`` (json, text, srt, verbose_json, vtt),
``timestamp_granularities[]`` (word, segment), ``temperature`` (accepted), ``stream``
(Server-Sent Events: ``transcript.text.delta`` per decoded piece, then
``transcript.text.done``) and the voxloop extension ``hotwords`` (comma-separated; biases
decoding and is added to the server's vocabulary correction for this request).

Files of any length are decoded window by window (30 s of samples at a time, from the upload
spooled to disk), cut by the server's VAD and transcribed chunk by chunk, so memory stays
bounded whatever the length; every format PyAV reads is decoded this way.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from dataclasses import dataclass, replace
from typing import BinaryIO

from starlette.background import BackgroundTask
from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from voxloop.audio import SUPPORTED_FORMATS
from voxloop.audio.decode import AudioTooLong, decode_windows
from voxloop.audio.pcm import Float32Array
from voxloop.dialogue.vocabulary import Vocabulary
from voxloop.engines.asr.longform import join_transcripts
from voxloop.engines.asr.windowed import transcribe_windows
from voxloop.engines.types import OFFLINE_BEAM_SIZE, TranscribeOptions, Transcript
from voxloop.errors import AudioDecodeError, InvalidRequest, VoxloopError
from voxloop.server.rest_common import (
    PayloadTooLarge,
    UnsupportedAudio,
    UnsupportedMediaType,
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
    file: BinaryIO  # the upload, spooled to disk past 1 MB; open until the form is closed
    filename: str
    model: str
    response_format: str
    granularities: frozenset[str]
    stream: bool
    options: TranscribeOptions


@api
async def transcriptions(request: Request) -> Response:
    state = server_state(request)
    req, form = await _read_request(request, state.config.max_upload_bytes)
    owned: FormData | None = form
    try:
        if req.stream:
            response = await _streamed(state, req, form)
            owned = None  # the stream closes it when done
            return response
        async with state.rest_jobs:  # REST's share of the engines (and of memory): one upload at a time
            return await _transcribed(state, req)
    finally:
        if owned is not None:
            await owned.close()


async def _streamed(state: ServerState, req: TranscriptionRequest, form: FormData) -> Response:
    upload = _Upload(req.file, req.filename, state.config.max_upload_seconds)
    async with state.rest_jobs:
        options, vocabulary = await _prepare(state, req)
        windows = await upload.primed()  # an undecodable file is still a 4xx, not an error event
    pieces = transcribe_windows(background_asr(state), state.stack.vad, windows, options)
    events = held(state.rest_jobs, _sse(pieces, vocabulary))
    return StreamingResponse(events, media_type="text/event-stream", background=BackgroundTask(form.close),
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


async def _prepare(state: ServerState, req: TranscriptionRequest) -> tuple[TranscribeOptions, Vocabulary | None]:
    server_vocabulary = getattr(state, "vocabulary", None)
    if not isinstance(server_vocabulary, Vocabulary):
        server_vocabulary = None
    options = _with_server_hotwords(req.options, server_vocabulary)
    vocabulary = await asyncio.to_thread(_vocabulary, server_vocabulary, req.options.hotwords)
    return options, vocabulary


async def _transcribed(state: ServerState, req: TranscriptionRequest) -> Response:
    options, vocabulary = await _prepare(state, req)
    upload = _Upload(req.file, req.filename, state.config.max_upload_seconds)
    pieces = transcribe_windows(background_asr(state), state.stack.vad, upload.windows(), options)
    try:
        parts = [part async for part in pieces]
    finally:
        await pieces.aclose()
    transcript = join_transcripts(parts, upload.seconds, options.language or "en")
    if vocabulary is not None:  # a big vocabulary over a long file takes a while: off the loop
        transcript = await asyncio.to_thread(apply_vocabulary, transcript, vocabulary)
    body, media_type = render(transcript, req.response_format, req.granularities)
    return Response(body, media_type=media_type)


# --------------------------------------------------------------------------- the form


async def _read_request(request: Request, max_bytes: int) -> tuple[TranscriptionRequest, FormData]:
    """The form's fields and its open file; the caller closes the form."""
    content_type = request.headers.get("content-type", "")
    if not content_type.lower().startswith("multipart/form-data"):
        raise UnsupportedMediaType("send the audio as multipart/form-data with a 'file' field "
                                   f"(got {content_type or 'no content type'!r})", param="file")
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
        size = upload.size if upload.size is not None else await asyncio.to_thread(_size, upload.file)
        if size > max_bytes:
            raise PayloadTooLarge(f"file is {size} bytes; this server accepts at most {max_bytes}",
                                  param="file")
        return _parse_fields(form, upload.file, size, upload.filename or "file"), form
    except BaseException:
        await form.close()
        raise


def _size(file: BinaryIO) -> int:
    return file.seek(0, 2)


def _text(form: FormData, name: str) -> str | None:
    value = form.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidRequest(f"'{name}' must be a text field, not a file", param=name)
    return value.strip()


def _parse_fields(form: FormData, file: BinaryIO, size: int, filename: str) -> TranscriptionRequest:
    if not size:
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
        file=file,
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


class _Upload:
    """The uploaded file's audio at 16 kHz, window by window, each decoded off the event loop;
    over-long audio is refused from its header when it tells, else once decoding passes it."""

    def __init__(self, file: BinaryIO, filename: str, max_seconds: float) -> None:
        self.file = file
        self.filename = filename
        self.max_seconds = max_seconds
        self.seconds = 0.0  # decoded so far

    async def windows(self) -> AsyncGenerator[Float32Array, None]:
        declared = await asyncio.to_thread(_declared_duration, self.file)
        if declared is not None and declared > self.max_seconds:
            raise _too_long(declared, self.max_seconds)
        decoded = decode_windows(self.file, ASR_RATE, name=self.filename, max_seconds=self.max_seconds + 1.0)
        try:
            while (window := await asyncio.to_thread(self._next, decoded)) is not None:
                yield window
        finally:
            with contextlib.suppress(ValueError):  # still decoding in its thread (we were cancelled):
                decoded.close()  # it is closed when collected

    async def primed(self) -> AsyncGenerator[Float32Array, None]:
        """:meth:`windows` with the first one already decoded (its errors raised here)."""
        windows = self.windows()
        try:
            first = await anext(windows, None)
        except BaseException:
            await windows.aclose()
            raise

        async def chained() -> AsyncGenerator[Float32Array, None]:
            try:
                if first is not None:
                    yield first
                async for window in windows:
                    yield window
            finally:
                await windows.aclose()

        return chained()

    def _next(self, decoded: Iterator[Float32Array]) -> Float32Array | None:
        try:
            window = next(decoded, None)
        except AudioTooLong as e:
            raise PayloadTooLarge(f"audio is longer than {self.max_seconds:.0f} s, the most this server "
                                  "accepts", param="file", code="audio_too_long") from e
        except AudioDecodeError as e:
            raise UnsupportedAudio(f"{e.message}. Supported formats: {', '.join(SUPPORTED_FORMATS)}",
                                   param="file") from e
        if window is not None:
            self.seconds += len(window) / ASR_RATE
            if self.seconds > self.max_seconds:
                raise _too_long(self.seconds, self.max_seconds)
        return window


def _declared_duration(file: BinaryIO) -> float | None:
    """Blocking: the container's duration when its header tells (the file is rewound)."""
    import av

    try:
        file.seek(0)
        with av.open(file, mode="r", metadata_errors="ignore") as container:
            if container.duration is not None and container.duration > 0:
                return float(container.duration) / 1_000_000  # AV_TIME_BASE
    except (av.error.FFmpegError, ValueError, OSError, IndexError):
        return None  # decoding gives the precise error
    finally:
        file.seek(0)
    return None


def _too_long(seconds: float, limit: float) -> PayloadTooLarge:
    return PayloadTooLarge(f"audio is {seconds:.0f} s long; this server accepts at most {limit:.0f} s",
                           param="file", code="audio_too_long")


# --------------------------------------------------------------------------- transcription


async def _sse(
    pieces: AsyncGenerator[tuple[float, Transcript], None], vocabulary: Vocabulary | None
) -> AsyncIterator[bytes]:
    """``transcript.text.delta`` per decoded chunk, then ``transcript.text.done``."""
    text = ""
    try:
        async for _, part in pieces:
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
