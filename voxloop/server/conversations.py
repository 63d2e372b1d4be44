"""The server's conversations: the store, resume tokens, and which connection holds each one.

A conversation outlives its connection. ``session.created`` carries a resume token (random, 256
bits; the store keeps only its SHA-256, with an expiry that each connection renews); connecting
with ``/v1/realtime?resume=TOKEN`` continues that conversation — items, summary, settings — from
any client. One connection holds a conversation at a time: a newer one takes over, the older
gets an ``error`` (``session_taken_over``) and is closed, and its writes are flushed before the
newer one reads the conversation.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from voxloop.dialogue.history import Item
from voxloop.errors import InvalidRequest
from voxloop.store.base import ConversationRecord, ConversationStore
from voxloop.store.presence import RedisPresence

__all__ = ["Conversations", "Holder", "Resumed", "token_hash"]

logger = logging.getLogger(__name__)
PURGE_EVERY_S = 3600.0


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class InvalidResumeToken(InvalidRequest):
    code = "invalid_resume_token"
    http_status = 404


@dataclass
class Holder:
    """A live connection holding a conversation: ``take_over`` tells it to go; ``done`` is set
    once its session has ended and its writes are in the store."""

    take_over: Callable[[], Awaitable[None]]
    done: asyncio.Event


@dataclass(frozen=True, slots=True)
class Resumed:
    record: ConversationRecord
    items: list[Item]


class Conversations:
    def __init__(self, store: ConversationStore, *, resume_ttl_s: float, anonymous_ttl_s: float,
                 presence: RedisPresence | None = None) -> None:
        self.store = store
        self.presence = presence  # several instances: who holds what, across them
        self.resume_ttl_s = resume_ttl_s
        self.anonymous_ttl_s = anonymous_ttl_s
        self._live: dict[str, Holder] = {}

    async def start(self, conversation_id: str) -> tuple[str, float]:
        """A new conversation; returns its resume token and when it expires."""
        now = time.time()
        await self.store.create(ConversationRecord(conversation_id, created_at=now, updated_at=now))
        token = secrets.token_urlsafe(32)
        return token, await self._renew(token, conversation_id)

    async def _renew(self, token: str, conversation_id: str) -> float:
        expires = time.time() + self.resume_ttl_s
        await self.store.put_token(token_hash(token), conversation_id, expires)
        return expires

    async def find(self, token: str) -> str:
        """The conversation a token reaches, or a clear error."""
        found = await self.store.token_conversation(token_hash(token), time.time()) if token else None
        if found is None or await self.store.get(found) is None:
            raise InvalidResumeToken("the resume token is unknown, expired or revoked; start a new session",
                                     param="resume")
        return found

    async def resume(self, token: str, holder: Holder) -> tuple[Resumed, float]:
        """Take the conversation over from whoever holds it, then read it back."""
        conversation_id = await self.find(token)
        await self.hold(conversation_id, holder)
        record = await self.store.get(conversation_id)
        if record is None:  # deleted (forgotten) while we waited
            await self.release(conversation_id, holder)
            raise InvalidResumeToken("the conversation was deleted", param="resume")
        items = [Item.from_dict(i.data, i.seq) for i in await self.store.items(conversation_id)]
        return Resumed(record, items), await self._renew(token, conversation_id)

    async def hold(self, conversation_id: str, holder: Holder) -> None:
        previous = self._live.get(conversation_id)
        self._live[conversation_id] = holder
        if previous is not None and previous is not holder:
            logger.info("conversation %s: a newer connection takes over", conversation_id)
            with contextlib.suppress(Exception):
                await previous.take_over()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(previous.done.wait(), 10.0)
        if self.presence is not None:
            await self.presence.claim(conversation_id, holder.take_over)

    async def release(self, conversation_id: str, holder: Holder) -> None:
        if self._live.get(conversation_id) is holder:
            del self._live[conversation_id]
            if self.presence is not None:
                await self.presence.release(conversation_id)

    async def aclose(self) -> None:
        if self.presence is not None:
            await self.presence.aclose()
        await self.store.aclose()

    async def revoke(self, token: str) -> bool:
        return await self.store.revoke_token(token_hash(token))

    async def purge_forever(self) -> None:
        """Background: drop expired tokens and stale anonymous conversations, hourly."""
        while True:
            try:
                now = time.time()
                gone = await self.store.purge(now, now - self.anonymous_ttl_s)
                if gone:
                    logger.info("purged %d expired anonymous conversations", gone)
            except Exception:
                logger.exception("store purge failed")
            await asyncio.sleep(PURGE_EVERY_S)
