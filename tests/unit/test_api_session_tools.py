"""Python tools (``@voxloop.tool``) in a session over the Realtime protocol, with scripted fakes
on a virtual clock: the result reaches the model, an exception becomes an output the model
speaks about, and a barge-in cancels a tool that is still running."""

from __future__ import annotations

import asyncio
import json

import pytest

import voxloop
from tests.fakes import FakeToolLLM
from tests.unit.test_tool_calls import ASK, Client
from tests.virtual_time import VirtualTimePolicy


@pytest.fixture
def event_loop_policy() -> VirtualTimePolicy:
    return VirtualTimePolicy()


@pytest.mark.parametrize("fails", [False, True])
async def test_a_python_tool_answers_through_the_model(fails: bool) -> None:
    seen: list[str] = []

    @voxloop.tool(filler="Let me check.")
    async def get_weather(city: str) -> dict[str, object]:
        """The weather in a city now."""
        seen.append(city)
        if fails:
            raise ConnectionError("the weather service is down")
        return {"temperature_c": 18}

    async with Client(FakeToolLLM(), server_tools=(get_weather.server_tool(),)) as c:
        c.send("conversation.item.create", item=ASK)
        c.send("response.create", response={"output_modalities": ["text"]})
        first = await c.until("response.done")
        assert [o["type"] for o in first["response"]["output"]] == ["message", "function_call"]
        output = await c.ws.until(lambda e: e["type"] == "conversation.item.done"
                                  and e["item"]["type"] == "function_call_output")
        result = json.loads(output["item"]["output"])
        assert result == ({"error": "get_weather failed: ConnectionError: the weather service is down"} if fails
                          else {"temperature_c": 18})
        second = await c.ws.until(lambda e: e["type"] == "response.done" and e is not first)
        assert second["response"]["status"] == "completed"
        assert seen == ["Paris"]
        assert c.llm.requests[-1][0][-1].role == "tool"  # the model, not an apology, speaks about it
        assert not [e for e in c.ws.sent if e["type"] == "error"]


async def test_barge_in_cancels_a_running_python_tool() -> None:
    started, cancelled = asyncio.Event(), asyncio.Event()

    @voxloop.tool(filler="Let me check that for you, it may take a little while.", timeout_s=600)
    async def get_weather(city: str) -> str:
        """The weather in a city now."""
        started.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return "sunny"

    async with Client(FakeToolLLM(), server_tools=(get_weather.server_tool(),)) as c:
        c.send("conversation.item.create", item=ASK)
        c.send("response.create", response={"output_modalities": ["audio"]})
        await started.wait()
        await c.until("response.output_audio.delta")  # the filler is being spoken
        c.send("response.cancel")
        done = await c.until("response.done")
        await asyncio.wait_for(cancelled.wait(), 5)
        assert done["response"]["status"] == "cancelled"
        await asyncio.sleep(1.0)
        assert not [e for e in c.ws.sent if e["type"] == "conversation.item.done"
                    and e["item"]["type"] == "function_call_output"]
        assert [e["type"] for e in c.ws.sent].count("response.created") == 1  # no answer follows


async def test_a_client_output_for_a_server_run_call_is_dropped() -> None:
    @voxloop.tool
    def get_weather(city: str) -> str:
        """The weather in a city now."""
        return "sunny"

    async with Client(FakeToolLLM(), server_tools=(get_weather.server_tool(),)) as c:
        c.send("conversation.item.create", item=ASK)
        c.send("response.create", response={"output_modalities": ["text"]})
        output = await c.ws.until(lambda e: e["type"] == "conversation.item.done"
                                  and e["item"]["type"] == "function_call_output")
        second = await c.ws.until(lambda e: e["type"] == "response.done" and e["response"]["output"]
                                  and e["response"]["output"][0]["type"] == "message"
                                  and e["response"]["output"][-1]["type"] == "message")
        assert second["response"]["status"] == "completed"
        # a client that also "ran" the call (the Agents SDK says "Tool not found") is ignored
        c.send("conversation.item.create", item={"type": "function_call_output", "call_id": output["item"]["call_id"],
                                                 "output": "Tool get_weather not found"})
        c.send("conversation.item.create", item={**ASK, "id": "item_marker"})
        await c.ws.until(lambda e: e["type"] == "conversation.item.done" and e["item"]["id"] == "item_marker")
        outputs = [e for e in c.ws.sent if e["type"] == "conversation.item.done"
                   and e["item"]["type"] == "function_call_output"]
        assert len(outputs) == 1 and not [e for e in c.ws.sent if e["type"] == "error"]
