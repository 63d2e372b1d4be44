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
from voxloop.engines.llm.tools import check_tool_choice, new_call_id
from voxloop.engines.streams import LLMStream
from voxloop.engines.types import TOOL_CHOICES, ChatMessage, LLMChunk, LLMOptions, ToolCallDelta
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
            "messages": [_wire_message(m) for m in messages],
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
        check_tool_choice(options)
        if options.tools:
            body["tools"] = [_wire_tool(t.name, t.description, t.parameters) for t in options.tools]
            choice = options.tool_choice
            body["tool_choice"] = choice if choice in TOOL_CHOICES else {"type": "function", "function": {"name": choice}}
        return body

    def chat(self, messages: Sequence[ChatMessage], options: LLMOptions = DEFAULT_OPTIONS) -> LLMStream:
        """Stream deltas (text, tool-call pieces) from the server; ``aclose`` closes the HTTP
        response, which stops it."""
        return LLMStream(self._deltas(self._body(messages, options)))

    async def _deltas(self, body: dict[str, Any]) -> AsyncIterator[LLMChunk]:
        url = f"{self.base_url}/chat/completions"
        what = f"LLM server {self.base_url}"
        calls = _Calls(what)
        try:
            async with self._clients.get().stream("POST", url, json=body) as response:
                if response.status_code >= 400:
                    raise http_error(response.status_code, await response.aread(), what, self._auth)
                if "text/event-stream" not in response.headers.get("content-type", "text/event-stream"):
                    # A server that ignored stream=true and answered with one JSON object.
                    message = _message(_json(await response.aread(), what), what)
                    content = message.get("content")
                    if isinstance(content, str) and content:
                        yield content
                    for piece in calls.whole(message.get("tool_calls")):
                        yield piece
                    return
                async for line in response.aiter_lines():
                    if not line.startswith("data:"):
                        continue  # blank separators, ": keep-alive" comments, event: lines
                    payload = line[5:].strip()
                    if payload == "[DONE]":
                        return
                    delta = _delta(_json(payload.encode(), what), what)
                    content = delta.get("content")
                    if isinstance(content, str) and content:
                        yield content
                    for piece in calls.pieces(delta.get("tool_calls")):
                        yield piece
        except httpx.HTTPError as e:
            raise transport_error(e, what) from e


def _wire_tool(name: str, description: str, parameters: dict[str, Any]) -> dict[str, Any]:
    function: dict[str, Any] = {"name": name, "parameters": parameters}
    if description:
        function["description"] = description
    return {"type": "function", "function": function}


def _wire_message(m: ChatMessage) -> dict[str, Any]:
    """A message as OpenAI's chat API has it: assistant ``tool_calls``, ``tool`` results."""
    if m.role == "tool":
        return {"role": "tool", "content": m.content, "tool_call_id": m.tool_call_id or ""}
    if m.role == "assistant" and m.tool_calls:
        return {
            "role": "assistant",
            "content": m.content or None,
            "tool_calls": [
                {"id": c.call_id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                for c in m.tool_calls
            ],
        }
    return {"role": m.role, "content": m.content}


class _Calls:
    """Tool calls from the server as :class:`ToolCallDelta` pieces, checked: the first piece
    of each call has its id (one is made up if the server sent none) and name."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.seen: set[int] = set()

    def _bad(self, problem: str, data: Any) -> BackendError:
        return BackendError(f"{self.what}: malformed tool call ({problem}): {str(data)[:200]}")

    def _piece(self, index: Any, call: Any) -> ToolCallDelta:
        if not isinstance(call, dict):
            raise self._bad("not an object", call)
        if not isinstance(index, int) or isinstance(index, bool) or index < 0:
            raise self._bad("no valid index", call)
        function = call.get("function") or {}
        if not isinstance(function, dict):
            raise self._bad("function is not an object", call)
        call_id, name, arguments = call.get("id"), function.get("name"), function.get("arguments")
        for field, value in (("id", call_id), ("name", name), ("arguments", arguments)):
            if value is not None and not isinstance(value, str):
                raise self._bad(f"{field} is not a string", call)
        if index not in self.seen:
            if not name:
                raise self._bad("its first piece has no name", call)
            self.seen.add(index)
            return ToolCallDelta(index, arguments or "", call_id=call_id or new_call_id(), name=name)
        return ToolCallDelta(index, arguments or "")  # later pieces: arguments (id, name: already known)

    def pieces(self, tool_calls: Any) -> list[ToolCallDelta]:
        """``choices[0].delta.tool_calls`` of one stream chunk."""
        if tool_calls is None:
            return []
        if not isinstance(tool_calls, list):
            raise self._bad("tool_calls is not a list", tool_calls)
        return [self._piece(c.get("index") if isinstance(c, dict) else None, c) for c in tool_calls]

    def whole(self, tool_calls: Any) -> list[ToolCallDelta]:
        """``choices[0].message.tool_calls`` of a complete answer: one piece per call."""
        if tool_calls is None:
            return []
        if not isinstance(tool_calls, list):
            raise self._bad("tool_calls is not a list", tool_calls)
        out = []
        for i, call in enumerate(tool_calls):
            piece = self._piece(i, call)
            if piece.arguments == "" and isinstance(call, dict) and "arguments" not in (call.get("function") or {}):
                raise self._bad("no arguments", call)
            out.append(piece)
        return out


def _json(raw: bytes, what: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError as e:
        raise BackendError(f"{what}: invalid JSON from server: {raw[:200]!r}") from e


def _check_error(data: Any, what: str) -> None:
    if isinstance(data, dict) and data.get("error"):
        raise BackendError(f"{what}: {server_message(json.dumps(data).encode())}")


def _delta(data: Any, what: str) -> dict[str, Any]:
    """``choices[0].delta`` of a stream chunk ({} for chunks without choices)."""
    _check_error(data, what)
    try:
        choices = data.get("choices") or []
        delta = choices[0].get("delta") or {} if choices else {}
    except (AttributeError, IndexError, TypeError) as e:
        raise BackendError(f"{what}: unexpected stream chunk: {str(data)[:200]}") from e
    if not isinstance(delta, dict):
        raise BackendError(f"{what}: unexpected stream chunk: {str(data)[:200]}")
    return delta


def _message(data: Any, what: str) -> dict[str, Any]:
    """``choices[0].message`` of a complete answer."""
    _check_error(data, what)
    try:
        message = data["choices"][0]["message"]
    except (KeyError, IndexError, TypeError) as e:
        raise BackendError(f"{what}: unexpected response: {str(data)[:200]}") from e
    if not isinstance(message, dict):
        raise BackendError(f"{what}: unexpected response: {str(data)[:200]}")
    return message
