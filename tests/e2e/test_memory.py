"""Conversations that last, end to end with the embedded models over real sockets: resume
with a token (same id, items, settings), takeover by a newer connection, bad tokens, user facts
across sessions and server restarts, no leaks across users, --no-store, the openai SDK resuming."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import websockets

from tests.e2e.test_realtime import Client, connect
from tests.support import running_server, sdk_until, server_process, silence, speak
from voxloop.store.sqlite import SQLiteStore

pytestmark = pytest.mark.models

TEXT = {"type": "realtime", "output_modalities": ["text"]}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    store = tmp_path_factory.mktemp("store") / "voxloop.db"
    with running_server("--store", f"sqlite:{store}") as base:
        yield base


def user_id() -> str:
    return f"user-{secrets.token_hex(4)}"


async def say(c: Client, text: str) -> dict[str, Any]:
    """A typed user turn and the text reply to it; returns response.done."""
    await c.send("conversation.item.create", item={"type": "message", "role": "user",
                                                  "content": [{"type": "input_text", "text": text}]})
    await c.send("response.create")
    return await c.until(lambda e: e["type"] == "response.done")


def reply_text(done: dict[str, Any]) -> str:
    return " ".join(p.get("text", p.get("transcript", "")) for item in done["response"]["output"]
                    for p in item.get("content", []))


def token_of(c: Client) -> str:
    created = c.of("session.created")[0]["session"]
    token: str = created["voxloop"]["resume_token"]
    assert len(token) >= 40 and created["voxloop"]["resume_expires_at"] > 0
    return token


async def setup(c: Client, **voxloop: Any) -> None:
    await c.send("session.update", session={**TEXT, **({"voxloop": voxloop} if voxloop else {})})
    await c.until(lambda e: e["type"] == "session.updated")


async def test_resume_continues_the_conversation_with_its_items_and_settings(server: str) -> None:
    async for c1 in connect(server):
        await c1.send("session.update", session={**TEXT, "instructions": "Answer in one short sentence."})
        await c1.until(lambda e: e["type"] == "session.updated")
        done = await say(c1, "Hello, my favourite colour is green.")
        assert done["response"]["status"] == "completed"
        token, sid = token_of(c1), c1.of("session.created")[0]["session"]["id"]
        items = [e["item"]["id"] for e in c1.of("conversation.item.done")]
    assert sid.startswith("sess_") and len(sid) == len("sess_") + 32
    async for c2 in connect(server, f"resume={token}"):
        session = c2.of("session.created")[0]["session"]
        assert session["id"] == sid
        assert session["instructions"] == "Answer in one short sentence."  # settings came back
        assert session["output_modalities"] == ["text"]
        while len(c2.of("conversation.item.done")) < len(items):
            await c2.until(lambda e: e["type"] == "conversation.item.done", 10)
        assert [e["item"]["id"] for e in c2.of("conversation.item.done")] == items
        added = c2.of("conversation.item.added")
        assert added[0]["previous_item_id"] is None and added[1]["previous_item_id"] == items[0]
        await c2.send("conversation.item.retrieve", item_id=items[0])
        got = await c2.until(lambda e: e["type"] == "conversation.item.retrieved")
        assert "green" in got["item"]["content"][0]["text"]
        done = await say(c2, "What did I just tell you?")  # the conversation goes on
        assert done["response"]["status"] == "completed"


async def test_a_newer_connection_takes_over_and_the_older_is_closed(server: str) -> None:
    async for c1 in connect(server):
        await setup(c1)
        await say(c1, "Remember that the door code is 4512.")
        token = token_of(c1)
        async for c2 in connect(server, f"resume={token}"):
            err = await c1.until(lambda e: e["type"] == "error")
            assert err["error"]["code"] == "session_taken_over"
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(c1.ws.recv(), 10)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4001
            await c2.until(lambda e: e["type"] == "conversation.item.done"
                           and "4512" in str(e["item"]["content"]), 10)
            done = await say(c2, "Thanks.")
            assert done["response"]["status"] == "completed"


async def test_bad_expired_or_revoked_tokens_get_a_clear_error(server: str) -> None:
    url = server.replace("http", "ws") + "/v1/realtime?resume="
    for token in ("not-a-token", "x" * 43):
        async with websockets.connect(url + token) as ws:
            err = __import__("json").loads(await ws.recv())
            assert err["type"] == "error" and err["error"]["code"] == "invalid_resume_token"
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await ws.recv()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4004
    async for c in connect(server):
        token = token_of(c)
    async with httpx.AsyncClient() as http:
        r = await http.post(f"{server}/v1/voxloop/resume/revoke", json={"token": token})
        assert r.status_code == 200 and r.json()["revoked"] is True
        r = await http.post(f"{server}/v1/voxloop/resume/revoke", json={"token": token})
        assert r.status_code == 404
        r = await http.post(f"{server}/v1/voxloop/resume/revoke", content=b"{")
        assert r.status_code == 400 and "JSON" in r.json()["error"]["message"]
    async with websockets.connect(url + token) as ws:
        assert "invalid_resume_token" in await ws.recv()
    async for c in connect(server):  # the server keeps serving
        assert c.of("session.created")


async def test_a_fact_told_in_one_session_is_used_in_a_new_session_of_that_user(server: str) -> None:
    ada, bob = user_id(), user_id()
    async for c in connect(server):
        await setup(c, user=ada)
        # spoken, through the recogniser, as a user would say it
        await c.send("session.update", session={"type": "realtime", "audio": {"input": {"turn_detection": None}}})
        await c.until(lambda e: e["type"] == "session.updated")
        c.stream_audio(np.concatenate([silence(0.3), speak("My name is Ada."), silence(0.5)]), speed=4.0)
        await c.wait_sent()
        await c.send("input_audio_buffer.commit")
        await c.send("response.create")
        await c.until(lambda e: e["type"] == "response.done")
        heard = c.of("conversation.item.input_audio_transcription.completed")[0]
    async with httpx.AsyncClient() as http:
        facts = (await http.get(f"{server}/v1/voxloop/users/{ada}/memory")).json()["data"]
        assert [f["text"] for f in facts] == ["The user's name is Ada."], heard["transcript"]
        assert facts[0]["source_item_id"] == heard["item_id"]
        assert (await http.get(f"{server}/v1/voxloop/users/{bob}/memory")).json()["data"] == []
    async for c in connect(server):  # a new, unresumed session of the same user
        await setup(c, user=ada)
        assert c.of("session.updated")[0]["session"]["voxloop"]["user"] == ada
        done = await say(c, "What is my name?")
        assert "ada" in reply_text(done).lower()
    async for c in connect(server):  # another user's session knows nothing of it
        await setup(c, user=bob)
        done = await say(c, "What is my name?")
        assert "ada" not in reply_text(done).lower()


async def test_a_conversation_never_moves_to_another_user(server: str) -> None:
    ada, eve = user_id(), user_id()
    async for c in connect(server):
        await setup(c, user=ada)
        token = token_of(c)
    async for c in connect(server, f"resume={token}"):
        assert c.of("session.created")[0]["session"]["voxloop"]["user"] == ada  # bound on resume too
        await c.send("session.update", session={"voxloop": {"user": eve}})
        err = await c.until(lambda e: e["type"] == "error")
        assert err["error"]["code"] == "user_mismatch"
        await c.send("session.update", session={"voxloop": {"user": "  padded"}})
        err = await c.until(lambda e: e["type"] == "error")
        assert err["error"]["param"] == "session.voxloop.user"


async def test_memory_lists_and_deletes_facts(server: str) -> None:
    ada = user_id()
    async for c in connect(server):
        await setup(c, user=ada)
        await say(c, "I live in Lyon.")
        await say(c, "I am allergic to peanuts.")
    async with httpx.AsyncClient() as http:
        url = f"{server}/v1/voxloop/users/{ada}"
        facts = (await http.get(f"{url}/memory")).json()["data"]
        assert len(facts) == 2
        r = await http.delete(f"{url}/memory/{facts[0]['id']}")
        assert r.status_code == 200 and r.json()["deleted"] is True
        assert (await http.delete(f"{url}/memory/{facts[0]['id']}")).status_code == 404
        assert len((await http.get(f"{url}/memory")).json()["data"]) == 1
        r = await http.delete(url)
        assert r.status_code == 200 and r.json()["records"] >= 2
        assert (await http.get(f"{url}/memory")).json()["data"] == []


def test_the_server_restarted_still_remembers(tmp_path: Path) -> None:
    store = f"sqlite:{tmp_path / 'voxloop.db'}"
    ada = user_id()

    async def tell(base: str) -> str:
        async for c in connect(base):
            await setup(c, user=ada)
            await say(c, "My name is Ada.")
            return token_of(c)
        raise AssertionError("no session")

    async def ask(base: str, token: str) -> str:
        async for c in connect(base, f"resume={token}"):  # the old conversation, after a restart
            await c.until(lambda e: e["type"] == "conversation.item.done", 10)
        async for c in connect(base):
            await setup(c, user=ada)
            return reply_text(await say(c, "What is my name?"))
        raise AssertionError("no session")

    with server_process("--store", store) as (base, _):
        token = asyncio.run(tell(base))
    with server_process("--store", store) as (base, _):
        assert "ada" in asyncio.run(ask(base, token)).lower()


def test_no_store_writes_nothing_to_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "data"
    data.mkdir()
    monkeypatch.setenv("XDG_DATA_HOME", str(data))

    async def talk(base: str) -> None:
        async for c in connect(base):
            await setup(c, user=user_id())
            await say(c, "My name is Ada.")
            token = token_of(c)
        async for c in connect(base, f"resume={token}"):  # resume still works, in memory
            await c.until(lambda e: e["type"] == "conversation.item.done", 10)

    with server_process("--no-store") as (base, _):
        asyncio.run(talk(base))
    assert list(data.rglob("*")) == []


async def test_rolling_summary_bounds_the_prompt(tmp_path: Path) -> None:
    """Past summary_after_turns, older turns are summarised into the store; the facts survive."""
    config = tmp_path / "voxloop.toml"
    db = tmp_path / "voxloop.db"
    config.write_text(f'[memory]\nstore = "sqlite:{db}"\nsummary_after_turns = 3\nkeep_turns = 1\n')
    with running_server("--config", str(config)) as base:
        async for c in connect(base):
            await setup(c)
            await say(c, "My name is Ada.")
            for q in ("What is two plus two?", "Name a colour.", "Name a fruit."):
                await say(c, q)
            sid = c.of("session.created")[0]["session"]["id"]
    store = SQLiteStore(db)
    try:
        record = await store.get(sid)
    finally:
        await store.aclose()
    assert record is not None and record.summary_through is not None
    assert "Ada" in record.summary


async def test_the_openai_sdk_resumes_a_conversation(server: str) -> None:
    from openai import AsyncOpenAI

    client = AsyncOpenAI(base_url=f"{server}/v1", api_key="unused", websocket_base_url=server.replace("http", "ws") + "/v1")
    async for c in connect(server):
        await setup(c)
        await say(c, "My favourite animal is the otter.")
        token, sid = token_of(c), c.of("session.created")[0]["session"]["id"]
    seen: list[Any] = []
    async with client.realtime.connect(model="voxloop", extra_query={"resume": token}) as conn:
        created = await sdk_until(conn, seen, lambda e: e.type == "session.created")
        assert created.session.id == sid
        item = await sdk_until(conn, seen, lambda e: e.type == "conversation.item.done")
        assert "otter" in str(item.item.content[0]).lower()
    with contextlib.suppress(Exception):
        await client.close()


def test_two_instances_on_one_redis_share_conversations_and_hand_them_over(redis_url: str) -> None:
    """Behind a load balancer: a conversation started on one instance resumes on the other,
    which takes it over from the first; the user's facts are shared too."""
    ada = user_id()

    async def run(a: str, b: str) -> None:
        async for c1 in connect(a):
            await setup(c1, user=ada)
            await say(c1, "My name is Ada.")
            token, sid = token_of(c1), c1.of("session.created")[0]["session"]["id"]
            async for c2 in connect(b, f"resume={token}"):  # the other instance
                err = await c1.until(lambda e: e["type"] == "error", 15)
                assert err["error"]["code"] == "session_taken_over"
                assert c2.of("session.created")[0]["session"]["id"] == sid
                await c2.until(lambda e: e["type"] == "conversation.item.done"
                               and "Ada" in str(e["item"]["content"]), 10)
        async with httpx.AsyncClient() as http:
            facts = (await http.get(f"{b}/v1/voxloop/users/{ada}/memory")).json()["data"]
        assert [f["text"] for f in facts] == ["The user's name is Ada."]

    with server_process("--store", redis_url) as (a, _), server_process("--store", redis_url) as (b, _):
        asyncio.run(run(a, b))


async def test_an_expired_token_gets_a_clear_error(tmp_path: Path) -> None:
    config = tmp_path / "voxloop.toml"
    config.write_text(f'[memory]\nstore = "sqlite:{tmp_path / "voxloop.db"}"\nresume_ttl_s = 1\n')
    with running_server("--config", str(config)) as base:
        async for c in connect(base):
            token = token_of(c)
        await asyncio.sleep(1.5)
        async with websockets.connect(base.replace("http", "ws") + f"/v1/realtime?resume={token}") as ws:
            assert "invalid_resume_token" in await ws.recv()
