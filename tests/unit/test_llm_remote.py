"""RemoteLLM against a fake OpenAI-compatible SSE server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from tests.fake_http import FakeServer, serving
from voxloop.engines import create_engine
from voxloop.engines.llm.remote import RemoteLLM, parse_base_url
from voxloop.engines.types import ChatMessage, LLMOptions, ToolCall, ToolCallDelta, ToolSpec
from voxloop.errors import BackendError, BackendUnavailable, InvalidRequest

Behaviour = Callable[["Handler", dict[str, Any]], None]


class Handler(BaseHTTPRequestHandler):
    server: FakeServer

    def do_POST(self) -> None:  # noqa: N802 - stdlib name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append((self.path, dict(self.headers), body))
        self.server.behaviour(self, body)

    def log_message(self, *args: Any) -> None:
        pass

    def send(self, status: int, content_type: str, payload: bytes = b"") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        if payload:
            self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def sse(self, events: list[Any], delay: float = 0.0, done: bool = True) -> None:
        """Stream ``events`` (dicts are JSON, strings raw lines); record how many got out."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        try:
            for event in events:
                line = event if isinstance(event, str) else f"data: {json.dumps(event)}"
                self.wfile.write(f"{line}\n\n".encode())
                self.wfile.flush()
                self.server.sent += 1
                time.sleep(delay)
            if done:
                self.wfile.write(b"data: [DONE]\n\n")
        except (BrokenPipeError, ConnectionResetError):
            self.server.disconnected.set()


@pytest.fixture
def serve() -> Iterator[Callable[[Behaviour], FakeServer]]:
    yield from serving(Handler)


