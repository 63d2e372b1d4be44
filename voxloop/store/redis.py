"""A store in Redis, for several server instances sharing one memory (``redis://…``).

Keys, all under ``prefix``::

    conv:<id>        hash    user, created_at, updated_at, settings (JSON), summary, summary_through
    items:<id>       zset    item id → seq
    itemdata:<id>    hash    item id → item JSON
    convtokens:<id>  set     token hashes reaching the conversation
    user:<user>      set     the user's conversation ids
    anonymous        zset    anonymous conversation id → updated_at (what purge scans)
    token:<hash>     string  {"conversation", "expires_at"}, expiring at expires_at (PXAT)
    revoked:<hash>   string  marker of a revoked token, expiring with it
    tokens           zset    JSON [hash, conversation id] → expires_at (what purge scans)
    facts:<user>     hash    fact id → fact JSON

Multi-key changes run in MULTI/EXEC under WATCH, or as a Lua script for the item writes
(many concurrent writers on one conversation). Facts are ranked in Python
(:func:`voxloop.store.rank.rank`).
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, cast

from voxloop.errors import InvalidRequest, MissingDependency
from voxloop.store.base import ConversationRecord, Fact, StoredItem, changed_fields
from voxloop.store.rank import rank

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.asyncio.client import Pipeline
    from redis.typing import EncodableT, FieldT

__all__ = ["RedisStore"]

# KEYS: conversation hash, anonymous zset, item zset, item data hash.
# ARGV: now, conversation id, then (item id, seq, item JSON) per item.
_PUT_ITEMS = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'updated_at', ARGV[1])
if redis.call('HEXISTS', KEYS[1], 'user') == 0 then redis.call('ZADD', KEYS[2], ARGV[1], ARGV[2]) end
for i = 3, #ARGV, 3 do
  redis.call('ZADD', KEYS[3], ARGV[i + 1], ARGV[i])
  redis.call('HSET', KEYS[4], ARGV[i], ARGV[i + 2])
end
return 1
"""
# KEYS as above; ARGV: now, conversation id, then the item ids.
_DELETE_ITEMS = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'updated_at', ARGV[1])
if redis.call('HEXISTS', KEYS[1], 'user') == 0 then redis.call('ZADD', KEYS[2], ARGV[1], ARGV[2]) end
for i = 3, #ARGV do
  redis.call('ZREM', KEYS[3], ARGV[i])
  redis.call('HDEL', KEYS[4], ARGV[i])
