"""Client events of the realtime WebSocket: one handler per event type (docs/realtime-protocol.md).

Each handler checks its event's fields (a mistake is an :class:`InvalidRequest`, sent back
as an ``error`` event) and acts on the connection's session.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Literal, cast

from voxloop.dialogue.history import Item
from voxloop.dialogue.tools import parse_tool_choice, parse_tools
from voxloop.errors import InvalidRequest
from voxloop.server.resume import updated_config
from voxloop.server.wire import event
from voxloop.session.config import SessionConfig
from voxloop.session.events import new_id

if TYPE_CHECKING:
    from voxloop.server.realtime import Connection

__all__ = ["HANDLERS"]

Role = Literal["user", "assistant", "system"]
_MAX_MS = 24 * 3600 * 1000  # (a day of audio: larger cannot be a played position)
Handler = Callable[["Connection", dict[str, Any]], Awaitable[None]]


async def _apply(c: Connection, cfg: SessionConfig, update: Any) -> None:
    if cfg.user != c.session.config.user:
        await c.session.memory.bind_user(cfg.user)
    c.session.apply_config(cfg)
    c.session.vocabulary = c.state.scenes.vocabulary(cfg.preset, c.state.vocabulary)
    c.remember_update(update)


async def _session_update(c: Connection, d: dict[str, Any]) -> None:
    await _apply(c, updated_config(c.state, c.session.config, d.get("session")), d.get("session"))
    c.output.control(c.session_event("session.updated"))


async def _transcription_session_update(c: Connection, d: dict[str, Any]) -> None:
    update = d.get("session")
    await _apply(c, updated_config(c.state, c.session.config, update, beta=True),
                 {**update, "type": "transcription"} if isinstance(update, dict) else update)
    c.output.control(c.session_event("transcription_session.updated"))


async def _append(c: Connection, d: dict[str, Any]) -> None:
    audio = d.get("audio")
    if not isinstance(audio, str):
        raise InvalidRequest("'audio' must be a base64 string of PCM16 audio", param="audio")
    try:
        pcm = base64.b64decode(audio, validate=True)
    except (binascii.Error, ValueError) as e:
        raise InvalidRequest("'audio' is not valid base64", param="audio", code="invalid_audio") from e
    c.session.append_audio(pcm)


async def _commit(c: Connection, d: dict[str, Any]) -> None:
    c.session.commit()


async def _clear(c: Connection, d: dict[str, Any]) -> None:
    c.session.clear_input()


def _item_text(item: Any) -> tuple[Role, str]:
    if not isinstance(item, dict) or item.get("type", "message") != "message":
        raise InvalidRequest("'item.type' must be message, function_call or function_call_output",
                             param="item.type")
    role = item.get("role")
    if role not in ("user", "assistant", "system"):
        raise InvalidRequest("'item.role' must be user, assistant or system", param="item.role")
    content = item.get("content")
    if not isinstance(content, list) or not content:
        raise InvalidRequest("'item.content' must be a non-empty list", param="item.content")
    texts = []
    for part in content:
        if not isinstance(part, dict):
            raise InvalidRequest("'item.content' parts must be objects", param="item.content")
        text = part.get("text", part.get("transcript"))
        if part.get("type") in ("input_audio", "audio") and text is None:
            raise InvalidRequest("audio content in conversation.item.create is not supported; use "
                                 "input_audio_buffer.append", param="item.content")
        if not isinstance(text, str):
            raise InvalidRequest("each content part needs a 'text' string", param="item.content")
        texts.append(text)
    return cast(Role, role), " ".join(texts)


def _call_item(item: dict[str, Any], item_id: str) -> Item:
    """A ``function_call`` (call_id, name, arguments) or ``function_call_output`` (call_id, output)."""
    kind = item["type"]
    call_id = item.get("call_id")
    if not isinstance(call_id, str) or not call_id:
        raise InvalidRequest("'item.call_id' must be a non-empty string", param="item.call_id")
    if kind == "function_call_output":
        output = item.get("output")
        if not isinstance(output, str):
            raise InvalidRequest("'item.output' must be a string", param="item.output")
        return Item("user", output, id=item_id, type="function_call_output", call_id=call_id)
    name, arguments = item.get("name"), item.get("arguments", "{}")
    if not isinstance(name, str) or not name:
        raise InvalidRequest("'item.name' must be a non-empty string", param="item.name")
    if not isinstance(arguments, str):
        raise InvalidRequest("'item.arguments' must be a string of JSON", param="item.arguments")
    return Item("assistant", "", id=item_id, type="function_call", call_id=call_id, name=name, arguments=arguments)


async def _item_create(c: Connection, d: dict[str, Any]) -> None:
    item = d.get("item")
    after = d.get("previous_item_id")
    if after is not None and not isinstance(after, str):
        raise InvalidRequest("'previous_item_id' must be a string", param="previous_item_id")
    given = item.get("id") if isinstance(item, dict) else None
    item_id = given if isinstance(given, str) and given else new_id("item")
    if isinstance(item, dict) and item.get("type") in ("function_call", "function_call_output"):
        c.session.log.create_call_item(_call_item(item, item_id), after)
        return
    role, text = _item_text(item)
    c.session.log.create(role, text, item_id, after)


async def _item_retrieve(c: Connection, d: dict[str, Any]) -> None:
    c.session.log.retrieve(d.get("item_id"))


async def _item_delete(c: Connection, d: dict[str, Any]) -> None:
    c.session.log.delete(d.get("item_id"))


async def _item_truncate(c: Connection, d: dict[str, Any]) -> None:
    item_id, end_ms = d.get("item_id"), d.get("audio_end_ms")
    if not isinstance(item_id, str):
        raise InvalidRequest("'item_id' is required", param="item_id")
    if isinstance(end_ms, bool) or not isinstance(end_ms, int) or not 0 <= end_ms <= _MAX_MS:
        raise InvalidRequest(f"'audio_end_ms' must be an integer from 0 to {_MAX_MS}", param="audio_end_ms")
    c.session.truncate_item(item_id, end_ms)


async def _response_create(c: Connection, d: dict[str, Any]) -> None:
    r = d.get("response")
    r = {} if r is None else r
    if not isinstance(r, dict):
        raise InvalidRequest("'response' must be an object", param="response")
    mods = r.get("output_modalities", r.get("modalities"))
    if mods is not None and (not isinstance(mods, list) or any(m not in ("audio", "text") for m in mods)):
        raise InvalidRequest("'response.output_modalities' must be ['audio'] or ['text']",
                             param="response.output_modalities")
    instructions = r.get("instructions")
    if instructions is not None and not isinstance(instructions, str):
        raise InvalidRequest("'response.instructions' must be a string", param="response.instructions")
    max_tokens = r.get("max_output_tokens")
    if max_tokens == "inf":
        max_tokens = None
    if max_tokens is not None and (isinstance(max_tokens, bool) or not isinstance(max_tokens, int)
                                   or not 1 <= max_tokens <= 4096):
        raise InvalidRequest("'response.max_output_tokens' must be 1..4096", param="response.max_output_tokens")
    if c.session.config.type != "realtime":
        raise InvalidRequest("a transcription session does not create responses", code="invalid_session_type")
    overrides: dict[str, Any] = {}
    if "tools" in r:
        overrides["tools"] = parse_tools(r["tools"], "response.tools")
    if r.get("tool_choice") is not None:
        cfg = c.session.config
        known = (*overrides.get("tools", cfg.tools), *(t.spec for t in cfg.server_tools))
        overrides["tool_choice"] = parse_tool_choice(r["tool_choice"], known, "response.tool_choice")
    c.session.create_response(instructions, output_modalities=tuple(mods) if mods else None,
                              max_output_tokens=max_tokens, **overrides)


async def _response_cancel(c: Connection, d: dict[str, Any]) -> None:
    if not await c.session.interrupt():
        raise InvalidRequest("Cancellation failed: no active response found", code="response_cancel_not_active")


async def _output_clear(c: Connection, d: dict[str, Any]) -> None:
    if not await c.session.interrupt():  # nothing playing: say so, as the buffer is empty anyway
        c.output.control(event("output_audio_buffer.cleared", response_id=None))


HANDLERS: dict[str, Handler] = {
    "session.update": _session_update,
    "transcription_session.update": _transcription_session_update,
    "input_audio_buffer.append": _append,
    "input_audio_buffer.commit": _commit,
    "input_audio_buffer.clear": _clear,
    "conversation.item.create": _item_create,
    "conversation.item.delete": _item_delete,
    "conversation.item.retrieve": _item_retrieve,
    "conversation.item.truncate": _item_truncate,
    "response.create": _response_create,
    "response.cancel": _response_cancel,
    "output_audio_buffer.clear": _output_clear,
}
