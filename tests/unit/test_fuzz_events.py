"""Every client event, fuzzed (hypothesis): a client mistake is an ``invalid_request_error``
(``InvalidRequest``), never an exception that would be an ``internal_error``; and the findings
of the hostile-client run (issue 13), each as a regression test."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402

from tests.fakes import fake_stack  # noqa: E402
from tests.fuzz import client_event  # noqa: E402
from voxloop.errors import InvalidRequest, VoxloopError  # noqa: E402
from voxloop.server.config import ServerConfig  # noqa: E402
from voxloop.server.pacer import Pacer  # noqa: E402
from voxloop.server.realtime import Connection  # noqa: E402
from voxloop.server.state import ServerState  # noqa: E402
from voxloop.session.config import SessionConfig  # noqa: E402
from voxloop.session.session import Session  # noqa: E402
from voxloop.session.transcriber import ASRScheduler  # noqa: E402


async def _handle(messages: list[str]) -> list[BaseException | None]:
    stack = fake_stack()
    state = ServerState(stack, ServerConfig())

    async def send(ev: dict[str, Any]) -> None:
        pass

    output = Pacer(send)
    session = Session(stack, ASRScheduler(stack.asr), output, SessionConfig())
    await session.start()
    conn = Connection(None, state, session, output, "voxloop")  # type: ignore[arg-type]
    results: list[BaseException | None] = []
    try:
        for text in messages:
            try:
                await conn.handle(text)
                results.append(None)
            except Exception as e:  # noqa: BLE001 - what the test inspects
                results.append(e)
    finally:
        await session.aclose()
    return results


def handle(*messages: str | dict[str, Any]) -> list[BaseException | None]:
    texts = [m if isinstance(m, str) else json.dumps(m) for m in messages]
    return asyncio.run(_handle(texts))


def client_mistake(e: BaseException | None) -> bool:
    return e is None or (isinstance(e, VoxloopError) and e.http_status < 500)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(client_event())
def test_no_client_event_raises_anything_but_a_client_error(event: dict[str, Any]) -> None:
    (result,) = handle(event)
    assert client_mistake(result), f"{event!r} -> {result!r}"


def test_deep_nesting_is_a_clear_invalid_request() -> None:
    deep = '{"type": "session.update", "session": ' + "[" * 5000 + "]" * 5000 + "}"
    shallow_but_deep = '{"type": "session.update", "session": {"tools": ' + "[" * 100 + "]" * 100 + "}}"
    for result in handle(deep, shallow_but_deep):
        assert isinstance(result, InvalidRequest) and result.code == "invalid_json", result
        assert "nested too deeply" in result.message


def test_findings_of_the_hostile_client_run() -> None:
    results = handle(
        {"type": "conversation.item.truncate", "item_id": "x", "audio_end_ms": 10**400},
        {"type": "session.update", "session": {"turn_detection": {"type": "semantic_vad", "eagerness": ["low"]}}},
        {"type": "session.update", "session": {"input_audio_format": {}}},
        {"type": "response.create", "response": 0},
        '{"type": "response.create", "response": {"modalities": NaN}}',
        {"type": "conversation.item.create", "item": {"id": "t1", "type": "message", "role": "assistant",
                                                      "content": [{"type": "output_text", "text": "hi"}]}},
        {"type": "conversation.item.truncate", "item_id": "t1", "audio_end_ms": 5},
    )
    params = [getattr(r, "param", None) for r in results]
    assert all(isinstance(r, InvalidRequest) for i, r in enumerate(results) if i != 5), results
    assert results[5] is None
    assert params[0] == "audio_end_ms" and params[1] == "turn_detection.eagerness"
    assert params[2] == "session.audio.input.format" and params[3] == "response"
    assert results[4].code == "invalid_json"  # type: ignore[union-attr]
    assert params[6] == "item_id" and "no audio" in results[6].message  # type: ignore[union-attr]


async def test_clearing_an_idle_output_buffer_is_acknowledged() -> None:
    stack = fake_stack()
    sent: list[dict[str, Any]] = []
    output = Pacer(lambda ev: asyncio.sleep(0))
    session = Session(stack, ASRScheduler(stack.asr), output, SessionConfig())
    await session.start()
    conn = Connection(None, ServerState(stack, ServerConfig()), session, output, "voxloop")  # type: ignore[arg-type]
    try:
        await conn.handle(json.dumps({"type": "output_audio_buffer.clear"}))
        sent = [e for e in output._control if isinstance(e, dict)]
    finally:
        await session.aclose()
    assert [e["type"] for e in sent] == ["output_audio_buffer.cleared"]
