"""The realtime endpoint over an in-process fake socket: one task group per connection."""

from __future__ import annotations

import asyncio
import base64
import json
from types import SimpleNamespace
from typing import Any

import pytest
from starlette.websockets import WebSocketState

from tests.fakes import FakeLLM, FakeTTS, fake_stack, quiet, tone
from tests.virtual_time import VirtualTimePolicy
from voxloop.audio.pcm import float_to_pcm16
from voxloop.server import realtime
from voxloop.server.config import ServerConfig
from voxloop.server.state import ServerState
from voxloop.session.turns import Listener


@pytest.fixture
def event_loop_policy() -> VirtualTimePolicy:
    return VirtualTimePolicy()  # sleeps and timeouts take no real time


class FakeSocket:
    """What ``realtime.endpoint`` uses of a Starlette WebSocket."""

    def __init__(self, state: ServerState) -> None:
        self.app = SimpleNamespace(state=SimpleNamespace(voxloop=state))
        self.scope: dict[str, Any] = {"subprotocols": []}
        self.query_params: dict[str, str] = {"model": "voxloop"}
        self.client_state = WebSocketState.CONNECTED
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.sent: list[dict[str, Any]] = []
        self.got = asyncio.Event()
        self.close_code: int | None = None
        self.client = SimpleNamespace(host="203.0.113.7")

    async def accept(self, subprotocol: str | None = None) -> None:
        pass

    async def receive(self) -> dict[str, Any]:
        return await self.inbox.get()

    async def send_text(self, text: str) -> None:
        self.sent.append(json.loads(text))
        self.got.set()

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        self.close_code = code
        self.client_state = WebSocketState.DISCONNECTED

    def send(self, type_: str, **fields: Any) -> None:
        self.inbox.put_nowait({"type": "websocket.receive", "text": json.dumps({"type": type_, **fields})})

    def audio(self, samples: Any) -> None:
        for i in range(0, len(samples), 2400):
            self.send("input_audio_buffer.append", audio=base64.b64encode(float_to_pcm16(samples[i:i + 2400])).decode())

    def disconnect(self) -> None:
        self.inbox.put_nowait({"type": "websocket.disconnect"})

    async def until(self, pred: Any, timeout: float = 10.0) -> dict[str, Any]:
        async def wait() -> dict[str, Any]:
            seen = 0
            while True:
                for ev in self.sent[seen:]:
                    if pred(ev):
                        return ev
                seen = len(self.sent)
                self.got.clear()
                await self.got.wait()

        return await asyncio.wait_for(wait(), timeout)


def session_tasks(before: set[asyncio.Task[Any]] | None = None) -> list[str]:
    """Running tasks started since ``before`` (default: the session's own, by name)."""
    me = asyncio.current_task()
    if before is None:
        return sorted(t.get_name() for t in asyncio.all_tasks() if t.get_name().startswith("sess_") and not t.done())
    return sorted(t.get_name() for t in asyncio.all_tasks() - before if t is not me and not t.done())


@pytest.fixture
def state() -> ServerState:
    return ServerState(fake_stack(inline=True, tts=FakeTTS(seconds_per_word=0.3), llm=FakeLLM("one two three four. " * 6)),
                       ServerConfig())


async def test_no_task_outlives_its_connection(state: ServerState) -> None:
    before = asyncio.all_tasks()
    ws = FakeSocket(state)
    served = asyncio.get_running_loop().create_task(realtime.endpoint(ws))  # type: ignore[arg-type]
    await ws.until(lambda e: e["type"] == "session.created")
    ws.send("conversation.item.create", item={"type": "message", "role": "user",
                                              "content": [{"type": "input_text", "text": "Tell me a story."}]})
    ws.send("response.create")
    await ws.until(lambda e: e["type"] == "response.output_audio.delta")
    ws.audio(tone(0.3))  # the VAD, partials and a reply are all running now
    assert session_tasks()
    ws.disconnect()  # the client vanishes mid-reply
    await asyncio.wait_for(served, 5)
    assert session_tasks(before) == []  # no task of the connection is left, not even briefly
    assert state.active_sessions == 0 and state.scheduler.streams == 0


