"""``/v1/realtime``: the OpenAI Realtime-compatible WebSocket (docs/realtime-protocol.md)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any, Literal

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from voxloop.errors import InvalidRequest, OverloadedError, VoxloopError
from voxloop.server.access import Principal, principal
from voxloop.server.client_events import HANDLERS
from voxloop.server.conversations import Holder
from voxloop.server.jsonlimits import loads
from voxloop.server.limits import Ending, Watch
from voxloop.server.pacer import Pacer
from voxloop.server.protocol import session_object
from voxloop.server.resume import merge_settings, open_conversation, updated_config
from voxloop.server.state import ServerState
from voxloop.server.wire import error_event, event, render
from voxloop.session.session import Session

__all__ = ["endpoint"]

logger = logging.getLogger(__name__)
Role = Literal["user", "assistant", "system"]


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
        data = loads(text, max_depth=self.state.config.max_json_depth)
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


async def endpoint(ws: WebSocket) -> None:
    state: ServerState = ws.app.state.voxloop
    offered = ws.scope.get("subprotocols") or []
    await ws.accept(subprotocol="realtime" if "realtime" in offered else None)
    who = principal(ws.scope)
    ip = ws.client.host if ws.client else "?"
    transcription = ws.query_params.get("intent") == "transcription"
    if who.secret is not None and who.secret.session.get("type") in ("realtime", "transcription"):
        transcription = who.secret.session["type"] == "transcription"
    model = ws.query_params.get("model") or (who.secret.model if who.secret else None) or (
        "voxloop-transcribe" if transcription else "voxloop")
    try:
        if (refusal := state.acquire_client(ip, who.key)) is not None:
            raise OverloadedError(refusal, code="session_limit_reached")
        if not state.try_acquire_session():
            state.release_client(ip, who.key)
            raise OverloadedError(f"server is at capacity ({state.config.max_sessions} sessions); try again later")
        try:
            state.scheduler.open_stream()
        except OverloadedError:
            state.release_session()
            state.release_client(ip, who.key)
            raise
    except OverloadedError as e:
        state.telemetry.busy.labels("realtime").inc()
        await ws.send_text(json.dumps(error_event(e.message, code=e.code, type_="server_error")))
        await ws.close(code=1013)
        return
    state.telemetry.sessions.labels("transcription" if transcription else "conversation").inc()
    try:
        await _serve(ws, state, transcription, model, ws.query_params.get("resume"), who)
    finally:
        state.scheduler.close_stream()
        state.release_session()
        state.release_client(ip, who.key)
        state.trimmer.after_large_work()  # a session's audio and messages, back to the system


async def _serve(ws: WebSocket, state: ServerState, transcription: bool, model: str, resume: str | None,
                 who: Principal) -> None:
    """One connection, one task group: the sender (pacer), the session and the receive loop.
    A failure in any of them ends the connection cleanly: an error event, a failed
    ``response.done`` for a response in flight, and a close frame."""
    closed = False
    watch = Watch(state.config)

    async def send(ev: dict[str, Any]) -> None:
        nonlocal closed
        if closed or ws.client_state != WebSocketState.CONNECTED:
            return
        try:
            async with asyncio.timeout(state.config.send_timeout_s):
                await ws.send_text(json.dumps(ev))
        except TimeoutError:  # the client reads nothing: drop it rather than hold its buffers
            closed = True
            watch.end(Ending.SLOW_READER)
            if receiver is not None:
                receiver.cancel()
        except (WebSocketDisconnect, RuntimeError, OSError):
            closed = True

    def overflow() -> None:
        watch.end(Ending.SLOW_READER)
        if receiver is not None:
            receiver.cancel()

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
    output = Pacer(send, extensions=lambda: session.config.voxloop_events, max_backlog=state.config.max_send_backlog,
                   on_overflow=overflow, observe=state.telemetry.observe, on_gap=state.telemetry.audio_gaps.observe)
    if who.secret is not None and who.secret.session and not opened.resumed:  # the secret's configuration
        opened.config = updated_config(state, opened.config, who.secret.session)
        opened.settings = merge_settings(opened.settings, who.secret.session)
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
            receiver = tg.create_task(_receive(conn, watch), name=f"{session.id}:receive")
            with contextlib.suppress(asyncio.CancelledError):
                await receiver  # until the client goes away (or a newer connection takes over)
            if watch.ending is not None:  # a limit ended it: say which, then close with its code
                if watch.ending is not Ending.SLOW_READER:
                    await send(error_event(watch.ending.message(state.config), code=watch.ending.code))
                closed = True
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(2):
                        await ws.close(code=watch.ending.close_code, reason=watch.ending.code)
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


async def _receive(conn: Connection, watch: Watch) -> None:
    ws, state, output = conn.ws, conn.state, conn.output
    limit = state.config.max_message_bytes
    try:
        while True:
            try:
                async with asyncio.timeout(watch.wait_s()):
                    msg = await ws.receive()
            except TimeoutError:
                watch.timed_out()
                return
            if msg["type"] == "websocket.disconnect":
                return
            watch.activity()
            text = msg.get("text")
            if text is None:
                output.control(error_event("binary frames are not supported; send JSON text events",
                                           code="invalid_event"))
                continue
            size = len(text) if len(text) * 4 <= limit or text.isascii() else len(text.encode())
            if size > limit:
                output.control(error_event(
                    f"message of {size} bytes exceeds the limit of {limit} bytes", code="message_too_large"))
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
