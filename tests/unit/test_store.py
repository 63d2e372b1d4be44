"""The conversation store contract, run against every backend (memory, SQLite, Redis)."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from voxloop.errors import InvalidRequest, VoxloopError
from voxloop.store.base import ConversationRecord, ConversationStore, Fact, StoredItem
from voxloop.store.memory import MemoryStore
from voxloop.store.open import default_store_path, open_store
from voxloop.store.rank import bm25, query_words, rank, words
from voxloop.store.sqlite import SCHEMA_VERSION, SQLiteStore, fts_query


class Clock:
    """A settable clock for ``updated_at`` and fact times."""

    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=["memory", "sqlite", "redis"])
async def store(request: pytest.FixtureRequest, tmp_path: Path, clock: Clock) -> AsyncIterator[ConversationStore]:
    backend: ConversationStore
    if request.param == "memory":
        backend = MemoryStore(clock=clock)
    elif request.param == "sqlite":
        backend = SQLiteStore(tmp_path / "nested" / "voxloop.db", clock=clock)
    else:
        from voxloop.store.redis import RedisStore

        url = request.getfixturevalue("redis_url")
        backend = RedisStore(url, prefix=f"test-{uuid.uuid4().hex}:", clock=clock)
    try:
        yield backend
    finally:
        await backend.aclose()


def item(item_id: str, seq: float, text: str = "") -> StoredItem:
    return StoredItem(item_id, seq, {"id": item_id, "type": "message", "content": [{"text": text or item_id}]})


def fact(fact_id: str, text: str, *, user: str = "ada", key: str | None = None, at: float = 0.0) -> Fact:
    return Fact(fact_id, user, text, key=key, source_item="i1", conversation="c1", created_at=at)


async def ids(store: ConversationStore, conversation_id: str) -> list[str]:
    return [i.id for i in await store.items(conversation_id)]


# -- conversations ---------------------------------------------------------------------------
async def test_create_get_update(store: ConversationStore, clock: Clock) -> None:
    record = ConversationRecord("c1", "ada", 10.0, 10.0, {"voice": "joe", "nested": {"a": [1, 2]}})
    await store.create(record)
    assert await store.get("c1") == record
    assert await store.get("nope") is None
    with pytest.raises(InvalidRequest, match="already exists"):
        await store.create(ConversationRecord("c1"))

    clock.now = 20.0
    await store.update("c1", summary="Ada asked about Rex.", summary_through="i3")
    got = await store.get("c1")
    assert got == ConversationRecord("c1", "ada", 10.0, 20.0, record.settings, "Ada asked about Rex.", "i3")
    clock.now = 30.0
    await store.update("c1", settings={"voice": "amy"})
    got = await store.get("c1")
    assert got is not None and got.settings == {"voice": "amy"} and got.summary == "Ada asked about Rex."
    assert got.updated_at == 30.0 and got.user == "ada"

    await store.update("nope", summary="x")  # an unknown conversation is left alone
    assert await store.get("nope") is None


async def test_create_fills_zero_times_and_copies_data(store: ConversationStore, clock: Clock) -> None:
    settings = {"voice": "joe"}
    await store.create(ConversationRecord("c1", settings=settings))
    settings["voice"] = "changed"
    got = await store.get("c1")
    assert got is not None
    assert (got.created_at, got.updated_at, got.user, got.settings) == (clock.now, clock.now, None, {"voice": "joe"})
    got.settings["voice"] = "mutated"
    again = await store.get("c1")
    assert again is not None and again.settings == {"voice": "joe"}


async def test_anonymous_conversation_gets_a_user(store: ConversationStore) -> None:
    await store.create(ConversationRecord("c1", None, 5.0, 5.0))
    await store.update("c1", user="ada")
    assert [c.id for c in await store.conversations("ada")] == ["c1"]
    await store.update("c1", user="bob")
    assert await store.conversations("ada") == []
    assert [c.id for c in await store.conversations("bob")] == ["c1"]
    assert await store.purge(now=10.0, anonymous_before=1e12) == 0  # no longer anonymous


async def test_conversations_newest_first_and_only_the_users(store: ConversationStore, clock: Clock) -> None:
    await store.create(ConversationRecord("old", "ada", 1.0, 1.0))
    await store.create(ConversationRecord("new", "ada", 2.0, 5.0))
    await store.create(ConversationRecord("mid", "ada", 3.0, 3.0))
    await store.create(ConversationRecord("bobs", "bob", 4.0, 9.0))
    await store.create(ConversationRecord("anon", None, 4.0, 9.0))
    assert [c.id for c in await store.conversations("ada")] == ["new", "mid", "old"]
    clock.now = 100.0
    await store.put_items("old", [item("i1", 1.0)])  # writing items counts as an update
    assert [c.id for c in await store.conversations("ada")] == ["old", "new", "mid"]
    assert [c.id for c in await store.conversations("nobody")] == []


# -- items -------------------------------------------------------------------------------------
async def test_items_upsert_and_order(store: ConversationStore, clock: Clock) -> None:
    await store.create(ConversationRecord("c1", "ada", 1.0, 1.0))
    await store.put_items("c1", [item("c", 3.0), item("a", 1.0), item("b", 2.0)])
    assert await ids(store, "c1") == ["a", "b", "c"]
    await store.put_items("c1", [item("x", 1.5)])  # an insert between two items
    assert await ids(store, "c1") == ["a", "x", "b", "c"]
    await store.put_items("c1", [item("b", 0.5, "edited")])  # replace by id: new seq and data
    got = await store.items("c1")
    assert [i.id for i in got] == ["b", "a", "x", "c"]
    assert got[0] == item("b", 0.5, "edited")
    assert len(got) == 4
    await store.put_items("c1", [item("z", 1.0)])  # equal seq: by id
    assert await ids(store, "c1") == ["b", "a", "z", "x", "c"]


async def test_delete_items(store: ConversationStore, clock: Clock) -> None:
    await store.create(ConversationRecord("c1", "ada", 1.0, 1.0))
    await store.put_items("c1", [item("a", 1.0), item("b", 2.0), item("c", 3.0)])
    clock.now = 50.0
    await store.delete_items("c1", ["b", "unknown"])
    assert await ids(store, "c1") == ["a", "c"]
    got = await store.get("c1")
    assert got is not None and got.updated_at == 50.0


async def test_items_stay_in_their_conversation(store: ConversationStore) -> None:
    await store.create(ConversationRecord("c1", "ada", 1.0, 1.0))
    await store.create(ConversationRecord("c2", "ada", 1.0, 1.0))
    await store.put_items("c1", [item("a", 1.0), item("shared", 2.0, "one")])
    await store.put_items("c2", [item("shared", 1.0, "two")])
    await store.delete_items("c2", ["a"])
    assert await ids(store, "c1") == ["a", "shared"]
    assert await store.items("c2") == [item("shared", 1.0, "two")]
    assert (await store.items("c1"))[1] == item("shared", 2.0, "one")
    await store.put_items("ghost", [item("a", 1.0)])  # no such conversation: ignored
    assert await store.items("ghost") == []
    assert await store.get("ghost") is None


async def test_delete_conversation(store: ConversationStore) -> None:
    now = time.time()
    await store.create(ConversationRecord("c1", "ada", 1.0, 1.0))
    await store.create(ConversationRecord("c2", "ada", 1.0, 1.0))
    await store.put_items("c1", [item("a", 1.0)])
    await store.put_items("c2", [item("a", 1.0)])
    await store.put_token("t1", "c1", now + 60)
    await store.put_token("t2", "c2", now + 60)
    await store.delete_conversation("c1")
    assert await store.get("c1") is None
    assert await store.items("c1") == []
    assert await store.token_conversation("t1", now) is None
    assert [c.id for c in await store.conversations("ada")] == ["c2"]
    assert await ids(store, "c2") == ["a"] and await store.token_conversation("t2", now) == "c2"
    await store.delete_conversation("c1")  # again: nothing to do


async def test_concurrent_writes(store: ConversationStore) -> None:
    await store.create(ConversationRecord("c1", "ada", 1.0, 1.0))
    await asyncio.gather(*(store.put_items("c1", [item(f"i{n:02d}", float(n))]) for n in range(50)))
    assert await ids(store, "c1") == [f"i{n:02d}" for n in range(50)]


# -- resume tokens -----------------------------------------------------------------------------
async def test_tokens(store: ConversationStore) -> None:
    now = time.time()  # Redis also expires token keys by its own clock
    await store.create(ConversationRecord("c1", "ada", 1.0, 1.0))
    await store.put_token("live", "c1", now + 600)
    await store.put_token("revoked", "c1", now + 600)
    assert await store.token_conversation("live", now) == "c1"
    assert await store.token_conversation("live", now + 601) is None  # expired
    assert await store.token_conversation("live", now + 600) is None  # expiry is exclusive
    assert await store.revoke_token("revoked") is True
    assert await store.revoke_token("revoked") is False
    assert await store.token_conversation("revoked", now) is None
    assert await store.token_conversation("unknown", now) is None
    assert await store.revoke_token("unknown") is False
    await store.put_token("revoked", "c1", now + 900)  # put again: a live token
    assert await store.token_conversation("revoked", now) == "c1"


# -- facts -------------------------------------------------------------------------------------
async def test_facts_add_order_and_key_replacement(store: ConversationStore, clock: Clock) -> None:
    await store.add_fact(fact("f2", "The user lives in Paris.", key="city", at=20.0))
    await store.add_fact(fact("f1", "The user's name is Ada.", key="name", at=10.0))
    await store.add_fact(fact("f3", "The user likes tea.", at=30.0))
    assert [f.id for f in await store.facts("ada")] == ["f1", "f2", "f3"]
    await store.add_fact(fact("f4", "The user lives in Lyon.", key="city", at=40.0))
    got = await store.facts("ada")
    assert [f.id for f in got] == ["f1", "f3", "f4"]
    assert got[2] == fact("f4", "The user lives in Lyon.", key="city", at=40.0)
    await store.add_fact(fact("f3", "The user likes green tea.", at=50.0))  # same id: replaced
    assert [f.text for f in await store.facts("ada")][-1] == "The user likes green tea."
    assert len(await store.facts("ada")) == 3
    clock.now = 60.0
    await store.add_fact(fact("f5", "The user plays chess."))  # created_at 0: now
    assert (await store.facts("ada"))[-1].created_at == 60.0


async def test_search_ranks_by_bm25(store: ConversationStore) -> None:
    await store.add_fact(fact("name", "The user's name is Ada.", key="name", at=1.0))
    await store.add_fact(fact("cat", "The user's cat is called Tom.", at=2.0))
    await store.add_fact(fact("dog", "The user's dog is called Rex.", at=3.0))
    await store.add_fact(fact("city", "The user lives in Paris.", key="city", at=4.0))
    await store.add_fact(fact("bob", "The user's dog is called Max.", user="bob", at=5.0))
    found = await store.search_facts("ada", "what is my dog called", limit=5)
    assert [f.id for f in found] == ["dog", "cat"]  # "cat" shares "called"; the others nothing
    assert [f.id for f in await store.search_facts("ada", "Tell me about my DOG!", limit=1)] == ["dog"]
    assert [f.id for f in await store.search_facts("ada", "Paris", limit=5)] == ["city"]
    assert await store.search_facts("ada", "what is my the a", limit=5) == []
    assert await store.search_facts("ada", "", limit=5) == []
    assert await store.search_facts("ada", "dog", limit=0) == []
    assert await store.search_facts("ada", "elephant", limit=5) == []
    assert [f.id for f in await store.search_facts("bob", "dog called", limit=5)] == ["bob"]
    assert await store.search_facts("carol", "dog", limit=5) == []
    # FTS5 syntax in a query is only words
    assert [f.id for f in await store.search_facts("ada", 'dog" OR NEAR(* AND) "^rex', limit=5)] == ["dog"]


async def test_delete_fact_only_for_its_user(store: ConversationStore) -> None:
    await store.add_fact(fact("f1", "The user's name is Ada.", at=1.0))
    await store.add_fact(fact("f1", "The user's name is Bob.", user="bob", at=1.0))  # ids are per user
    assert await store.delete_fact("bob", "f1") is True
    assert await store.delete_fact("bob", "f1") is False
    assert [f.text for f in await store.facts("ada")] == ["The user's name is Ada."]
    assert await store.search_facts("ada", "name", 5) != []
    assert await store.delete_fact("ada", "nope") is False


async def test_forget_user(store: ConversationStore) -> None:
    now = time.time()
    for user, conversation in [("ada", "a1"), ("ada", "a2"), ("bob", "b1")]:
        await store.create(ConversationRecord(conversation, user, 1.0, 1.0))
        await store.put_items(conversation, [item("i1", 1.0)])
        await store.put_token(f"t-{conversation}", conversation, now + 60)
    await store.add_fact(fact("f1", "The user's name is Ada.", at=1.0))
    await store.add_fact(fact("f2", "The user's dog is called Rex.", at=2.0))
    await store.add_fact(fact("f1", "The user's name is Bob.", user="bob", at=1.0))

    assert await store.forget_user("ada") == 4  # two facts, two conversations
    assert await store.facts("ada") == [] and await store.conversations("ada") == []
    assert await store.search_facts("ada", "dog", 5) == []
    for conversation in ("a1", "a2"):
        assert await store.get(conversation) is None and await store.items(conversation) == []
        assert await store.token_conversation(f"t-{conversation}", now) is None
    assert [f.id for f in await store.facts("bob")] == ["f1"]
    assert await ids(store, "b1") == ["i1"] and await store.token_conversation("t-b1", now) == "b1"
    assert await store.forget_user("ada") == 0


# -- housekeeping ------------------------------------------------------------------------------
async def test_purge(store: ConversationStore, clock: Clock) -> None:
    now = time.time()
    await store.create(ConversationRecord("anon-old", None, 100.0, 100.0))
    await store.create(ConversationRecord("anon-new", None, 100.0, 500.0))
    await store.create(ConversationRecord("ada-old", "ada", 100.0, 100.0))
    await store.create(ConversationRecord("anon-touched", None, 100.0, 100.0))
    clock.now = 100.0
    await store.put_items("anon-old", [item("i1", 1.0)])
    clock.now = 900.0
    await store.put_items("anon-touched", [item("i1", 1.0)])  # written to since: kept
    await store.put_token("old", "anon-old", now + 600)
    await store.put_token("expired", "ada-old", now + 10)
    await store.put_token("revoked", "ada-old", now + 600)
    await store.put_token("live", "ada-old", now + 600)
    await store.revoke_token("revoked")

    assert await store.purge(now=now + 20, anonymous_before=200.0) == 1
    assert await store.get("anon-old") is None and await store.items("anon-old") == []
    assert await store.token_conversation("old", now) is None
    assert await store.revoke_token("old") is False
    for kept in ("anon-new", "ada-old", "anon-touched"):
        assert await store.get(kept) is not None
    assert await store.revoke_token("expired") is False  # gone, not merely expired
    assert await store.token_conversation("live", now) == "ada-old"
    assert await store.token_conversation("revoked", now) is None
    assert await store.purge(now=now + 20, anonymous_before=200.0) == 0


# -- SQLite specifics --------------------------------------------------------------------------
async def test_sqlite_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "dir" / "voxloop.db"
    now = time.time()
    first = SQLiteStore(path)
    await first.create(ConversationRecord("c1", "ada", 1.0, 2.0, {"voice": "joe"}, "sum", "i2"))
    await first.put_items("c1", [item("i1", 1.0), item("i2", 2.0)])
    await first.put_token("t1", "c1", now + 60)
    await first.add_fact(fact("f1", "The user's dog is called Rex.", at=1.0))
    await first.aclose()
    await first.aclose()  # twice is fine
    with pytest.raises(RuntimeError, match="closed"):
        await first.get("c1")

    second = SQLiteStore(str(path))
    try:
        got = await second.get("c1")
        assert got is not None and got.settings == {"voice": "joe"} and got.summary_through == "i2"
        assert await ids(second, "c1") == ["i1", "i2"]
        assert await second.token_conversation("t1", now) == "c1"
        assert [f.id for f in await second.search_facts("ada", "my dog", 3)] == ["f1"]
    finally:
        await second.aclose()
    with contextlib.closing(sqlite3.connect(path)) as db:
        assert db.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert path.stat().st_mode & 0o077 == 0  # facts about users: readable by the owner only


async def test_sqlite_refuses_a_newer_schema(tmp_path: Path) -> None:
    path = tmp_path / "voxloop.db"
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        db.execute("INSERT INTO schema_version VALUES (?)", (SCHEMA_VERSION + 1,))
    store = SQLiteStore(path)
    try:
        with pytest.raises(VoxloopError, match="newer voxloop"):
            await store.get("c1")
    finally:
        await store.aclose()


async def test_sqlite_works_on_its_own_thread(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "voxloop.db")
    try:
        assert (await store._run(lambda db: threading.current_thread().name)).startswith("voxloop-store")
        # the event loop keeps running while the worker is busy
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.01)

        ticker = asyncio.create_task(tick())
        await store._run(lambda db: time.sleep(0.3))
        ticker.cancel()
        assert ticks >= 5
    finally:
        await store.aclose()


def test_fts_query_quotes_words() -> None:
    assert fts_query("What is my dog called?") == '"dog" OR "called"'
    assert fts_query('say "hi" OR NEAR(x*)') == '"say" OR "hi" OR "near" OR "x"'
    assert fts_query("what is the") is None
    assert fts_query("") is None


# -- ranking -----------------------------------------------------------------------------------
def test_tokenizer_and_stopwords() -> None:
    assert words("The user's Café, Ü-2!") == ["the", "user", "s", "cafe", "u", "2"]
    assert query_words("What is my dog's name? my DOG") == ["dog", "name"]
    assert query_words("what is my the a") == []


def test_bm25_prefers_rarer_terms_and_shorter_documents() -> None:
    docs = [words("the dog is called rex"), words("the cat is called tom"),
            words("a very long sentence that mentions a dog among many other words")]
    scores = bm25(["dog", "called"], docs)
    assert scores[0] > scores[2] > 0.0 and scores[0] > scores[1] > 0.0
    assert bm25(["zebra"], docs) == [0.0, 0.0, 0.0]
    assert bm25(["dog"], []) == []
    assert rank("dog called", ["x", "the dog is called rex", "called"], 5) == [1, 2]
    assert rank("the", ["the dog"], 5) == []


async def test_python_bm25_agrees_with_sqlite_fts5(tmp_path: Path) -> None:
    texts = ["The user's dog is called Rex.", "The user's cat is called Tom.", "The user lives in Paris.",
             "The user's sister lives in Paris and has a dog.", "The user is called Ada by friends.",
             "The user's favourite café is in Paris, near the river."]
    sqlite_store, memory = SQLiteStore(tmp_path / "v.db"), MemoryStore()
    try:
        for n, text in enumerate(texts):
            for s in (sqlite_store, memory):
                await s.add_fact(fact(f"f{n}", text, at=float(n + 1)))
        for query in ("my dog", "who lives in Paris", "what am I called", "cafe paris dog", "sister"):
            expected = [f.id for f in await sqlite_store.search_facts("ada", query, 10)]
            assert [f.id for f in await memory.search_facts("ada", query, 10)] == expected, query
    finally:
        await sqlite_store.aclose()
        await memory.aclose()


# -- choosing a store --------------------------------------------------------------------------
async def test_open_store(tmp_path: Path) -> None:
    opened = [open_store(f"sqlite:{tmp_path / 'a.db'}"), open_store(str(tmp_path / "b.sqlite")),
              open_store(str(tmp_path / "c.db")), open_store("memory")]
    assert [type(s).__name__ for s in opened] == ["SQLiteStore", "SQLiteStore", "SQLiteStore", "MemoryStore"]
    for s in opened:
        await s.aclose()
    for bad in ("postgres://x", "sqlite:", "store.txt", "", "http://x/y.db"):
        with pytest.raises(InvalidRequest, match="valid: 'sqlite:PATH'.*redis://.*'memory'"):
            open_store(bad)


def test_default_store_path() -> None:
    assert default_store_path({"XDG_DATA_HOME": "/data", "HOME": "/home/ada"}) == Path("/data/voxloop/voxloop.db")
    assert default_store_path({"HOME": "/home/ada"}) == Path("/home/ada/.local/share/voxloop/voxloop.db")
    assert default_store_path({"XDG_DATA_HOME": "relative", "HOME": "/h"}) == Path("/h/.local/share/voxloop/voxloop.db")
    assert default_store_path({}).name == "voxloop.db"