async def test_a_crashing_task_ends_the_connection_cleanly(state: ServerState, monkeypatch: Any) -> None:
    async def broken(self: Listener, ev: Any) -> None:
        raise RuntimeError("bug in the VAD handler")

    ws = FakeSocket(state)
    served = asyncio.get_running_loop().create_task(realtime.endpoint(ws))  # type: ignore[arg-type]
    await ws.until(lambda e: e["type"] == "session.created")
    ws.send("conversation.item.create", item={"type": "message", "role": "user",
                                              "content": [{"type": "input_text", "text": "Tell me a story."}]})
    ws.send("response.create")
    created = await ws.until(lambda e: e["type"] == "response.created")
    await ws.until(lambda e: e["type"] == "response.output_audio.delta")
    monkeypatch.setattr(Listener, "on_vad", broken)
    ws.audio(tone(0.5))
    await asyncio.wait_for(served, 5)  # the connection ends by itself
    err = next(e for e in ws.sent if e["type"] == "error")
    assert err["error"]["type"] == "server_error" and err["error"]["code"] == "internal_error"
    done = [e for e in ws.sent if e["type"] == "response.done"]
    assert len(done) == 1 and done[0]["response"]["id"] == created["response"]["id"]
    assert done[0]["response"]["status"] == "failed"
    assert ws.close_code == 1011
    assert session_tasks() == []
    assert state.active_sessions == 0


async def test_quiet_connection_still_answers_after_eleven_minutes(state: ServerState) -> None:
    state = ServerState(fake_stack(inline=True), ServerConfig())
    ws = FakeSocket(state)
    served = asyncio.get_running_loop().create_task(realtime.endpoint(ws))  # type: ignore[arg-type]
    try:
        await ws.until(lambda e: e["type"] == "session.created")
        for _ in range(66):  # 11 minutes of silence, sent much faster than real time
            ws.audio(quiet(10.0))
            await asyncio.sleep(0.01)
        ws.audio(tone(1.0))
        ws.audio(quiet(1.0))
        done = await ws.until(lambda e: e["type"] == "response.done", 30)
        assert done["response"]["status"] == "completed"
        assert not [e for e in ws.sent if e["type"] == "error"]
    finally:
        ws.disconnect()
        await asyncio.wait_for(served, 5)


class DeadStore:
    """A store whose backend is gone: every call fails."""

    def __getattr__(self, name: str) -> Any:
        async def fail(*args: Any, **kwargs: Any) -> Any:
            raise ConnectionError("store is down")

        return fail


async def test_a_dead_store_costs_resume_not_the_conversation(state: ServerState) -> None:
    from voxloop.server.conversations import Conversations

    state._conversations = Conversations(DeadStore(), resume_ttl_s=60, anonymous_ttl_s=60)  # type: ignore[arg-type]
    ws = FakeSocket(state)
    served = asyncio.get_running_loop().create_task(realtime.endpoint(ws))  # type: ignore[arg-type]
    created = await ws.until(lambda e: e["type"] == "session.created")
    assert "resume_token" not in created["session"].get("voxloop", {})
    ws.send("conversation.item.create", item={"type": "message", "role": "user",
                                              "content": [{"type": "input_text", "text": "Hello."}]})
    ws.send("response.create")
    done = await ws.until(lambda e: e["type"] == "response.done", 30)
    assert done["response"]["status"] == "completed"  # the failed writes only reach the log
    ws.disconnect()
    await asyncio.wait_for(served, 5)
    resumed = FakeSocket(state)
    resumed.query_params["resume"] = "anything"
    await asyncio.wait_for(realtime.endpoint(resumed), 5)  # type: ignore[arg-type]
    err = next(e for e in resumed.sent if e["type"] == "error")
    assert err["error"]["code"] == "store_unavailable" and resumed.close_code == 1011
