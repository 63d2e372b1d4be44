"""Function calling end to end: the real embedded models behind a real server, the official
``openai`` SDK as the client, and real loopback webhooks for the server-side tools."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from tests import fake_http
from tests.support import running_server

pytestmark = pytest.mark.models
openai = pytest.importorskip("openai")

WEATHER = {"type": "function", "name": "get_weather", "description": "Get the current weather in a city.",
           "parameters": {"type": "object", "properties": {"city": {"type": "string", "description": "The city"}},
                          "required": ["city"]}}
QUESTION = "What is the weather like in Paris today?"


class Webhook:
    """A loopback HTTP service for server-side tools: answers orders, or hangs past the timeout."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append({"path": self.path, **body})
                if self.path == "/slow":
                    time.sleep(3.0)  # longer than the tool's timeout
                payload = json.dumps({"order_id": body["arguments"].get("order_id"), "status": "shipped",
                                      "arrives": "tomorrow"}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = fake_http.start(Handler)
        self.port = self.httpd.server_address[1]

    def close(self) -> None:
        fake_http.stop(self.httpd)


@pytest.fixture(scope="module")
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    yield hook
    hook.close()


@pytest.fixture(scope="module")
def server(webhook: Webhook, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    config = Path(tmp_path_factory.mktemp("tools")) / "voxloop.toml"
    params = 'parameters = { type = "object", properties = { order_id = { type = "string" } }, required = ["order_id"] }'
    config.write_text(f'''
[[tools]]
name = "lookup_order"
description = "Look up the status of an order by its order number."
url = "http://127.0.0.1:{webhook.port}/orders"
timeout_s = 5
filler = "Let me look that up."
{params}

[[tools]]
name = "track_parcel"
description = "Track a parcel by its order number."
url = "http://127.0.0.1:{webhook.port}/slow"
timeout_s = 1
filler = "One moment."
error_message = "Sorry, I couldn't reach the parcel service. Please try again later."
{params}
''')
    with running_server("--config", str(config)) as base:
        yield base


class Conn:
    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.seen: list[Any] = []

    async def until(self, pred: Any, timeout: float = 120.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            event = await asyncio.wait_for(self.conn.recv(), deadline - time.monotonic())
            self.seen.append(event)
            if pred(event):
                return event
        raise AssertionError(f"timed out; saw {[e.type for e in self.seen[-10:]]}")

    def errors(self) -> list[Any]:
        return [e for e in self.seen if e.type == "error"]


def _client(server: str) -> Any:
    return openai.AsyncOpenAI(api_key="not-needed", base_url=f"{server}/v1",
                              websocket_base_url=server.replace("http", "ws") + "/v1")


async def _setup(c: Conn, **session: Any) -> None:
    await c.until(lambda e: e.type == "session.created", 30)
    await c.conn.session.update(session={"type": "realtime", "instructions": "You are a helpful assistant.",
                                         **session})
    await c.until(lambda e: e.type == "session.updated", 30)


async def _ask(c: Conn, text: str) -> Any:
    await c.conn.conversation.item.create(item={"type": "message", "role": "user",
                                                "content": [{"type": "input_text", "text": text}]})
    await c.conn.response.create()
    return await c.until(lambda e: e.type == "response.done")


async def test_forced_call_with_the_embedded_model_then_an_answer_in_words(server: str) -> None:
    async with _client(server).realtime.connect(model="voxloop") as raw:
        c = Conn(raw)
        await _setup(c, output_modalities=["text"], tools=[WEATHER],
                     tool_choice={"type": "function", "name": "get_weather"})
        done = await _ask(c, QUESTION)
        assert done.response.status == "completed"
        calls = [o for o in done.response.output if o.type == "function_call"]
        assert len(calls) == 1 and calls[0].name == "get_weather"
        args = json.loads(calls[0].arguments)
        assert "paris" in str(args.get("city", "")).lower(), args
        types = [e.type for e in c.seen]
        for t in ("response.output_item.added", "response.function_call_arguments.delta",
                  "response.function_call_arguments.done", "response.output_item.done"):
            assert t in types

        await raw.conversation.item.create(item={"type": "function_call_output", "call_id": calls[0].call_id,
                                                 "output": json.dumps({"temperature_c": 18, "conditions": "sunny"})})
        await raw.session.update(session={"type": "realtime", "tool_choice": "auto"})
        await raw.response.create(response={"output_modalities": ["audio"]})
        answer = await c.until(lambda e: e.type == "response.done" and e.response.id != done.response.id)
        assert answer.response.status == "completed"
        [message] = [o for o in answer.response.output if o.type == "message"]
        words = message.content[0].transcript
        assert words and len(words.split()) >= 2, words
        assert any(e.type == "response.output_audio.delta" for e in c.seen)
        assert c.errors() == []


async def test_a_server_tool_answers_through_its_webhook(server: str, webhook: Webhook) -> None:
    async with _client(server).realtime.connect(model="voxloop") as raw:
        c = Conn(raw)
        await _setup(c, output_modalities=["audio"], tool_choice={"type": "function", "name": "lookup_order"})
        first = await _ask(c, "Where is my order 12345?")
        kinds = [o.type for o in first.response.output]
        assert kinds == ["message", "function_call"], kinds
        assert first.response.output[0].content[0].transcript == "Let me look that up."
        output = await c.until(lambda e: e.type == "conversation.item.done" and e.item.type == "function_call_output")
        assert json.loads(output.item.output)["status"] == "shipped"
        assert webhook.requests[-1]["path"] == "/orders" and webhook.requests[-1]["name"] == "lookup_order"
        second = await c.until(lambda e: e.type == "response.done" and e.response.id != first.response.id)
        assert second.response.status == "completed"
        assert second.response.output[0].content[0].transcript  # the model spoke about the result
        assert c.errors() == []


async def test_a_webhook_that_times_out_yields_a_spoken_apology(server: str) -> None:
    async with _client(server).realtime.connect(model="voxloop") as raw:
        c = Conn(raw)
        await _setup(c, output_modalities=["audio"], tool_choice={"type": "function", "name": "track_parcel"})
        first = await _ask(c, "Can you track my parcel for order 991?")
        assert [o.type for o in first.response.output] == ["message", "function_call"]
        output = await c.until(lambda e: e.type == "conversation.item.done" and e.item.type == "function_call_output")
        assert "did not answer" in json.loads(output.item.output)["error"]
        second = await c.until(lambda e: e.type == "response.done" and e.response.id != first.response.id)
        assert second.response.status == "completed"
        said = second.response.output[0].content[0].transcript
        assert said == "Sorry, I couldn't reach the parcel service. Please try again later."
        audio = [e for e in c.seen if e.type == "response.output_audio.delta" and e.response_id == second.response.id]
        assert audio  # spoken, not just written
        assert c.errors() == []
        # the session is alive: a plain question still gets an answer
        await raw.session.update(session={"type": "realtime", "tool_choice": "none"})
        third = await _ask(c, "Thank you.")
        assert third.response.status == "completed"
