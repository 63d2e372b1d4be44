"""The Python API end to end: ``python examples/customer_service.py`` serves an agent whose
order lookup is a ``@voxloop.tool``; the official ``openai`` SDK asks about an order over a
real socket, the real embedded models call the tool, and the agent speaks about its result."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support import ROOT, free_port, sdk_until

pytestmark = pytest.mark.models
openai = pytest.importorskip("openai")


@contextlib.contextmanager
def example_server(script: str, timeout: float = 180.0) -> Iterator[str]:
    """Run ``examples/<script> --port N``; yield its base URL once healthy."""
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, str(ROOT / "examples" / script), "--port", str(port)], cwd=ROOT,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{script} exited with {proc.returncode}: {proc.stderr.read().decode()[-2000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{script} did not become healthy")
            time.sleep(0.3)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with example_server("customer_service.py") as base:
        yield base


async def test_customer_service_agent_calls_its_python_tool(server: str) -> None:
    client = openai.AsyncOpenAI(api_key="not-needed", base_url=f"{server}/v1",
                                websocket_base_url=server.replace("http", "ws") + "/v1")
    seen: list[Any] = []
    async with client.realtime.connect(model="voxloop") as conn:
        await sdk_until(conn, seen, lambda e: e.type == "session.created", 30)
        await conn.session.update(session={"type": "realtime", "output_modalities": ["audio"],
                                           "tool_choice": {"type": "function", "name": "lookup_order"}})
        await sdk_until(conn, seen, lambda e: e.type == "session.updated", 30)
        await conn.conversation.item.create(item={"type": "message", "role": "user", "content": [
            {"type": "input_text", "text": "Where is my order 12345?"}]})
        await conn.response.create()
        first = await sdk_until(conn, seen, lambda e: e.type == "response.done")
        assert [o.type for o in first.response.output] == ["message", "function_call"]
        assert first.response.output[0].content[0].transcript == "Let me look that up."  # the tool's filler
        output = await sdk_until(conn, seen, lambda e: e.type == "conversation.item.done"
                                 and e.item.type == "function_call_output")
        assert output.item.call_id == first.response.output[1].call_id
        result = json.loads(output.item.output)
        # the function ran in the server: the order, or the error it raised for a misheard number
        assert result.get("status") == "shipped" or "no order number" in result.get("error", ""), result
        second = await sdk_until(conn, seen, lambda e: e.type == "response.done" and e.response.id != first.response.id)
        assert second.response.status == "completed"
        assert second.response.output[0].content[0].transcript  # the agent spoke about the result
        assert any(e.type == "response.output_audio.delta" and e.response_id == second.response.id for e in seen)
        assert [e for e in seen if e.type == "error"] == []
