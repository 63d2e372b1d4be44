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
import numpy as np
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


def _example(name: str) -> Any:
    """Import ``examples/<name>.py`` as a module."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"example_{name}", ROOT / "examples" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_the_custom_tts_example_passes_the_stage_contract() -> None:
    import voxloop

    engine = _example("custom_tts").TelephoneVoice()
    try:
        await voxloop.check_engine(engine)
    finally:
        engine.close()


def test_the_custom_tts_example_serves_speech_that_whisper_understands(real_asr: Any) -> None:
    from voxloop.audio import Audio, decode_audio

    with example_server("custom_tts.py") as base:
        client = openai.OpenAI(api_key="not-needed", base_url=f"{base}/v1")
        wav = client.audio.speech.create(model="tts-1", voice="alloy", input="The weather is lovely today.",
                                         response_format="wav").read()
    audio = decode_audio(wav)
    assert isinstance(audio, Audio) and audio.duration > 0.5
    narrow = np.abs(np.fft.rfft(audio.to(16000).samples))
    freqs = np.fft.rfftfreq(len(audio.to(16000).samples), 1 / 16000)
    assert narrow[freqs > 4000].sum() < 0.01 * narrow.sum()  # the phone line's band, not Piper's
    heard = real_asr.transcribe_sync(audio.to(16000)).text.lower()
    assert "weather" in heard, heard


async def test_the_agents_sdk_hears_the_python_tools_result(server: str) -> None:
    """The OpenAI Agents SDK against the customer-service example: the server runs its Python
    tool and the SDK hears the spoken answer. The SDK does not know the tool, so it reports a
    local "Tool lookup_order not found" and sends an output of its own for the call; the server
    drops that one (its own result stands) and sends no error."""
    realtime = pytest.importorskip("agents.realtime", reason="pip install openai-agents (the dev extra has it)")
    from tests.e2e.test_agents_sdk_python import MODEL_SETTINGS, Recorder

    agent = realtime.RealtimeAgent(name="Shop", instructions="You help customers.", tools=[])
    settings = {**MODEL_SETTINGS, "tool_choice": "required"}
    runner = realtime.RealtimeRunner(starting_agent=agent, config={"model_settings": settings})
    session = await runner.run(model_config={"url": server.replace("http", "ws") + "/v1/realtime?model=voxloop",
                                             "api_key": "not-needed"})
    await session.__aenter__()
    rec = Recorder(session)
    try:
        await session.send_message("Where is my order 12345?")
        await rec.until(lambda e: e.type == "agent_end" and sum(x.type == "agent_end" for x in rec.events) >= 2)
        outputs = [e["item"] for e in rec.raw("conversation.item.done") if e["item"]["type"] == "function_call_output"]
        assert len(outputs) == 1, outputs  # the server's, once
        result = json.loads(outputs[0]["output"])
        assert result.get("status") == "shipped" or "no order number" in result.get("error", ""), result
        answers = [e["response"] for e in rec.raw("response.done")]
        assert len(answers) == 2 and answers[1]["status"] == "completed"
        assert any(e.type == "audio" for e in rec.events[-40:])  # the answer was heard
        assert rec.raw("error") == []  # nothing from the server
        local = [str(getattr(e, "error", "")) for e in rec.errors()]
        assert all("Tool lookup_order not found" in m for m in local), local
    finally:
        await rec.close()
        await session.close()
