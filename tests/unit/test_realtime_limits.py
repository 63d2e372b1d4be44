"""Connection limits over the in-process fake socket, on a virtual clock: idle sockets and long
sessions are closed with an error naming the limit, per-address caps, a client that never reads."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.fakes import fake_stack
from tests.unit.test_realtime_connection import FakeSocket
from tests.virtual_time import VirtualTimePolicy
from voxloop.server import realtime
from voxloop.server.config import ServerConfig
from voxloop.server.state import ServerState


@pytest.fixture
def event_loop_policy() -> VirtualTimePolicy:
    return VirtualTimePolicy()


def state(**config: Any) -> ServerState:
    return ServerState(fake_stack(inline=True), ServerConfig(**config))


async def open_socket(s: ServerState) -> tuple[FakeSocket, asyncio.Task[None]]:
    ws = FakeSocket(s)
    served = asyncio.get_running_loop().create_task(realtime.endpoint(ws))  # type: ignore[arg-type]
    await ws.until(lambda e: e["type"] in ("session.created", "error"))
    return ws, served


async def test_an_idle_socket_is_closed_with_idle_timeout_and_frees_its_slot() -> None:
    s = state(idle_timeout_s=30, max_sessions=1)
    ws, served = await open_socket(s)
    await asyncio.sleep(20)
    ws.send("input_audio_buffer.clear")  # activity: the clock starts again
    await asyncio.sleep(20)
    assert not served.done()
    await asyncio.wait_for(served, 60)
    err = next(e for e in ws.sent if e["type"] == "error")
    assert err["error"]["code"] == "idle_timeout" and ws.close_code == 4408
    assert s.active_sessions == 0 and not s.sessions_by
    again, served2 = await open_socket(s)  # the slot is free for the next user
    assert again.sent[0]["type"] == "session.created"
    again.disconnect()
    await served2


async def test_a_session_ends_at_its_maximum_duration_even_when_busy() -> None:
    s = state(max_session_seconds=50, idle_timeout_s=1000)
    ws, served = await open_socket(s)
    for _ in range(30):
        await asyncio.sleep(2)
        if served.done():
            break
        ws.send("input_audio_buffer.clear")
    await asyncio.wait_for(served, 60)
    assert any(e["type"] == "error" and e["error"]["code"] == "session_expired" for e in ws.sent)
    assert ws.close_code == 4410


async def test_sessions_per_address_are_capped() -> None:
    s = state(max_sessions_per_ip=2)
    first = [await open_socket(s) for _ in range(2)]
    ws, served = await open_socket(s)
    await asyncio.wait_for(served, 5)
    assert ws.sent[0]["type"] == "error" and ws.sent[0]["error"]["code"] == "session_limit_reached"
    assert ws.close_code == 1013 and s.active_sessions == 2
    for w, t in first:
        w.disconnect()
        await t
    assert s.active_sessions == 0 and not s.sessions_by


class StuckSocket(FakeSocket):
    """A client that stops reading after its first event: sends block."""

    async def send_text(self, text: str) -> None:
        if self.sent:
            await asyncio.Event().wait()
        await super().send_text(text)


async def test_a_client_that_does_not_read_is_dropped() -> None:
    s = state(send_timeout_s=10)
    ws = StuckSocket(s)
    served = asyncio.get_running_loop().create_task(realtime.endpoint(ws))  # type: ignore[arg-type]
    await ws.until(lambda e: e["type"] == "session.created")
    ws.send("input_audio_buffer.clear")  # an answer the client will not read
    await asyncio.wait_for(served, 60)
    assert ws.close_code == 1008 and s.active_sessions == 0
