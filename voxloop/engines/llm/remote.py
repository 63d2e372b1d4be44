"""Any OpenAI-compatible ``/v1/chat/completions`` server (vLLM, Ollama, llama.cpp server...).

Also home of the small HTTP helpers the other OpenAI-compatible backends share: base URL
parsing, one ``httpx.AsyncClient`` per event loop, and the mapping of HTTP failures to
voxloop errors.
"""

from __future__ import annotations

import asyncio
import json
import logging
import weakref
from collections.abc import AsyncIterator, Sequence
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

import httpx

from voxloop.engines.base import ChatMessage, LLMEngine, LLMOptions, LLMStream
from voxloop.errors import BackendError, BackendUnavailable, InvalidRequest

__all__ = ["AsyncClients", "RemoteLLM", "http_error", "parse_base_url", "transport_error"]

logger = logging.getLogger(__name__)

DEFAULT_OPTIONS = LLMOptions()


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


def _server_message(body: bytes) -> str:
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
    return BackendError(f"{what}: HTTP {status}: {_server_message(body)}", retryable=retryable)


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


class RemoteLLM(LLMEngine):
    """``openai:http://host:8000/v1`` or ``openai:http://host:8000/v1?model=name``."""

    name = "openai"

    def __init__(
        self,
        arg: str | None = None,
        *,
        model: str | None = None,
        api_key: str | None = None,
        timeout: float = 60,
        workers: int = 1,
    ) -> None:
        super().__init__(workers=workers)
        self.base_url, query = parse_base_url(arg, "openai LLM")
        self.model = model or query.get("model")
        self._clients = AsyncClients(timeout=timeout, headers=auth_headers(api_key))
        self._loaded = True  # nothing to load

    def describe(self) -> dict[str, str]:
        return {"backend": self.name, "url": self.base_url, "model": self.model or "(server default)"}

    def _body(self, messages: Sequence[ChatMessage], options: LLMOptions) -> dict[str, Any]:
        body: dict[str, Any] = {
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "stream": True,
            "temperature": options.temperature,
            "top_p": options.top_p,
            "max_tokens": options.max_tokens,
        }
        model = options.model or self.model
        if model:
            body["model"] = model
        if options.stop:
            body["stop"] = list(options.stop)
        if options.seed is not None:
            body["seed"] = options.seed
        return body

    def chat(self, messages: Sequence[ChatMessage], options: LLMOptions = DEFAULT_OPTIONS) -> LLMStream:
        """Stream deltas from the server; ``aclose`` closes the HTTP response, which stops it."""
        return LLMStream(self._deltas(self._body(messages, options)))

    async def _deltas(self, body: dict[str, Any]) -> AsyncIterator[str]:
        url = f"{self.base_url}/chat/completions"
        what = f"LLM server {self.base_url}"
        try:
            async with self._clients.get().stream("POST", url, json=body) as response:
                if response.status_code >= 400:
                    raise http_error(response.status_code, await response.aread(), what)
                if "text/event-stream" not in response.headers.get("content-type", "text/event-stream"):
                    # A server that ignored stream=true and answered with one JSON object.
                    content = _message_content(_json(await response.aread(), what), what)
                    if content:
                        yield content
                    return
                async for line in response.aiter_lines():
                    if not line.startswith("data:"):
                        continue  # blank separators, ": keep-alive" comments, event: lines
                    payload = line[5:].strip()
                    if payload == "[DONE]":
                        return
                    delta = _delta_content(_json(payload.encode(), what), what)
                    if delta:
                        yield delta
        except httpx.HTTPError as e:
            raise transport_error(e, what) from e


def _json(raw: bytes, what: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError as e:
        raise BackendError(f"{what}: invalid JSON from server: {raw[:200]!r}") from e


def _check_error(data: Any, what: str) -> None:
    if isinstance(data, dict) and data.get("error"):
        raise BackendError(f"{what}: {_server_message(json.dumps(data).encode())}")


def _delta_content(data: Any, what: str) -> str:
    _check_error(data, what)
    try:
        choices = data.get("choices") or []
        content = choices[0].get("delta", {}).get("content") if choices else None
    except (AttributeError, IndexError, TypeError) as e:
        raise BackendError(f"{what}: unexpected stream chunk: {str(data)[:200]}") from e
    return content if isinstance(content, str) else ""


def _message_content(data: Any, what: str) -> str:
    _check_error(data, what)
    try:
        content = data["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError) as e:
        raise BackendError(f"{what}: unexpected response: {str(data)[:200]}") from e
    return content if isinstance(content, str) else ""