end
return 1
"""


def _record(conversation_id: str, h: dict[str, str]) -> ConversationRecord:
    settings: dict[str, Any] = json.loads(h["settings"])
    return ConversationRecord(conversation_id, h.get("user"), float(h["created_at"]),
                              float(h["updated_at"]), settings, h["summary"], h.get("summary_through"))


def _fact(raw: str) -> Fact:
    d: dict[str, Any] = json.loads(raw)
    return Fact(str(d["id"]), str(d["user"]), str(d["text"]), d.get("key"), d.get("source_item"),
                d.get("conversation"), float(d["created_at"]))


def _pxat(expires_at: float) -> int | None:
    """Unix milliseconds for PXAT (at least 1: Redis refuses 0); ``None`` for no expiry."""
    return max(1, int(expires_at * 1000)) if math.isfinite(expires_at) else None


def _member(token_hash: str, conversation_id: str) -> str:
    return json.dumps([token_hash, conversation_id])


def _multi(pipe: Pipeline) -> None:
    """End the WATCH reads of a transaction: the commands after this are queued."""
    cast(Any, pipe).multi()  # untyped in some redis-py releases


class RedisStore:
    """:class:`~voxloop.store.base.ConversationStore` in Redis (``redis://host:port/db``)."""

    def __init__(self, url: str, prefix: str = "voxloop:", *,
                 clock: Callable[[], float] = time.time) -> None:
        try:
            import redis.asyncio
        except ImportError as e:
            raise MissingDependency(
                "the Redis store needs the redis package: pip install 'voxloop[store-redis]'") from e
        self._r: Redis = redis.asyncio.Redis.from_url(url, decode_responses=True)
        self._p = prefix
        self._clock = clock
        self._put_items = self._r.register_script(_PUT_ITEMS)
        self._delete_items = self._r.register_script(_DELETE_ITEMS)

    def _k(self, kind: str, name: str | None = None) -> str:
        return f"{self._p}{kind}" if name is None else f"{self._p}{kind}:{name}"

    def _item_keys(self, conversation_id: str) -> list[str]:
        return [self._k("conv", conversation_id), self._k("anonymous"),
                self._k("items", conversation_id), self._k("itemdata", conversation_id)]

    # -- conversations -----------------------------------------------------------------
    async def create(self, record: ConversationRecord) -> None:
        key = self._k("conv", record.id)
        created = record.created_at or self._clock()
        updated = record.updated_at or created
        fields: dict[FieldT, EncodableT] = {
            "created_at": repr(created), "updated_at": repr(updated),
            "settings": json.dumps(record.settings), "summary": record.summary}
        if record.user is not None:
            fields["user"] = record.user
        if record.summary_through is not None:
            fields["summary_through"] = record.summary_through

        async def tx(pipe: Pipeline) -> None:
            if await pipe.exists(key):
                raise InvalidRequest(f"conversation {record.id!r} already exists", code="conversation_exists")
            _multi(pipe)
            pipe.hset(key, mapping=fields)
            if record.user is None:
                pipe.zadd(self._k("anonymous"), {record.id: updated})
            else:
                pipe.sadd(self._k("user", record.user), record.id)
        await self._r.transaction(tx, key)

    async def get(self, conversation_id: str) -> ConversationRecord | None:
        h = cast("dict[str, str]", await self._r.hgetall(self._k("conv", conversation_id)))
        return _record(conversation_id, h) if h else None

    async def update(self, conversation_id: str, *, user: str | None = None,
                     settings: dict[str, Any] | None = None, summary: str | None = None,
                     summary_through: str | None = None) -> None:
        key = self._k("conv", conversation_id)
        now = self._clock()
        changes: dict[FieldT, EncodableT] = {"updated_at": repr(now)}
        changes.update(changed_fields(settings, summary, summary_through))

        async def tx(pipe: Pipeline) -> None:
            if not await pipe.exists(key):
                return
            old = cast("str | None", await pipe.hget(key, "user"))
            new = old if user is None else user
            fields = dict(changes)
            if new is not None:
                fields["user"] = new
            _multi(pipe)
            pipe.hset(key, mapping=fields)
            if new is None:
                pipe.zadd(self._k("anonymous"), {conversation_id: now})
            elif old != new:
                if old is None:
                    pipe.zrem(self._k("anonymous"), conversation_id)
                else:
                    pipe.srem(self._k("user", old), conversation_id)
                pipe.sadd(self._k("user", new), conversation_id)
        await self._r.transaction(tx, key)

    async def put_items(self, conversation_id: str, items: Sequence[StoredItem]) -> None:
        args: list[str] = [repr(self._clock()), conversation_id]
        for item in items:
            args += [item.id, repr(item.seq), json.dumps(item.data)]
        await self._put_items(keys=self._item_keys(conversation_id), args=args)

    async def delete_items(self, conversation_id: str, item_ids: Sequence[str]) -> None:
        args = [repr(self._clock()), conversation_id, *item_ids]
        await self._delete_items(keys=self._item_keys(conversation_id), args=args)

    async def items(self, conversation_id: str) -> list[StoredItem]:
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.zrange(self._k("items", conversation_id), 0, -1, withscores=True)
            pipe.hgetall(self._k("itemdata", conversation_id))
            order, data = await pipe.execute()
        return [StoredItem(str(item_id), float(seq), json.loads(data[item_id]))
                for item_id, seq in order if item_id in data]

    async def delete_conversation(self, conversation_id: str) -> None:
        await self._delete(conversation_id)

    async def _delete(self, conversation_id: str,
                      still: Callable[[dict[str, str]], bool] | None = None) -> bool:
        """Delete a conversation with its items and tokens, if ``still(its hash)`` holds once it
        is watched (what was scanned may have changed). Whether it went."""
        key, tokens_key = self._k("conv", conversation_id), self._k("convtokens", conversation_id)

        async def tx(pipe: Pipeline) -> bool:
            h = cast("dict[str, str]", await pipe.hgetall(key))
            if h and still is not None and not still(h):
                return False
            tokens = cast("set[str]", await pipe.smembers(tokens_key))
            _multi(pipe)
            pipe.delete(key, tokens_key, self._k("items", conversation_id),
                        self._k("itemdata", conversation_id))
            for token_hash in tokens:
                pipe.delete(self._k("token", token_hash), self._k("revoked", token_hash))
                pipe.zrem(self._k("tokens"), _member(token_hash, conversation_id))
            if "user" in h:
                pipe.srem(self._k("user", h["user"]), conversation_id)
            else:
                pipe.zrem(self._k("anonymous"), conversation_id)
            return bool(h)
        gone: bool = await self._r.transaction(tx, key, tokens_key, value_from_callable=True)
        return gone

    async def conversations(self, user: str) -> list[ConversationRecord]:
        ids = sorted(cast("set[str]", await self._r.smembers(self._k("user", user))))
        async with self._r.pipeline(transaction=False) as pipe:
            for conversation_id in ids:
                pipe.hgetall(self._k("conv", conversation_id))
            hashes: list[dict[str, str]] = await pipe.execute()
        records = [_record(i, h) for i, h in zip(ids, hashes, strict=True) if h.get("user") == user]
        records.sort(key=lambda r: (-r.updated_at, r.id))
        return records

    # -- resume tokens -------------------------------------------------------------------
    async def put_token(self, token_hash: str, conversation_id: str, expires_at: float) -> None:
        key = self._k("token", token_hash)
        value = json.dumps({"conversation": conversation_id, "expires_at": expires_at})

        async def tx(pipe: Pipeline) -> None:
            old = cast("str | None", await pipe.get(key))
            _multi(pipe)
            if old is not None:
                old_conversation = str(json.loads(old)["conversation"])
                pipe.zrem(self._k("tokens"), _member(token_hash, old_conversation))
                pipe.srem(self._k("convtokens", old_conversation), token_hash)
            pipe.set(key, value, pxat=_pxat(expires_at))
            pipe.delete(self._k("revoked", token_hash))
            pipe.zadd(self._k("tokens"), {_member(token_hash, conversation_id): expires_at})
            pipe.sadd(self._k("convtokens", conversation_id), token_hash)
        await self._r.transaction(tx, key)

    async def token_conversation(self, token_hash: str, now: float) -> str | None:
        raw, revoked = cast("list[str | None]", await self._r.mget(
            self._k("token", token_hash), self._k("revoked", token_hash)))
        if raw is None or revoked is not None:
            return None
        token: dict[str, Any] = json.loads(raw)
        return str(token["conversation"]) if float(token["expires_at"]) > now else None

    async def revoke_token(self, token_hash: str) -> bool:
        raw = cast("str | None", await self._r.get(self._k("token", token_hash)))
        if raw is None:
            return False
        expires_at = float(json.loads(raw)["expires_at"])
        marked = await self._r.set(self._k("revoked", token_hash), "1", nx=True, pxat=_pxat(expires_at))
        return bool(marked)

    # -- facts -------------------------------------------------------------------------------
    async def add_fact(self, fact: Fact) -> None:
        if not fact.created_at:
            fact = dataclasses.replace(fact, created_at=self._clock())
        key, value = self._k("facts", fact.user), json.dumps(dataclasses.asdict(fact))
        if fact.key is None:
            await self._r.hset(key, fact.id, value)
            return

        async def tx(pipe: Pipeline) -> None:
            stored = cast("dict[str, str]", await pipe.hgetall(key))
            older = [i for i, raw in stored.items() if i != fact.id and _fact(raw).key == fact.key]
            _multi(pipe)
            if older:
                pipe.hdel(key, *older)
            pipe.hset(key, fact.id, value)
        await self._r.transaction(tx, key)

    async def facts(self, user: str) -> list[Fact]:
        stored = cast("dict[str, str]", await self._r.hgetall(self._k("facts", user)))
        return sorted((_fact(raw) for raw in stored.values()), key=lambda f: (f.created_at, f.id))

    async def search_facts(self, user: str, query: str, limit: int) -> list[Fact]:
        mine = await self.facts(user)
        return [mine[i] for i in rank(query, [f.text for f in mine], limit)]

    async def delete_fact(self, user: str, fact_id: str) -> bool:
        return bool(await self._r.hdel(self._k("facts", user), fact_id))

    async def forget_user(self, user: str) -> int:
        gone = 0
        for conversation_id in cast("set[str]", await self._r.smembers(self._k("user", user))):
            gone += await self._delete(conversation_id, lambda h: h.get("user") == user)
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.hlen(self._k("facts", user))
            pipe.delete(self._k("facts", user), self._k("user", user))
            facts, _ = await pipe.execute()
        return gone + int(facts)

    # -- housekeeping ------------------------------------------------------------------------
    async def purge(self, now: float, anonymous_before: float) -> int:
        gone = 0
        stale = cast("list[str]", await self._r.zrangebyscore(
            self._k("anonymous"), "-inf", f"({anonymous_before!r}"))
        for conversation_id in stale:
            gone += await self._delete(conversation_id, lambda h: "user" not in h and
                                       float(h["updated_at"]) < anonymous_before)
        expired = cast("list[str]", await self._r.zrangebyscore(self._k("tokens"), "-inf", repr(now)))
        async with self._r.pipeline(transaction=True) as pipe:
            for member in expired:
                token_hash, conversation_id = json.loads(member)
                pipe.delete(self._k("token", token_hash), self._k("revoked", token_hash))
                pipe.srem(self._k("convtokens", conversation_id), token_hash)
                pipe.zrem(self._k("tokens"), member)
            await pipe.execute()
        return gone

    async def aclose(self) -> None:
        await self._r.aclose()
