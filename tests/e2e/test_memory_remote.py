"""Memory with a capable remote model (``--llm openai:URL``): the model extracts the facts and
writes the rolling summaries. A loopback fake chat server stands in for vLLM / Ollama; voxloop is
a real server over real sockets."""

from __future__ import annotations

import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import fake_http
from tests.e2e.test_memory import say, setup, user_id
from tests.e2e.test_realtime import connect
from tests.support import running_server
from voxloop.store.sqlite import SQLiteStore

pytestmark = pytest.mark.models


class ChatServer:
    """Answers fact extraction with JSON, summary requests with a summary, the rest plainly."""

    def __init__(self) -> None:
        self.kinds: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                system = str(body["messages"][0].get("content") or "")
                said = str(body["messages"][-1].get("content") or "")
                if system.startswith("You find long-term facts"):
                    outer.kinds.append("facts")
                    facts = [{"fact": "The user's name is Ada.", "key": "name"}] if "Ada" in said else []
                    text = "Here you go: " + json.dumps(facts)
                elif system.startswith("You summarise a conversation"):
                    outer.kinds.append("summary")
                    text = "**Summary:** The user, Ada, asked about numbers and colours."
                else:
                    outer.kinds.append("reply")
                    text = "Hello Ada." if "Ada" in system else "Hello there."
                chunks = [{"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]},
                          {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}]
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                for c in chunks:
                    self.wfile.write(b"data: " + json.dumps(c).encode() + b"\n\n")
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = fake_http.start(Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def close(self) -> None:
        fake_http.stop(self.httpd)


@pytest.fixture(scope="module")
def chat() -> Iterator[ChatServer]:
    server = ChatServer()
    yield server
    server.close()


async def test_a_remote_model_extracts_facts_and_writes_summaries(chat: ChatServer, tmp_path: Path) -> None:
    db = tmp_path / "voxloop.db"
    config = tmp_path / "voxloop.toml"
    config.write_text(f'[memory]\nstore = "sqlite:{db}"\nsummary_after_turns = 3\nkeep_turns = 1\n')
    ada = user_id()
    with running_server("--config", str(config), "--llm", f"openai:{chat.url}?model=fake") as base:
        async for c in connect(base):
            await setup(c, user=ada)
            await say(c, "Hi, I'm Ada by the way, nice to meet you.")  # the rules would not take this one
            for q in ("What is two plus two?", "Name a colour.", "Name a fruit."):
                await say(c, q)
            sid = c.of("session.created")[0]["session"]["id"]
        async with httpx.AsyncClient() as http:
            facts = (await http.get(f"{base}/v1/voxloop/users/{ada}/memory")).json()["data"]
        assert [f["text"] for f in facts] == ["The user's name is Ada."]
        async for c in connect(base):  # a new session of the user: the fact is in the prompt
            await setup(c, user=ada)
            done = await say(c, "Who am I?")
            assert "Ada" in json.dumps(done["response"]["output"])
    assert "facts" in chat.kinds and "summary" in chat.kinds
    store = SQLiteStore(db)
    try:
        record = await store.get(sid)
    finally:
        await store.aclose()
    assert record is not None and record.summary == "The user, Ada, asked about numbers and colours."