def delta(text: str) -> dict[str, Any]:
    return {"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]}


MESSAGES = [ChatMessage("system", "Be brief."), ChatMessage("user", "Hi!")]


async def test_streams_deltas_and_sends_an_openai_request(serve: Callable[[Behaviour], FakeServer]) -> None:
    events: list[Any] = [
        {"choices": [{"index": 0, "delta": {"role": "assistant"}}]},
        ": keep-alive comment",
        delta("Hello"),
        delta(" there"),
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
    ]
    server = serve(lambda h, body: h.sse(events))
    llm = RemoteLLM(server.url + "?model=tiny", api_key="sk-test")
    opts = LLMOptions(temperature=0.1, max_tokens=12, stop=("END",), seed=7)
    stream = llm.chat(MESSAGES, opts)
    out = [d async for d in stream]
    assert out == ["Hello", " there"]
    assert stream.tokens == 2
    path, headers, body = server.requests[0]
    assert path == "/v1/chat/completions"
    assert headers["Authorization"] == "Bearer sk-test"
    assert body == {
        "model": "tiny",
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi!"}],
        "stream": True,
        "temperature": 0.1,
        "top_p": 0.95,
        "max_tokens": 12,
        "stop": ["END"],
        "seed": 7,
    }


async def test_options_model_wins_and_no_model_is_omitted(serve: Callable[[Behaviour], FakeServer]) -> None:
    server = serve(lambda h, body: h.sse([delta("x")]))
    llm = RemoteLLM(server.url)
    assert [d async for d in llm.chat(MESSAGES)] == ["x"]
    assert "model" not in server.requests[0][2]
    assert [d async for d in llm.chat(MESSAGES, LLMOptions(model="big"))] == ["x"]
    assert server.requests[1][2]["model"] == "big"


async def test_non_streaming_json_answer_is_accepted(serve: Callable[[Behaviour], FakeServer]) -> None:
    answer = {"choices": [{"index": 0, "message": {"role": "assistant", "content": "All at once."}}]}
    server = serve(lambda h, body: h.send(200, "application/json", json.dumps(answer).encode()))
    assert [d async for d in RemoteLLM(server.url).chat(MESSAGES)] == ["All at once."]


async def test_aclose_closes_the_response_and_the_server_stops(serve: Callable[[Behaviour], FakeServer]) -> None:
    server = serve(lambda h, body: h.sse([delta(f"t{i} ") for i in range(400)], delay=0.01))
    stream = RemoteLLM(server.url).chat(MESSAGES)
    got = []
    async for d in stream:
        got.append(d)
        if len(got) == 3:
            break
    await stream.aclose()
    assert await asyncio.to_thread(server.disconnected.wait, 5)
    assert server.sent < 400


async def test_cancelling_the_consumer_closes_the_response(serve: Callable[[Behaviour], FakeServer]) -> None:
    server = serve(lambda h, body: h.sse([delta("t ") for _ in range(400)], delay=0.01))
    stream = RemoteLLM(server.url).chat(MESSAGES)
    streaming = asyncio.Event()

    async def consume() -> None:
        async for _ in stream:
            streaming.set()

    task = asyncio.ensure_future(consume())
    await asyncio.wait_for(streaming.wait(), 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await asyncio.to_thread(server.disconnected.wait, 5)
    assert server.sent < 400


@pytest.mark.parametrize(
    ("status", "payload", "message", "retryable"),
    [
        (401, {"error": {"message": "Invalid API key", "type": "auth"}}, "Invalid API key", False),
        (404, {"detail": "model 'x' not found"}, "model 'x' not found", False),
        (429, {"error": "slow down"}, "slow down", True),
        (500, None, "kaput", True),
    ],
)
async def test_http_errors_carry_the_server_message(
    serve: Callable[[Behaviour], FakeServer], status: int, payload: Any, message: str, retryable: bool
) -> None:
    raw = json.dumps(payload).encode() if payload is not None else b"kaput"
    server = serve(lambda h, body: h.send(status, "application/json", raw))
    with pytest.raises(BackendError) as info:
        async for _ in RemoteLLM(server.url).chat(MESSAGES):
            pass
    assert not isinstance(info.value, BackendUnavailable)
    assert message in str(info.value) and str(status) in str(info.value)
    assert info.value.retryable is retryable


async def test_error_event_inside_the_stream(serve: Callable[[Behaviour], FakeServer]) -> None:
    server = serve(lambda h, body: h.sse([delta("Hi"), {"error": {"message": "model crashed"}}]))
    got = []
    with pytest.raises(BackendError, match="model crashed"):
        async for d in RemoteLLM(server.url).chat(MESSAGES):
            got.append(d)
    assert got == ["Hi"]


async def test_garbage_in_the_stream_is_a_backend_error(serve: Callable[[Behaviour], FakeServer]) -> None:
    server = serve(lambda h, body: h.sse(["data: {not json"]))
    with pytest.raises(BackendError, match="invalid JSON"):
        async for _ in RemoteLLM(server.url).chat(MESSAGES):
            pass


async def test_connection_refused_is_unavailable() -> None:
    with socket.socket() as s:  # a free port on 127.0.0.1 that nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(BackendUnavailable, match="cannot connect"):
        async for _ in RemoteLLM(f"http://127.0.0.1:{port}/v1").chat(MESSAGES):
            pass


def test_base_url_parsing_and_registry() -> None:
    assert parse_base_url("http://h:1/v1/?model=m&x=1", "t") == ("http://h:1/v1", {"model": "m", "x": "1"})
    with pytest.raises(InvalidRequest):
        RemoteLLM(None)
    with pytest.raises(InvalidRequest):
        RemoteLLM("ftp://h/v1")
    llm = create_engine("llm", "openai:http://127.0.0.1:9/v1?model=qwen")
    assert isinstance(llm, RemoteLLM)
    assert llm.describe() == {"backend": "openai", "url": "http://127.0.0.1:9/v1", "model": "qwen"}


WEATHER = ToolSpec("get_weather", "Get the weather", '{"type": "object", "properties": {"city": {"type": "string"}}}')
NOTE = ToolSpec("note", "", '{"type": "object", "properties": {}}')


def tool_delta(*calls: dict[str, Any]) -> dict[str, Any]:
    return {"choices": [{"index": 0, "delta": {"tool_calls": list(calls)}, "finish_reason": None}]}


async def test_tools_and_tool_messages_are_sent_the_openai_way(serve: Callable[[Behaviour], FakeServer]) -> None:
    server = serve(lambda h, body: h.sse([delta("ok")]))
    llm = RemoteLLM(server.url)
    call = ToolCall("call_1", "get_weather", '{"city": "Paris"}')
    history = [*MESSAGES, ChatMessage("assistant", "", tool_calls=(call,)),
               ChatMessage("tool", '{"temperature_c": 18}', tool_call_id="call_1", name="get_weather")]
    assert [d async for d in llm.chat(history, LLMOptions(tools=(WEATHER, NOTE)))] == ["ok"]
    body = server.requests[0][2]
    assert body["tools"] == [
        {"type": "function", "function": {"name": "get_weather", "description": "Get the weather",
                                          "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}},
        {"type": "function", "function": {"name": "note", "parameters": {"type": "object", "properties": {}}}},
    ]
    assert body["tool_choice"] == "auto"
    assert body["messages"][2:] == [
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]},
        {"role": "tool", "content": '{"temperature_c": 18}', "tool_call_id": "call_1"},
    ]
    assert "repeat_penalty" not in body  # not an OpenAI parameter
    for choice, wire in [("none", "none"), ("required", "required"),
                         ("note", {"type": "function", "function": {"name": "note"}})]:
        await anext(aiter(llm.chat(MESSAGES, LLMOptions(tools=(WEATHER, NOTE), tool_choice=choice))))
        assert server.requests[-1][2]["tool_choice"] == wire
    with pytest.raises(InvalidRequest, match="tool_choice"):
        llm.chat(MESSAGES, LLMOptions(tools=(WEATHER,), tool_choice="get_moon"))


async def test_streamed_tool_calls_become_tool_call_deltas(serve: Callable[[Behaviour], FakeServer]) -> None:
    events: list[Any] = [
        {"choices": [{"index": 0, "delta": {"role": "assistant", "content": None}}]},
        tool_delta({"index": 0, "id": "call_abc", "type": "function", "function": {"name": "get_weather", "arguments": ""}}),
        tool_delta({"index": 0, "function": {"arguments": '{"ci'}}),
        tool_delta({"index": 0, "function": {"arguments": 'ty": "Paris"}'}}),
        tool_delta({"index": 1, "type": "function", "function": {"name": "note", "arguments": "{}"}}),  # no id
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
    ]
    server = serve(lambda h, body: h.sse(events))
    stream = RemoteLLM(server.url).chat(MESSAGES, LLMOptions(tools=(WEATHER, NOTE)))
    chunks = [c async for c in stream]
    made_up = chunks[3].call_id if isinstance(chunks[3], ToolCallDelta) else None
    assert made_up is not None and made_up.startswith("call_") and len(made_up) == 25
    assert chunks == [
        ToolCallDelta(0, "", call_id="call_abc", name="get_weather"),
        ToolCallDelta(0, '{"ci'),
        ToolCallDelta(0, 'ty": "Paris"}'),
        ToolCallDelta(1, "{}", call_id=made_up, name="note"),
    ]
    assert stream.tool_calls == [ToolCall("call_abc", "get_weather", '{"city": "Paris"}'), ToolCall(made_up, "note", "{}")]


async def test_text_and_a_tool_call_in_one_reply(serve: Callable[[Behaviour], FakeServer]) -> None:
    events = [delta("Let me check. "),
              tool_delta({"index": 0, "id": "c1", "function": {"name": "get_weather", "arguments": "{}"}})]
    server = serve(lambda h, body: h.sse(events))
    stream = RemoteLLM(server.url).chat(MESSAGES, LLMOptions(tools=(WEATHER,)))
    assert [c async for c in stream] == ["Let me check. ", ToolCallDelta(0, "{}", call_id="c1", name="get_weather")]


async def test_non_streamed_tool_calls(serve: Callable[[Behaviour], FakeServer]) -> None:
    answer = {"choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
        "role": "assistant", "content": None, "tool_calls": [
            {"id": "call_9", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Rome"}'}},
            {"type": "function", "function": {"name": "note", "arguments": "{}"}},
        ]}}]}
    server = serve(lambda h, body: h.send(200, "application/json", json.dumps(answer).encode()))
    stream = RemoteLLM(server.url).chat(MESSAGES, LLMOptions(tools=(WEATHER, NOTE)))
    chunks = [c async for c in stream]
    calls = stream.tool_calls
    assert [(c.name, c.arguments) for c in calls] == [("get_weather", '{"city": "Rome"}'), ("note", "{}")]
    assert calls[0].call_id == "call_9" and calls[1].call_id.startswith("call_") and len(chunks) == 2


