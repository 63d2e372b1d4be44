"""Hostile clients against a real server over real sockets (hypothesis, bounded): every client
event type and REST body, fuzzed. Each answer is an ``error`` event or a 4xx with OpenAI's error
shape, never an internal error or a 5xx; the socket stays open, the server alive, and a good
conversation works afterwards."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from websockets.asyncio.client import connect  # noqa: E402

from tests.fuzz import SECRET_BODY, SPEECH_BODY, client_event  # noqa: E402
from tests.support import running_server  # noqa: E402

FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with running_server("--no-prewarm", "--max-sessions-per-ip", "64") as base:
        yield base


async def _events(base: str, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Send ``events`` on one socket, then a ping-like event whose answer marks the end."""
    url = base.replace("http", "ws") + "/v1/realtime?model=voxloop"
    received: list[dict[str, Any]] = []
    async with connect(url, max_size=None) as ws:
        assert json.loads(await ws.recv())["type"] == "session.created"
        for ev in events:
            await ws.send(json.dumps(ev))
        marker = {"type": "conversation.item.retrieve", "item_id": "item_end_of_fuzz", "event_id": "evt_marker"}
        await ws.send(json.dumps(marker))
        while True:
            got = json.loads(await asyncio.wait_for(ws.recv(), 60))
            received.append(got)
            if got["type"] == "error" and got["error"].get("event_id") == "evt_marker":
                break  # every event before it was handled, and the socket is still open
    return received


@FUZZ
@given(st.lists(client_event(), min_size=1, max_size=6))
def test_fuzzed_client_events_get_client_errors_only(server: str, events: list[dict[str, Any]]) -> None:
    received = asyncio.run(_events(server, [{**e, "type": e["type"]} for e in events]))
    internal = [e for e in received if e["type"] == "error" and e["error"]["type"] != "invalid_request_error"]
    assert not internal, internal


@FUZZ
@given(SPEECH_BODY | SECRET_BODY)
def test_fuzzed_rest_bodies_get_4xx_with_openai_shape(server: str, body: Any) -> None:
    for path in ("/v1/audio/speech", "/v1/realtime/client_secrets"):
        r = httpx.post(f"{server}{path}", json=body, timeout=60)
        assert r.status_code < 500, f"{path} {body!r} -> {r.status_code} {r.text[:300]}"
        if r.status_code >= 400:
            assert set(r.json()["error"]) == {"message", "type", "param", "code"}


def test_deep_json_on_the_socket_and_a_good_conversation_afterwards(server: str) -> None:
    deep = {"type": "session.update", "session": {"tools": json.loads("[" * 500 + "]" * 500)}}

    async def go() -> list[dict[str, Any]]:
        url = server.replace("http", "ws") + "/v1/realtime?model=voxloop"
        async with connect(url, max_size=None) as ws:
            await ws.recv()
            await ws.send(json.dumps(deep))
            await ws.send("[" * 5000 + "]" * 5000)
            errors = [json.loads(await ws.recv()) for _ in range(2)]
            await ws.send(json.dumps({"type": "conversation.item.create", "item": {
                "type": "message", "role": "user", "content": [{"type": "input_text", "text": "Say hello."}]}}))
            await ws.send(json.dumps({"type": "response.create", "response": {"output_modalities": ["text"]}}))
            while True:
                got = json.loads(await asyncio.wait_for(ws.recv(), 120))
                if got["type"] == "response.done":
                    return [*errors, got]

    first, second, done = asyncio.run(go())
    for err in (first, second):
        assert err["type"] == "error" and err["error"]["code"] == "invalid_json", err
    assert done["response"]["status"] == "completed"
    assert httpx.get(f"{server}/healthz").status_code == 200
