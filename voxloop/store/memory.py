"""A store in dicts (``--no-store``: nothing on disk; and tests). Gone when the process ends.

Item data and settings go through JSON, as in the other backends, so a caller never shares a
dict with the store.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from voxloop.errors import InvalidRequest
from voxloop.store.base import ConversationRecord, Fact, StoredItem
from voxloop.store.rank import rank

__all__ = ["MemoryStore"]


def _copy(data: dict[str, Any]) -> dict[str, Any]:
    copied: dict[str, Any] = json.loads(json.dumps(data))
    return copied


@dataclass(slots=True)
class _Token:
    conversation_id: str
    expires_at: float
    revoked: bool = False


class MemoryStore:
    """:class:`~voxloop.store.base.ConversationStore` in memory; ``clock`` gives unix seconds."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._conversations: dict[str, ConversationRecord] = {}
        self._items: dict[str, dict[str, tuple[float, str]]] = {}  # conversation → id → (seq, JSON)
        self._tokens: dict[str, _Token] = {}
        self._facts: dict[str, dict[str, Fact]] = {}  # user → fact id → fact

    # -- conversations -----------------------------------------------------------------
    async def create(self, record: ConversationRecord) -> None:
        if record.id in self._conversations:
            raise InvalidRequest(f"conversation {record.id!r} already exists", code="conversation_exists")
        created = record.created_at or self._clock()
        self._conversations[record.id] = dataclasses.replace(
            record, created_at=created, updated_at=record.updated_at or created,
            settings=_copy(record.settings))
        self._items[record.id] = {}

    async def get(self, conversation_id: str) -> ConversationRecord | None:
        record = self._conversations.get(conversation_id)
        return None if record is None else dataclasses.replace(record, settings=_copy(record.settings))

    async def update(self, conversation_id: str, *, user: str | None = None,
                     settings: dict[str, Any] | None = None, summary: str | None = None,
                     summary_through: str | None = None) -> None:
        record = self._conversations.get(conversation_id)
        if record is None:
            return
        self._conversations[conversation_id] = dataclasses.replace(
            record, updated_at=self._clock(),
            user=record.user if user is None else user,
            settings=record.settings if settings is None else _copy(settings),
            summary=record.summary if summary is None else summary,
            summary_through=record.summary_through if summary_through is None else summary_through)

    def _touch(self, conversation_id: str) -> dict[str, tuple[float, str]] | None:
        record = self._conversations.get(conversation_id)
        if record is None:
            return None
        self._conversations[conversation_id] = dataclasses.replace(record, updated_at=self._clock())
        return self._items[conversation_id]

    async def put_items(self, conversation_id: str, items: Sequence[StoredItem]) -> None:
        encoded = [(item.id, item.seq, json.dumps(item.data)) for item in items]
        stored = self._touch(conversation_id)
        if stored is not None:
            stored.update((item_id, (seq, data)) for item_id, seq, data in encoded)

    async def delete_items(self, conversation_id: str, item_ids: Sequence[str]) -> None:
        stored = self._touch(conversation_id)
        if stored is not None:
            for item_id in item_ids:
                stored.pop(item_id, None)

    async def items(self, conversation_id: str) -> list[StoredItem]:
        stored = self._items.get(conversation_id, {})
        ordered = sorted(stored.items(), key=lambda kv: (kv[1][0], kv[0]))
        return [StoredItem(item_id, seq, json.loads(data)) for item_id, (seq, data) in ordered]

    async def delete_conversation(self, conversation_id: str) -> None:
        self._conversations.pop(conversation_id, None)
        self._items.pop(conversation_id, None)
        for token_hash in [h for h, t in self._tokens.items() if t.conversation_id == conversation_id]:
            del self._tokens[token_hash]

    async def conversations(self, user: str) -> list[ConversationRecord]:
        mine = [r for r in self._conversations.values() if r.user == user]
        mine.sort(key=lambda r: (-r.updated_at, r.id))
        return [dataclasses.replace(r, settings=_copy(r.settings)) for r in mine]

    # -- resume tokens -------------------------------------------------------------------
    async def put_token(self, token_hash: str, conversation_id: str, expires_at: float) -> None:
        self._tokens[token_hash] = _Token(conversation_id, expires_at)

    async def token_conversation(self, token_hash: str, now: float) -> str | None:
        token = self._tokens.get(token_hash)
        if token is None or token.revoked or token.expires_at <= now:
            return None
        return token.conversation_id

    async def revoke_token(self, token_hash: str) -> bool:
        token = self._tokens.get(token_hash)
        if token is None or token.revoked:
            return False
        token.revoked = True
        return True

    # -- facts -------------------------------------------------------------------------------
    async def add_fact(self, fact: Fact) -> None:
        if not fact.created_at:
            fact = dataclasses.replace(fact, created_at=self._clock())
        mine = self._facts.setdefault(fact.user, {})
        if fact.key is not None:
            for old in [f.id for f in mine.values() if f.key == fact.key]:
                del mine[old]
        mine[fact.id] = fact

    async def facts(self, user: str) -> list[Fact]:
        return sorted(self._facts.get(user, {}).values(), key=lambda f: (f.created_at, f.id))

    async def search_facts(self, user: str, query: str, limit: int) -> list[Fact]:
        mine = await self.facts(user)
        return [mine[i] for i in rank(query, [f.text for f in mine], limit)]

    async def delete_fact(self, user: str, fact_id: str) -> bool:
        return self._facts.get(user, {}).pop(fact_id, None) is not None

    async def forget_user(self, user: str) -> int:
        gone = len(self._facts.pop(user, {}))
        for conversation_id in [r.id for r in self._conversations.values() if r.user == user]:
            await self.delete_conversation(conversation_id)
            gone += 1
        return gone

    # -- housekeeping ------------------------------------------------------------------------
    async def purge(self, now: float, anonymous_before: float) -> int:
        for token_hash in [h for h, t in self._tokens.items() if t.revoked or t.expires_at <= now]:
            del self._tokens[token_hash]
        stale = [r.id for r in self._conversations.values()
                 if r.user is None and r.updated_at < anonymous_before]
        for conversation_id in stale:
            await self.delete_conversation(conversation_id)
        return len(stale)

    async def aclose(self) -> None:
        self._conversations.clear()
        self._items.clear()
        self._tokens.clear()
        self._facts.clear()