@pytest.mark.parametrize(("tool_calls", "problem"), [
    ({"index": 0}, "tool_calls is not a list"),
    (["call"], "not an object"),
    ([{"id": "c", "function": {"name": "f", "arguments": "{}"}}], "no valid index"),
    ([{"index": "0", "id": "c", "function": {"name": "f"}}], "no valid index"),
    ([{"index": True, "id": "c", "function": {"name": "f"}}], "no valid index"),
    ([{"index": 0, "id": "c", "function": {"name": "f", "arguments": {"city": "Paris"}}}], "arguments is not a string"),
    ([{"index": 0, "id": 7, "function": {"name": "f"}}], "id is not a string"),
    ([{"index": 0, "id": "c", "function": "f"}], "function is not an object"),
    ([{"index": 0, "id": "c", "function": {"arguments": "{}"}}], "its first piece has no name"),
])
async def test_malformed_streamed_tool_calls_are_backend_errors(
    serve: Callable[[Behaviour], FakeServer], tool_calls: Any, problem: str
) -> None:
    chunk = {"choices": [{"index": 0, "delta": {"tool_calls": tool_calls}}]}
    server = serve(lambda h, body: h.sse([chunk]))
    with pytest.raises(BackendError, match=f"malformed tool call \\({problem}"):
        async for _ in RemoteLLM(server.url).chat(MESSAGES, LLMOptions(tools=(WEATHER,))):
            pass


@pytest.mark.parametrize(("message", "problem"), [
    ({"role": "assistant", "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": {"a": 1}}}]},
     "malformed tool call \\(arguments is not a string"),
    ({"role": "assistant", "tool_calls": [{"id": "c", "function": {"name": "f"}}]}, "malformed tool call \\(no arguments"),
    ({"role": "assistant", "tool_calls": "f()"}, "malformed tool call \\(tool_calls is not a list"),
    ("just text", "unexpected response"),
])
async def test_malformed_non_streamed_tool_calls_are_backend_errors(
    serve: Callable[[Behaviour], FakeServer], message: Any, problem: str
) -> None:
    answer = {"choices": [{"index": 0, "message": message}]}
    server = serve(lambda h, body: h.send(200, "application/json", json.dumps(answer).encode()))
    with pytest.raises(BackendError, match=problem):
        async for _ in RemoteLLM(server.url).chat(MESSAGES, LLMOptions(tools=(WEATHER,))):
            pass
