"""``/v1/realtime``: the OpenAI Realtime-compatible WebSocket (docs/realtime-protocol.md)."""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Literal, cast

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from voxloop.dialogue.history import Item
from voxloop.dialogue.tools import parse_tool_choice, parse_tools
from voxloop.errors import InvalidRequest, OverloadedError, VoxloopError
from voxloop.server.conversations import Holder
from voxloop.server.pacer import Pacer
from voxloop.server.protocol import session_object
from voxloop.server.resume import merge_settings, open_conversation, updated_config
from voxloop.server.state import ServerState
from voxloop.server.wire import error_event, event, render
from voxloop.session.config import SessionConfig
from voxloop.session.events import new_id
from voxloop.session.session import Session

__all__ = ["endpoint"]

logger = logging.getLogger(__name__)
Role = Literal["user", "assistant", "system"]
Handler = Callable[["Connection", dict[str, Any]], Awaitable[None]]


class Connection:
    """One WebSocket client and its session."""

    def __init__(self, ws: WebSocket, state: ServerState, session: Session, output: Pacer, model: str) -> None:
        self.ws = ws
        self.state = state
        self.session = session
        self.output = output
        self.model = model
        self.settings: dict[str, Any] = {}  # every session.update's "session", merged: kept with the conversation

    def session_event(self, type_: str) -> dict[str, Any]:
        return event(type_, session=session_object(self.session.config, self.session.id, self.model))

    def remember_update(self, update: Any) -> None:
        if isinstance(update, dict):
            self.settings = merge_settings(self.settings, update)
            self.session.memory.settings_changed(self.settings)

    async def handle(self, text: str) -> None:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise InvalidRequest(f"message is not valid JSON: {e.msg} at position {e.pos}",
                                 code="invalid_json") from e
        if not isinstance(data, dict) or not isinstance(data.get("type"), str):
            raise InvalidRequest("each message must be a JSON object with a string 'type'", param="type",
                                 code="invalid_event")
        handler = HANDLERS.get(data["type"])
        if handler is None:
            raise InvalidRequest(f"unknown event type {data['type']!r}; see docs/realtime-protocol.md",
                                 param="type", code="unknown_event")
        try:
            await handler(self, data)
        except VoxloopError as e:
            e.event_id = data.get("event_id")  # type: ignore[attr-defined]
            raise


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
    if isinstance(end_ms, bool) or not isinstance(end_ms, int) or end_ms < 0:
        raise InvalidRequest("'audio_end_ms' must be a non-negative integer", param="audio_end_ms")
    c.session.truncate_item(item_id, end_ms)


async def _response_create(c: Connection, d: dict[str, Any]) -> None:
    r = d.get("response") or {}
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
    await c.session.interrupt()


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


async def endpoint(ws: WebSocket) -> None:
    state: ServerState = ws.app.state.voxloop
    offered = ws.scope.get("subprotocols") or []
    await ws.accept(subprotocol="realtime" if "realtime" in offered else None)
    transcription = ws.query_params.get("intent") == "transcription"
    model = ws.query_params.get("model") or ("voxloop-transcribe" if transcription else "voxloop")
    try:
        if not state.try_acquire_session():
            raise OverloadedError(f"server is at capacity ({state.config.max_sessions} sessions); try again later")
        try:
            state.scheduler.open_stream()
        except OverloadedError:
            state.release_session()
            raise
    except OverloadedError as e:
        state.telemetry.busy.labels("realtime").inc()
        await ws.send_text(json.dumps(error_event(e.message, code=e.code, type_="server_error")))
        await ws.close(code=1013)
        return
    state.telemetry.sessions.labels("transcription" if transcription else "conversation").inc()
    try:
        await _serve(ws, state, transcription, model, ws.query_params.get("resume"))
    finally:
        state.scheduler.close_stream()
        state.release_session()


