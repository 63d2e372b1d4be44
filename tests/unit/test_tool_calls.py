"""Function calling over the Realtime protocol, with scripted fakes on a virtual clock: tool
declarations, the function_call output item and its events, the client's function_call_output,
server-side (webhook) tools with a filler line and an apology, and the bad-input cases."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from tests.fakes import FakeToolLLM, FakeTTS, fake_stack
from tests.unit.test_realtime_connection import FakeSocket
from tests.virtual_time import VirtualTimePolicy
from voxloop.dialogue.tools import ServerTool, parse_server_tool
from voxloop.server import realtime
from voxloop.server.config import ServerConfig
from voxloop.server.state import ServerState
from voxloop.session import toolcalls
from voxloop.session.webhooks import ToolResult

WEATHER = {"type": "function", "name": "get_weather", "description": "The weather in a city now.",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
ASK = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Weather in Paris?"}]}


@pytest.fixture
def event_loop_policy() -> VirtualTimePolicy:
    return VirtualTimePolicy()


class Client:
    def __init__(self, llm: FakeToolLLM, **config: Any) -> None:
        self.llm = llm
        self.state = ServerState(fake_stack(inline=True, llm=llm, tts=FakeTTS(seconds_per_word=0.05)),
                                 ServerConfig(**config))
        self.ws = FakeSocket(self.state)
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Client:
        self.task = asyncio.get_running_loop().create_task(realtime.endpoint(self.ws))  # type: ignore[arg-type]
        await self.ws.until(lambda e: e["type"] == "session.created")
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.ws.disconnect()
        assert self.task is not None
        await asyncio.wait_for(self.task, 5)

    def send(self, type_: str, **fields: Any) -> None:
        self.ws.send(type_, **fields)

    async def until(self, type_: str, **match: Any) -> dict[str, Any]:
        return await self.ws.until(lambda e: e["type"] == type_ and all(e.get(k) == v for k, v in match.items()))

    def types(self) -> list[str]:
        return [e["type"] for e in self.ws.sent]

    async def ask(self, **session: Any) -> dict[str, Any]:
        self.send("session.update", session={"type": "realtime", "output_modalities": ["text"], "tools": [WEATHER],
                                             **session})
        await self.until("session.updated")
        self.send("conversation.item.create", item=ASK)
        self.send("response.create")
        return await self.until("response.done")


async def test_a_tool_call_streams_as_a_function_call_item_and_waits_for_its_output() -> None:
    async with Client(FakeToolLLM()) as c:
        done = await c.ask(tool_choice={"type": "function", "name": "get_weather"})
        updated = next(e for e in c.ws.sent if e["type"] == "session.updated")
        assert updated["session"]["tools"] == [WEATHER]
        assert updated["session"]["tool_choice"] == {"type": "function", "name": "get_weather"}
        assert done["response"]["status"] == "completed"
        [call] = done["response"]["output"]
        assert call["type"] == "function_call" and call["name"] == "get_weather"
        assert json.loads(call["arguments"]) == {"city": "Paris"} and call["call_id"] == "call_fake1"
        t = c.types()
        order = ["response.created", "response.output_item.added", "conversation.item.added",
                 "response.function_call_arguments.delta", "response.function_call_arguments.done",
                 "response.output_item.done", "conversation.item.done", "response.done"]
        tail = t[t.index("response.created"):]
        assert [x for x in tail if x in order] == order  # no message item, no reply yet
        args_done = await c.until("response.function_call_arguments.done")
        assert args_done["call_id"] == "call_fake1" and args_done["item_id"] == call["id"]
        added = next(e for e in c.ws.sent if e["type"] == "conversation.item.added" and e["item"]["id"] == call["id"])
        assert added["previous_item_id"] is not None  # after the user's message

        # the client runs the tool, hands back its output and asks for the answer
        c.send("conversation.item.create", item={"type": "function_call_output", "call_id": "call_fake1",
                                                 "output": '{"temperature_c": 18, "conditions": "sunny"}'})
        out = await c.ws.until(lambda e: e["type"] == "conversation.item.added"
                               and e["item"]["type"] == "function_call_output")
        assert out["item"]["type"] == "function_call_output" and out["previous_item_id"] == call["id"]
        c.send("response.create")
        answer = await c.ws.until(lambda e: e["type"] == "response.done" and e is not done)
        assert answer["response"]["output"][0]["content"][0]["text"].strip() == "It is sunny in Paris."
        messages, options = c.llm.requests[-1]
        assert [m.role for m in messages[-3:]] == ["user", "assistant", "tool"]
        assert messages[-2].tool_calls[0].name == "get_weather" and messages[-1].tool_call_id == "call_fake1"
        assert options.tool_choice == "get_weather" and options.tools[0].name == "get_weather"


async def test_tool_choice_none_and_no_tools_reach_the_model_as_such() -> None:
    async with Client(FakeToolLLM()) as c:
        done = await c.ask(tool_choice="none")
        assert done["response"]["output"][0]["type"] == "message"
        assert c.llm.requests[-1][1].tool_choice == "none"


@pytest.mark.parametrize(("tools", "param"), [
    ("get_weather", "session.tools"),
    ([{"type": "function", "name": "bad name!"}], "session.tools[0].name"),
    ([{"type": "function", "name": "f", "parameters": {"type": "array"}}], "session.tools[0].parameters.type"),
    ([{"type": "function", "name": "f", "parameters": {"type": "object", "properties": {"x": {"type": "str"}}}}],
     "session.tools[0].parameters.properties.x.type"),
    ([{"type": "file_search"}], "session.tools[0].type"),
    ([WEATHER, WEATHER], "session.tools"),
])
async def test_bad_tool_declarations_are_errors_naming_the_field(tools: Any, param: str) -> None:
    async with Client(FakeToolLLM()) as c:
        c.send("session.update", session={"tools": tools})
        err = await c.until("error")
        assert err["error"]["param"] == param
        c.send("session.update", session={"tool_choice": {"type": "function", "name": "nope"}})
        err2 = await c.ws.until(lambda e: e["type"] == "error" and e is not err)
        assert err2["error"]["param"] == "session.tool_choice.name"
        c.send("session.update", session={"instructions": "still alive"})
        assert (await c.until("session.updated"))["session"]["tools"] == []


async def test_an_output_for_an_unknown_call_id_is_refused() -> None:
    async with Client(FakeToolLLM()) as c:
        c.send("conversation.item.create", item={"type": "function_call_output", "call_id": "call_nope",
                                                 "output": "{}"})
        err = await c.until("error")
        assert err["error"]["code"] == "invalid_call_id" and err["error"]["param"] == "item.call_id"
        c.send("conversation.item.create", item={"type": "function_call_output", "output": "{}"})
        err = await c.ws.until(lambda e: e["type"] == "error" and e["error"]["param"] == "item.call_id"
                               and e["error"]["code"] != "invalid_call_id")
        c.send("conversation.item.create", item={"type": "function_call", "call_id": "c1", "name": "f",
                                                 "arguments": 5})
        await c.ws.until(lambda e: e["type"] == "error" and e["error"]["param"] == "item.arguments")


@pytest.mark.parametrize(("call", "why"), [
    (("get_weather", '{"city": "Par'), "not valid JSON"),
    (("get_weather", '["Paris"]'), "must be a JSON object"),
    (("get_weather", '{"town": "Paris"}'), "lack the required 'city'"),
    (("get_weather", '{"city": 7}'), "does not match"),
    (("launch_rockets", "{}"), "not one of the session's tools"),
])
async def test_a_malformed_call_from_the_model_fails_that_response_and_the_session_goes_on(
        call: tuple[str, str], why: str) -> None:
    async with Client(FakeToolLLM(call=call)) as c:
        done = await c.ask(tool_choice="required")
        assert done["response"]["status"] == "failed"
        err = next(e for e in c.ws.sent if e["type"] == "error")
        assert err["error"]["code"] == "invalid_tool_call" and why in err["error"]["message"]
        c.send("response.create", response={"tool_choice": "none"})
        again = await c.ws.until(lambda e: e["type"] == "response.done" and e is not done)
        assert again["response"]["status"] == "completed"


LOOKUP = {"name": "get_weather", "description": "The weather in a city.", "url": "http://127.0.0.1:9/weather",
          "parameters": WEATHER["parameters"], "timeout_s": 2, "filler": "Let me check.",
          "error_message": "Sorry, I couldn't reach the weather service."}


def _server_tool() -> ServerTool:
    return parse_server_tool(LOOKUP)


@pytest.mark.parametrize("ok", [True, False])
async def test_a_server_tool_runs_with_a_filler_line_then_the_answer_or_an_apology(
        ok: bool, monkeypatch: Any) -> None:
    seen: list[str] = []

    async def webhook(tool: ServerTool, arguments: str, *, call_id: str = "") -> ToolResult:
        seen.append(arguments)
        await asyncio.sleep(1.0)  # a slow backend (virtual time)
        if ok:
            return ToolResult('{"temperature_c":18}', ok=True)
        return ToolResult('{"error":"get_weather did not answer within 2 s"}', ok=False)

    monkeypatch.setattr(toolcalls, "call_webhook", webhook)
    async with Client(FakeToolLLM(), server_tools=(_server_tool(),)) as c:
        c.send("conversation.item.create", item=ASK)
        c.send("response.create", response={"output_modalities": ["text"]})
        first = await c.until("response.done")
        kinds = [o["type"] for o in first["response"]["output"]]
        assert kinds == ["message", "function_call"]  # the filler, then the call
        assert first["response"]["output"][0]["content"][0]["text"].strip() == "Let me check."
        assert json.loads(seen[0]) == {"city": "Paris"}
        output = await c.ws.until(lambda e: e["type"] == "conversation.item.done"
                                  and e["item"]["type"] == "function_call_output")
        assert json.loads(output["item"]["output"]) == ({"temperature_c": 18} if ok else
                                                        {"error": "get_weather did not answer within 2 s"})
        second = await c.ws.until(lambda e: e["type"] == "response.done" and e is not first)
        said = second["response"]["output"][0]["content"][0]
        text = said.get("text") or said.get("transcript")
        assert text.strip() == ("It is sunny in Paris." if ok else "Sorry, I couldn't reach the weather service.")
        assert second["response"]["status"] == "completed"
        assert not [e for e in c.ws.sent if e["type"] == "error"]
        if ok:  # the model saw the tool's output
            assert c.llm.requests[-1][0][-1].role == "tool"


def test_server_tool_declarations_are_checked() -> None:
    with pytest.raises(Exception, match="url"):
        parse_server_tool({**LOOKUP, "url": "ftp://x"})
    with pytest.raises(Exception, match="timeout_s"):
        parse_server_tool({**LOOKUP, "timeout_s": 0})
    with pytest.raises(Exception, match="unknown key 'headerz'"):
        parse_server_tool({**LOOKUP, "headerz": {}})
