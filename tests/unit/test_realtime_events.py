"""Client events handled by the realtime endpoint, without a socket: items, retrieve, session echo."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import pytest

from tests.fakes import fake_stack
from tests.virtual_time import VirtualTimePolicy
from voxloop.errors import InvalidRequest
from voxloop.server.config import ServerConfig
from voxloop.server.pacer import Pacer
from voxloop.server.protocol import apply_session_update, session_object
from voxloop.server.realtime import Connection
from voxloop.server.wire import render
from voxloop.session.config import SessionConfig
from voxloop.session.session import Session
from voxloop.session.transcriber import ASRScheduler


@pytest.fixture
def event_loop_policy() -> VirtualTimePolicy:
    return VirtualTimePolicy()  # sleeps and timeouts take no real time


@pytest.fixture
async def conn() -> AsyncIterator[Connection]:
    stack = fake_stack(inline=True)

    async def send(ev: dict[str, Any]) -> None:
        pass

    output = Pacer(send)
    session = Session(stack, ASRScheduler(stack.asr), output, SessionConfig())
    await session.start()
    state = SimpleNamespace(config=ServerConfig())
    yield Connection(None, state, session, output, "voxloop")  # type: ignore[arg-type]
    await session.aclose()


def sent(c: Connection) -> list[dict[str, Any]]:
    """Control events queued for the client, as the wire renders them (no sender runs here)."""
    return [w for e in c.output._control for w in (render(e) if not isinstance(e, dict) else [e])]


async def create(c: Connection, text: str, item_id: str, previous: str | None = None) -> dict[str, Any]:
    msg: dict[str, Any] = {"type": "conversation.item.create", "item": {
        "id": item_id, "type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}}
    if previous is not None:
        msg["previous_item_id"] = previous
    await c.handle(json.dumps(msg))
    return next(e for e in reversed(sent(c)) if e["type"] == "conversation.item.added")


async def test_items_are_inserted_after_previous_item_id(conn: Connection) -> None:
    assert (await create(conn, "one", "a"))["previous_item_id"] is None
    assert (await create(conn, "three", "c"))["previous_item_id"] == "a"
    assert (await create(conn, "two", "b", previous="a"))["previous_item_id"] == "a"
    assert (await create(conn, "zero", "z", previous="root"))["previous_item_id"] is None
    assert [i.id for i in conn.session.conversation.items] == ["z", "a", "b", "c"]
    with pytest.raises(InvalidRequest) as e:
        await create(conn, "x", "x", previous="nope")
    assert e.value.code == "item_not_found"
    assert conn.session.conversation.get("x") is None


async def test_retrieve_returns_the_item_as_it_is_now(conn: Connection) -> None:
    await create(conn, "hello", "a")
    await conn.handle(json.dumps({"type": "conversation.item.retrieve", "item_id": "a"}))
    got = sent(conn)[-1]
    assert got["type"] == "conversation.item.retrieved"
    from tests.unit.test_session import assert_openai_shapes

    assert_openai_shapes(sent(conn))  # added, done, retrieved: as the Agents SDKs validate them
    assert got["item"]["id"] == "a" and got["item"]["content"][0]["text"] == "hello"
    with pytest.raises(InvalidRequest) as e:
        await conn.handle(json.dumps({"type": "conversation.item.retrieve", "item_id": "nope"}))
    assert e.value.code == "item_not_found"
    await conn.handle(json.dumps({"type": "conversation.item.delete", "item_id": "a"}))
    assert sent(conn)[-1]["type"] == "conversation.item.deleted" and sent(conn)[-1]["item_id"] == "a"
    with pytest.raises(InvalidRequest):
        await conn.handle(json.dumps({"type": "conversation.item.retrieve", "item_id": "a"}))


def test_session_echoes_accepted_fields_as_sent() -> None:
    update = {"type": "realtime", "tracing": "auto", "include": ["item.input_audio_transcription.logprobs"],
              "tools": [], "tool_choice": "auto",
              "audio": {"input": {"noise_reduction": {"type": "near_field"},
                                  "turn_detection": {"type": "server_vad", "idle_timeout_ms": 6000}}}}
    cfg = apply_session_update(SessionConfig(), update)
    obj = session_object(cfg, "s", "m")
    assert obj["tracing"] == "auto" and obj["include"] == update["include"]
    assert obj["audio"]["input"]["noise_reduction"] == {"type": "near_field"}
    assert obj["audio"]["input"]["turn_detection"]["idle_timeout_ms"] == 6000
    assert "voxloop" not in obj  # extensions only for clients that opt in
    assert session_object(apply_session_update(cfg, {"max_output_tokens": "inf"}), "s", "m")[
        "max_output_tokens"] == "inf"
    # a later update that does not mention them keeps them
    cfg = apply_session_update(cfg, {"type": "realtime", "instructions": "Hi.", "voxloop": {"events": True}})
    obj = session_object(cfg, "s", "m")
    assert obj["tracing"] == "auto" and obj["audio"]["input"]["turn_detection"]["idle_timeout_ms"] == 6000
    assert cfg.voxloop_events and obj["voxloop"] == {"events": True}


def test_session_object_parses_as_openai_session() -> None:
    from openai.types.realtime.session_created_event import SessionCreatedEvent

    cfg = apply_session_update(SessionConfig(), {"tracing": {"workflow_name": "w"},
                                                 "audio": {"input": {"noise_reduction": None}}})
    SessionCreatedEvent.model_validate({"type": "session.created", "event_id": "e",
                                        "session": session_object(cfg, "s", "m")})
