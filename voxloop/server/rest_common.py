"""What the REST endpoints share: OpenAI-shaped errors, the handler wrapper, body limits."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar, cast

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from voxloop.audio.pcm import Audio
from voxloop.engines.base import ASREngine
from voxloop.engines.types import TranscribeOptions, Transcript
from voxloop.errors import AudioDecodeError, InvalidRequest, VoxloopError
from voxloop.server.state import ServerState
from voxloop.server.trim import Lane

__all__ = [
    "BodyTimeout",
    "Handler",
    "PayloadTooLarge",
    "UnsupportedAudio",
    "UnsupportedMediaType",
    "api",
    "background_asr",
    "discard_body",
    "error_body",
    "error_response",
    "limited_stream",
    "held",
    "read_body",
    "require_json",
    "server_state",
]

logger = logging.getLogger("voxloop.server.rest")

Handler = Callable[[Request], Awaitable[Response]]
T = TypeVar("T")

_DRAIN_BYTES = 64 << 20  # read (and drop) at most this much of a refused body
_DRAIN_SECONDS = 10.0
BODY_IDLE_S = 30.0  # longest wait for the next piece of a request body


class PayloadTooLarge(InvalidRequest):
    """The upload is larger (in bytes or seconds of audio) than the server accepts."""

    code = "payload_too_large"
    http_status = 413


class UnsupportedAudio(AudioDecodeError):
    """The upload is not audio in a format the server can decode."""

    code = "unsupported_audio_format"
    http_status = 415


class BodyTimeout(InvalidRequest):
    code = "request_timeout"
    http_status = 408


class UnsupportedMediaType(InvalidRequest):
    code = "unsupported_media_type"
    http_status = 415


def server_state(request: Request) -> ServerState:
    state: ServerState = request.app.state.voxloop
    return state


def error_body(err: VoxloopError) -> dict[str, Any]:
    """``{"error": {"message", "type", "param", "code"}}`` as OpenAI sends it."""
    kind = "invalid_request_error" if err.http_status < 500 else "server_error"
    return {
        "error": {
            "message": err.message,
            "type": kind,
            "param": getattr(err, "param", None),
            "code": err.code,
        }
    }


def error_response(err: VoxloopError) -> JSONResponse:
    headers = {"Retry-After": "1"} if err.retryable and err.http_status in (429, 503) else None
    return JSONResponse(error_body(err), status_code=err.http_status, headers=headers)


def api(handler: Handler) -> Handler:
    """Turn every failure of ``handler`` into an OpenAI-shaped error response."""

    @functools.wraps(handler)
    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except VoxloopError as e:
            if e.http_status >= 500:
                logger.warning("%s %s failed: %s", request.method, request.url.path, e.message)
            else:
                logger.info("%s %s refused (%d): %s", request.method, request.url.path, e.http_status, e.message)
            await discard_body(request)
            return error_response(e)
        except ClientDisconnect:
            logger.info("%s %s: client went away", request.method, request.url.path)
            return Response(status_code=499)
        except Exception as e:
            logger.exception("%s %s crashed", request.method, request.url.path)
            err = VoxloopError(f"internal server error ({type(e).__name__})", code="internal_error")
            return error_response(err)

    return wrapped


async def limited_stream(request: Request, max_bytes: int, *, overhead: int = 0) -> AsyncGenerator[bytes, None]:
    """The request body, raising :class:`PayloadTooLarge` once it passes ``max_bytes`` plus
    ``overhead`` (room for what surrounds the payload, e.g. a form's other fields)."""
    limit = max_bytes + overhead
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(_too_large(int(declared), max_bytes), param="file")
    seen = 0
    chunks = request.stream()
    while True:
        try:
            async with asyncio.timeout(BODY_IDLE_S):  # a body that stops arriving is not waited for forever
                chunk = await anext(chunks, None)
        except TimeoutError:
            raise BodyTimeout(f"the request body stopped arriving ({seen} bytes in, nothing for "
                              f"{BODY_IDLE_S:g} s); check its Content-Length") from None
        if chunk is None:
            return
        seen += len(chunk)
        if seen > limit:
            raise PayloadTooLarge(_too_large(seen, max_bytes, at_least=True), param="file")
        yield chunk


async def held(lane: Lane, items: AsyncIterator[T]) -> AsyncGenerator[T, None]:
    """``items``, produced while holding a place in ``lane`` (REST's share of the engines: live
    conversations keep the rest), closed with it."""
    async with lane:
        try:
            async for item in items:
                yield item
        finally:
            aclose = getattr(items, "aclose", None)
            if aclose is not None:
                await aclose()


class _Background:
    """The ASR engine as REST sees it: every decode through the server's scheduler, after live ones."""

    def __init__(self, state: ServerState) -> None:
        self._scheduler = state.scheduler
        self._engine = state.stack.asr

    async def transcribe(self, audio: Audio, options: TranscribeOptions) -> Transcript:
        return await self._scheduler.transcribe(audio, options, background=True)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)


def background_asr(state: ServerState) -> ASREngine:
    return cast(ASREngine, _Background(state))


def require_json(request: Request, *, optional: bool = False) -> bool:
    """Refuse a body declared as anything but JSON (``text/plain`` and forms are what a cross-site
    page can send without a preflight); a body with no content type is read as JSON (scripts).
    ``optional``: no body at all is fine (returns False)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if optional and not content_type and request.headers.get("content-length", "0") == "0" \
            and "transfer-encoding" not in request.headers:
        return False
    if content_type and content_type != "application/json" and not content_type.endswith("+json"):
        raise UnsupportedMediaType(f"send the body as application/json (got {content_type or 'no content type'!r})")
    return True


async def read_body(request: Request, max_bytes: int) -> bytes:
    parts = [chunk async for chunk in limited_stream(request, max_bytes)]
    return b"".join(parts)


async def discard_body(request: Request) -> None:
    """Read what is left of a refused body (bounded) so that the client gets to read our
    answer instead of a connection reset while it is still sending."""
    seen = 0
    try:
        async with asyncio.timeout(_DRAIN_SECONDS):
            async for chunk in request.stream():
                seen += len(chunk)
                if seen > _DRAIN_BYTES:
                    return
    except (ClientDisconnect, RuntimeError, TimeoutError):  # RuntimeError: already read
        return


def _too_large(size: int, limit: int, at_least: bool = False) -> str:
    more = "more than " if at_least else ""
    return f"upload is {more}{_mib(size)}; this server accepts at most {_mib(limit)}"


def _mib(n: int) -> str:
    return f"{n / (1 << 20):.1f} MiB" if n >= 1 << 20 else f"{n} bytes"
