"""HTTP plumbing shared by the OpenAI-compatible remote backends (ASR, LLM, TTS):
base URLs, auth headers, per-loop clients, and one mapping of HTTP failures to our errors."""

from __future__ import annotations

import asyncio
import json
import weakref
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit, urlunsplit

import httpx

from voxloop.errors import BackendError, BackendUnavailable, InvalidRequest

__all__ = [
    "ApiKey",
    "AsyncClients",
    "auth_headers",
    "http_error",
    "parse_base_url",
    "server_message",
    "transport_error",
]


def parse_base_url(arg: str | None, backend: str) -> tuple[str, dict[str, str]]:
    """``http://host:8000/v1?model=x`` -> (``http://host:8000/v1``, ``{"model": "x"}``)."""
    if not arg:
        raise InvalidRequest(f"the {backend} backend needs a base URL, e.g. openai:http://127.0.0.1:8000/v1")
    parts = urlsplit(arg.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidRequest(f"{backend}: not an http(s) base URL: {arg!r}")
    query = {k: v[-1] for k, v in parse_qs(parts.query).items() if v}
    base = urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))
    return base, query


def server_message(body: bytes) -> str:
    """The error message an OpenAI-style server put in its body, or the body itself."""
    text = body.decode("utf-8", errors="replace").strip()
    try:
        data = json.loads(text)
    except ValueError:
        return text[:500] or "no message"
    if isinstance(data, dict):
        err = data.get("error", data.get("detail", data.get("message")))
        if isinstance(err, dict):
            err = err.get("message", err)
        if err:
            return str(err)[:500]
    return text[:500]


def http_error(status: int, body: bytes, what: str, auth: ApiKey | None = None) -> BackendError:
    """An HTTP 4xx/5xx answer: a backend error with the server's message.

    A 401/403 says the server refused us and which key was sent (where it came from, never
    its value: a server that echoes the key back has it masked).
    """
    retryable = status in (408, 409, 429) or status >= 500
    message = server_message(body)
    if auth is not None:
        message = auth.redact(message)
    if status in (401, 403):
        hint = (auth or ApiKey()).hint
        return BackendError(f"{what} refused the request: HTTP {status}: {message} ({hint})",
                            code="backend_auth_error", retryable=False)
    return BackendError(f"{what}: HTTP {status}: {message}", retryable=retryable)


def transport_error(e: httpx.HTTPError, what: str) -> BackendError:
    """Connection failures make the backend unavailable; other transport faults are errors."""
    if isinstance(e, httpx.ConnectError | httpx.ConnectTimeout | httpx.UnsupportedProtocol):
        return BackendUnavailable(f"{what}: cannot connect: {e or type(e).__name__}")
    if isinstance(e, httpx.TimeoutException):
        return BackendError(f"{what}: timed out ({type(e).__name__})")
    return BackendError(f"{what}: {type(e).__name__}: {e}")


class AsyncClients:
    """One pooled ``httpx.AsyncClient`` per event loop (a client must not cross loops)."""

    def __init__(self, *, timeout: float, headers: dict[str, str]) -> None:
        self._timeout = httpx.Timeout(timeout, connect=min(timeout, 10.0))
        self._headers = headers
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = (
            weakref.WeakKeyDictionary()
        )

    def get(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None or client.is_closed:
            # trust_env=False: proxies and certificates come from configuration, never the env.
            client = httpx.AsyncClient(timeout=self._timeout, headers=self._headers, trust_env=False)
            self._clients[loop] = client
        return client


def auth_headers(api_key: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"} if api_key else {}


@dataclass(frozen=True, slots=True)
class ApiKey:
    """The bearer key of a remote backend and a note on where it came from (for errors).

    ``source`` is set by whoever resolved the key (the CLI), e.g. ``"the key from
    $OPENAI_API_KEY"``, or, with no key, a hint on how to set one. ``repr`` never shows the key.
    """

    value: str | None = field(default=None, repr=False)
    source: str | None = None

    @property
    def headers(self) -> dict[str, str]:
        return auth_headers(self.value)

    @property
    def hint(self) -> str:
        if self.value:
            return f"sent {self.source or 'an API key'}"
        return f"no API key sent{': ' + self.source if self.source else ''}"

    def redact(self, text: str) -> str:
        return text.replace(self.value, "***") if self.value else text