async def _serve(ws: WebSocket, state: ServerState, transcription: bool, model: str, resume: str | None) -> None:
    """One connection, one task group: the sender (pacer), the session and the receive loop.
    A failure in any of them ends the connection cleanly: an error event, a failed
    ``response.done`` for a response in flight, and a close frame."""
    closed = False

    async def send(ev: dict[str, Any]) -> None:
        nonlocal closed
        if closed or ws.client_state != WebSocketState.CONNECTED:
            return
        try:
            await ws.send_text(json.dumps(ev))
        except (WebSocketDisconnect, RuntimeError, OSError):
            closed = True

    receiver: asyncio.Task[None] | None = None
    taken_over = False

    async def take_over() -> None:
        nonlocal taken_over
        taken_over = True
        await send(error_event("this conversation was continued by a newer connection; this one is closed",
                               code="session_taken_over"))
        if receiver is not None:
            receiver.cancel()

    holder = Holder(take_over, asyncio.Event())
    try:
        opened = await open_conversation(state, transcription, resume, holder)
    except VoxloopError as e:
        await send(error_event(e.message, code=e.code, param=getattr(e, "param", None),
                               type_="server_error" if e.http_status >= 500 else "invalid_request_error"))
        with contextlib.suppress(Exception):
            await ws.close(code=4004 if e.code == "invalid_resume_token" else 1011)
        return
    output = Pacer(send, extensions=lambda: session.config.voxloop_events, observe=state.telemetry.observe)
    session = Session(state.stack, state.scheduler, output, opened.config, session_id=opened.id,
                      store=state.conversations.store, memory=state.config.memory)
    session.vocabulary = state.scenes.vocabulary(opened.config.preset, state.vocabulary)
    conn = Connection(ws, state, session, output, model)
    conn.settings = opened.settings
    try:
        async with asyncio.TaskGroup() as tg:
            sender = tg.create_task(output.run(), name=f"{session.id}:sender")
            running = tg.create_task(session.run(), name=f"{session.id}:session")
            await session.running.wait()
            await opened.restore(session)
            created = conn.session_event("session.created")
            if opened.token is not None:  # (None: the store is down; this one cannot be resumed)
                created["session"].setdefault("voxloop", {}).update(
                    resume_token=opened.token, resume_expires_at=int(opened.expires_at))
            output.control(created)
            if opened.resumed:
                session.log.replay()  # the client rebuilds the conversation it had
            receiver = tg.create_task(_receive(conn), name=f"{session.id}:receive")
            with contextlib.suppress(asyncio.CancelledError):
                await receiver  # until the client goes away (or a newer connection takes over)
            sender.cancel()
            running.cancel()
    except* Exception as group:
        err = group.exceptions[0]
        logger.error("realtime session %s failed", session.id, exc_info=err)
        failure = VoxloopError(f"the session failed ({type(err).__name__}); please reconnect",
                               code="internal_error")
        for wire in [error_event(failure.message, code=failure.code, type_="server_error"),
                     *[w for done in session.unfinished_responses(failure) for w in render(done)]]:
            await send(wire)
        with contextlib.suppress(Exception):
            await ws.close(code=1011)
    finally:
        closed = True
        with contextlib.suppress(Exception):
            await state.conversations.release(session.id, holder)
        holder.done.set()
        if taken_over:
            with contextlib.suppress(Exception):
                await ws.close(code=4001, reason="taken over by a newer connection")


async def _receive(conn: Connection) -> None:
    ws, state, output = conn.ws, conn.state, conn.output
    try:
        while True:
            msg = await ws.receive()
            if msg["type"] == "websocket.disconnect":
                return
            text = msg.get("text")
            if text is None:
                output.control(error_event("binary frames are not supported; send JSON text events",
                                           code="invalid_event"))
                continue
            if len(text) > state.config.max_message_bytes:
                output.control(error_event(
                    f"message of {len(text)} bytes exceeds the limit of {state.config.max_message_bytes} bytes",
                    code="message_too_large"))
                continue
            try:
                await conn.handle(text)
            except VoxloopError as e:
                conn.session.error(e, getattr(e, "event_id", None))
            except Exception:  # a bug handling one event must not kill the connection
                logger.exception("error handling a realtime event")
                output.control(error_event("internal error handling this event", code="internal_error",
                                           type_="server_error"))
    except WebSocketDisconnect:
        return
