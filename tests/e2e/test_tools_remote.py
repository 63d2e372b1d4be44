"""Function calling through a remote OpenAI-compatible LLM (``--llm openai:URL``): a loopback
fake chat server streams ``tool_calls`` the way vLLM, Ollama or OpenAI do; voxloop (a real
server, real ASR/TTS) turns them into Realtime events for the official ``openai`` SDK — several
calls in one response, and malformed calls as a clear error with the session alive."""

from __future__ import annotations

import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from tests import fake_http
from tests.support import running_server, sdk_until

pytestmark = pytest.mark.models
openai = pytest.importorskip("openai")

WEATHER = {"type": "function", "name": "get_weather", "description": "Weather in a city.",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}


def _chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
    return b"data: " + json.dumps({"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}).encode() + b"\n\n"


def _call(index: int, call_id: str | None, name: str | None, arguments: str) -> dict[str, Any]:
    fn: dict[str, Any] = {"arguments": arguments}
    if name:
        fn["name"] = name
    piece: dict[str, Any] = {"index": index, "type": "function", "function": fn}
    if call_id:
        piece["id"] = call_id
    return {"tool_calls": [piece]}


class ChatServer:
    """Answers /v1/chat/completions by what the last user message asks for."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.bodies.append(body)
                last = body["messages"][-1]
                text = str(last.get("content") or "")
                if last["role"] == "tool":
                    chunks = [_chunk({"content": "It is sunny in both cities."}), _chunk({}, "stop")]
                elif "two cities" in text:  # two calls in one response, arguments in pieces
                    chunks = [_chunk(_call(0, "call_a", "get_weather", '{"ci')), _chunk(_call(0, None, None, 'ty": "Paris"}')),
                              _chunk(_call(1, "call_b", "get_weather", '{"city": "Rome"}')), _chunk({}, "tool_calls")]
                elif "broken" in text:  # arguments that are not JSON
                    chunks = [_chunk(_call(0, "call_x", "get_weather", '{"city": ')), _chunk({}, "tool_calls")]
                elif "garbled" in text:  # a tool call piece of the wrong shape
                    chunks = [_chunk({"tool_calls": [{"index": "zero", "function": {"name": 7}}]})]
                else:
                    chunks = [_chunk({"content": "Hello there."}), _chunk({}, "stop")]
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                for c in [*chunks, b"data: [DONE]\n\n"]:
                    self.wfile.write(c)
                    self.wfile.flush()

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = fake_http.start(Handler)
        self.port = self.httpd.server_address[1]

    def close(self) -> None:
        fake_http.stop(self.httpd)


@pytest.fixture(scope="module")
def chat() -> Iterator[ChatServer]:
    server = ChatServer()
    yield server
    server.close()


@pytest.fixture(scope="module")
def server(chat: ChatServer) -> Iterator[str]:
    with running_server("--llm", f"openai:http://127.0.0.1:{chat.port}/v1?model=fake") as base:
        yield base


async def _ask(conn: Any, seen: list[Any], text: str) -> Any:
    await conn.conversation.item.create(item={"type": "message", "role": "user",
                                              "content": [{"type": "input_text", "text": text}]})
    await conn.response.create()
    return await sdk_until(conn, seen, lambda e: e.type == "response.done")


async def test_several_remote_calls_in_one_response_then_bad_calls_are_errors(server: str, chat: ChatServer) -> None:
    client = openai.AsyncOpenAI(api_key="not-needed", base_url=f"{server}/v1",
                                websocket_base_url=server.replace("http", "ws") + "/v1")
    async with client.realtime.connect(model="voxloop") as conn:
        seen: list[Any] = []
        await sdk_until(conn, seen, lambda e: e.type == "session.created")
        await conn.session.update(session={"type": "realtime", "output_modalities": ["text"], "tools": [WEATHER],
                                           "tool_choice": "auto"})
        await sdk_until(conn, seen, lambda e: e.type == "session.updated")

        done = await _ask(conn, seen, "Weather in two cities please.")
        calls = [o for o in done.response.output if o.type == "function_call"]
        assert [(c.call_id, json.loads(c.arguments)["city"]) for c in calls] == [("call_a", "Paris"), ("call_b", "Rome")]
        indexes = [e.output_index for e in seen if e.type == "response.function_call_arguments.done"]
        assert indexes == [0, 1]
        sent = chat.bodies[-1]  # the tools went to the remote model as Chat Completions tools
        assert sent["tools"][0]["function"]["name"] == "get_weather" and sent["tool_choice"] == "auto"

        for c in calls:
            await conn.conversation.item.create(item={"type": "function_call_output", "call_id": c.call_id,
                                                      "output": '{"conditions": "sunny"}'})
        await conn.response.create()
        answer = await sdk_until(conn, seen, lambda e: e.type == "response.done" and e.response.id != done.response.id)
        assert answer.response.output[0].content[0].text == "It is sunny in both cities."
        history = chat.bodies[-1]["messages"]
        assert [m["role"] for m in history[-3:]] == ["assistant", "tool", "tool"]
        assert [c["id"] for c in history[-3]["tool_calls"]] == ["call_a", "call_b"]
        assert [e for e in seen if e.type == "error"] == []

        for bad in ("Something broken please.", "Something garbled please."):
            failed = await _ask(conn, seen, bad)
            assert failed.response.status == "failed"
            err = [e for e in seen if e.type == "error"][-1]
            assert "tool call" in err.error.message or "malformed" in err.error.message, err.error.message
        ok = await _ask(conn, seen, "Hi.")  # the session goes on
        assert ok.response.status == "completed" and ok.response.output[0].content[0].text == "Hello there."
