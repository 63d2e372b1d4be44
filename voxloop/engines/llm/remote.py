"""Any OpenAI-compatible ``/v1/chat/completions`` server (vLLM, Ollama, llama.cpp server...).

Also home of the small HTTP helpers the other OpenAI-compatible backends share: base URL
parsing, one ``httpx.AsyncClient`` per event loop, and the mapping of HTTP failures to
voxloop errors.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any

import httpx

from voxloop.engines.base import LLMEngine
from voxloop.engines.http import (
    ApiKey,
    AsyncClients,
    http_error,
    parse_base_url,
    server_message,
    transport_error,
)
from voxloop.engines.streams import LLMStream
from voxloop.engines.types import ChatMessage, LLMOptions
from voxloop.errors import BackendError

__all__ = ["AsyncClients", "RemoteLLM", "http_error", "parse_base_url", "transport_error"]

logger = logging.getLogger(__name__)

DEFAULT_OPTIONS = LLMOptions()


class RemoteLLM(LLMEngine):
    """``openai:http://host:8000/v1`` or ``openai:http://host:8000/v1?model=name``.

    ``api_key`` is sent as a bearer token; ``api_key_source`` says where it came from (or, with
    no key, how to set one) in the error a 401/403 raises.
    """

    name = "openai"

    def __init__(
        self,
        arg: str | None = None,
        *,
        model: str | None = None,
        api_key: str | None = None,
        api_key_source: str | None = None,
        timeout: float = 60,
        workers: int = 1,
    ) -> None:
        super().__init__(workers=workers)
        self.base_url, query = parse_base_url(arg, "openai LLM")
        self.model = model or query.get("model")
        self._auth = ApiKey(api_key, api_key_source)
        self._clients = AsyncClients(timeout=timeout, headers=self._auth.headers)
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
                    raise http_error(response.status_code, await response.aread(), what, self._auth)
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
        raise BackendError(f"{what}: {server_message(json.dumps(data).encode())}")


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
