"""The Redis store's own promises (the shared contract is in test_store.py): key layout, TTLs,
prefixes, and the message when the redis package is missing."""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from voxloop.errors import MissingDependency
from voxloop.store.base import ConversationRecord, Fact, StoredItem
from voxloop.store.open import open_store
from voxloop.store.redis import RedisStore


def test_a_missing_redis_package_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "redis.asyncio", None)  # import redis.asyncio now fails
    with pytest.raises(MissingDependency, match=r"pip install 'voxloop\[store-redis\]'"):
        RedisStore("redis://127.0.0.1:9/0")


@pytest.fixture
def prefix() -> str:
    return f"test-{uuid.uuid4().hex}:"


@pytest.fixture
async def store(redis_url: str, prefix: str) -> AsyncIterator[RedisStore]:
    s = RedisStore(redis_url, prefix=prefix)
    try:
        yield s
    finally:
        await s.aclose()


@pytest.fixture
async def raw(redis_url: str) -> AsyncIterator[Any]:
    import redis.asyncio

    client = redis.asyncio.Redis.from_url(redis_url, decode_responses=True)
    try:
        yield client
    finally:
        await client.aclose()


async def keys(raw: Any, prefix: str) -> set[str]:
    return {k.removeprefix(prefix) async for k in raw.scan_iter(match=f"{prefix}*")}


async def test_keys_live_under_the_prefix_and_go_with_their_data(store: RedisStore, raw: Any, prefix: str) -> None:
    now = time.time()
    await store.create(ConversationRecord("c1", "ada", 1.0, 2.0))
    await store.create(ConversationRecord("anon", None, 1.0, 3.0))
    assert await raw.zrange(f"{prefix}anonymous", 0, -1, withscores=True) == [("anon", 3.0)]
    await store.put_items("c1", [StoredItem("i1", 1.0, {"role": "user"})])
    await store.put_items("anon", [StoredItem("i1", 1.0, {"role": "user"})])
    await store.put_token("h1", "c1", now + 60)
    await store.put_token("h2", "anon", now + 60)
    await store.revoke_token("h2")
    await store.add_fact(Fact("f1", "ada", "The user's name is Ada.", key="name", created_at=1.0))
    assert await keys(raw, prefix) == {
        "conv:c1", "conv:anon", "items:c1", "items:anon", "itemdata:c1", "itemdata:anon",
        "convtokens:c1", "convtokens:anon", "user:ada", "anonymous", "token:h1", "token:h2",
        "revoked:h2", "tokens", "facts:ada"}

    assert await store.forget_user("ada") == 2
    assert await store.purge(now=now, anonymous_before=1e12) == 1
    assert await keys(raw, prefix) == set()


async def test_token_keys_expire_with_the_token(store: RedisStore, raw: Any, prefix: str) -> None:
    expires_at = time.time() + 100
    await store.put_token("h1", "c1", expires_at)
    await store.revoke_token("h1")
    for key in ("token:h1", "revoked:h1"):
        remaining = await raw.pttl(prefix + key)
        assert 95_000 < remaining <= 100_000, key
    await store.put_token("h2", "c1", time.time() - 1)  # already expired: Redis drops it at once
    assert await raw.exists(prefix + "token:h2") == 0
    assert await store.token_conversation("h2", time.time() - 10) is None


async def test_prefixes_do_not_mix(store: RedisStore, redis_url: str) -> None:
    other = RedisStore(redis_url, prefix=f"other-{uuid.uuid4().hex}:")
    try:
        await store.create(ConversationRecord("c1", "ada", 1.0, 1.0))
        await store.add_fact(Fact("f1", "ada", "The user's dog is called Rex.", created_at=1.0))
        assert await other.get("c1") is None
        assert await other.search_facts("ada", "dog", 5) == []
        await other.create(ConversationRecord("c1", "bob", 1.0, 1.0))  # same id, other prefix
        got = await store.get("c1")
        assert got is not None and got.user == "ada"
    finally:
        await other.aclose()


async def test_purge_rechecks_what_it_scanned(store: RedisStore, raw: Any, prefix: str) -> None:
    await store.create(ConversationRecord("c1", None, 1.0, 1.0))
    await raw.zadd(f"{prefix}anonymous", {"ghost": 1.0})  # a stale entry: no conversation behind it
    await raw.hset(f"{prefix}conv:c1", "updated_at", "500.0")  # updated, the set not yet
    assert await store.purge(now=time.time(), anonymous_before=100.0) == 0
    assert await store.get("c1") is not None
    assert await raw.zrange(f"{prefix}anonymous", 0, -1) == ["c1"]


async def test_open_store_opens_redis(redis_url: str) -> None:
    opened = open_store(redis_url)
    try:
        assert isinstance(opened, RedisStore)
        assert await opened.get(f"missing-{uuid.uuid4().hex}") is None
    finally:
        await opened.aclose()
