"""HTTP plumbing shared by the OpenAI-compatible remote backends (ASR, LLM, TTS):
base URLs, auth headers, per-loop clients, and one mapping of HTTP failures to our errors."""

from __future__ import annotations

import asyncio
import json
import weakref
from urllib.parse import parse_qs, urlsplit, urlunsplit

import httpx

from voxloop.errors import BackendError, BackendUnavailable, InvalidRequest

__all__ = ["AsyncClients", "auth_headers", "http_error", "parse_base_url", "server_message", "transport_error"]


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


def http_error(status: int, body: bytes, what: str) -> BackendError:
    """An HTTP 4xx/5xx answer: a backend error with the server's message."""
    retryable = status in (408, 409, 429) or status >= 500
    return BackendError(f"{what}: HTTP {status}: {server_message(body)}", retryable=retryable)


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
