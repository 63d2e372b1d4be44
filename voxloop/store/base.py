"""What a conversation store keeps, and the interface every backend implements.

A store holds, per conversation: its items (ids, order, the JSON of each item as the session
keeps it), its rolling summary, its settings (the merged ``session.update`` payloads: persona,
preset, voice…), the user it belongs to, and the resume tokens that reach it; per user: the
facts the user stated, each with the item it came from. Nothing else — no audio, no text the
user did not say or hear (the session writes an assistant item only once it knows what was
played).

Backends: :mod:`voxloop.store.sqlite` (default: one file), :mod:`voxloop.store.redis` (several
server instances), :mod:`voxloop.store.memory` (``--no-store``: nothing on disk). Every method
is a coroutine; a backend never blocks the event loop.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = ["ConversationRecord", "ConversationStore", "Fact", "StoredItem", "changed_fields"]


@dataclass(frozen=True, slots=True)
class StoredItem:
    id: str
    seq: float  # order within the conversation (ascending); inserts between two items take a value between
    data: dict[str, Any]  # the item's fields as JSON (voxloop.dialogue.history.Item.to_dict)


@dataclass(frozen=True, slots=True)
class ConversationRecord:
    id: str  # the conversation's id, which is also the id of every session that continues it
    user: str | None = None  # whose memory it belongs to (None: anonymous)
    created_at: float = 0.0  # unix seconds
    updated_at: float = 0.0
    settings: dict[str, Any] = field(default_factory=dict)  # merged session.update "session" payloads
    summary: str = ""  # the rolling summary of the items up to ``summary_through``
    summary_through: str | None = None  # id of the last item the summary covers


@dataclass(frozen=True, slots=True)
class Fact:
    id: str
    user: str
    text: str  # one sentence about the user, as the model will read it: "The user's name is Ada."
    key: str | None = None  # "name", "city", …: a newer fact with the same key replaces the older one
    source_item: str | None = None  # the item the user said it in
    conversation: str | None = None
    created_at: float = 0.0


def changed_fields(settings: dict[str, Any] | None, summary: str | None,
                   summary_through: str | None) -> dict[str, str]:
    """An ``update``'s given fields as text columns (settings as JSON)."""
    out: dict[str, str] = {}
    if settings is not None:
        out["settings"] = json.dumps(settings)
    if summary is not None:
        out["summary"] = summary
    if summary_through is not None:
        out["summary_through"] = summary_through
    return out


class ConversationStore(Protocol):
    """The persistence interface (SQLite, Redis, memory). Ids and users are opaque strings.

    Updates and item writes to a conversation that does not exist (any more) are ignored: a
    session may still be writing when its user is forgotten.
    """

    # -- conversations -----------------------------------------------------------------
    async def create(self, record: ConversationRecord) -> None:
        """Add a new conversation (its id is new: else ``InvalidRequest``). A ``created_at`` of
        0 becomes now; an ``updated_at`` of 0 becomes ``created_at``."""

    async def get(self, conversation_id: str) -> ConversationRecord | None: ...

    async def update(self, conversation_id: str, *, user: str | None = None,
                     settings: dict[str, Any] | None = None, summary: str | None = None,
                     summary_through: str | None = None) -> None:
        """Change the given fields (``None`` leaves a field as it is) and ``updated_at``."""

    async def put_items(self, conversation_id: str, items: Sequence[StoredItem]) -> None:
        """Insert or replace items (by id); sets ``updated_at``."""

    async def delete_items(self, conversation_id: str, item_ids: Sequence[str]) -> None:
        """Remove the items (unknown ids are skipped); sets ``updated_at``."""

    async def items(self, conversation_id: str) -> list[StoredItem]:
        """Every item of the conversation, in ``seq`` order (equal ``seq``: by id)."""

    async def delete_conversation(self, conversation_id: str) -> None:
        """The conversation, its items and its tokens."""

    async def conversations(self, user: str) -> list[ConversationRecord]:
        """The user's conversations, newest ``updated_at`` first."""

    # -- resume tokens (stored by hash: a leaked database does not leak live tokens) ----
    async def put_token(self, token_hash: str, conversation_id: str, expires_at: float) -> None: ...

    async def token_conversation(self, token_hash: str, now: float) -> str | None:
        """The conversation a live token reaches; ``None`` if unknown, revoked or expired."""

    async def revoke_token(self, token_hash: str) -> bool:
        """Whether a known, not yet revoked token was revoked now."""

    # -- long-term facts about users ----------------------------------------------------
    async def add_fact(self, fact: Fact) -> None:
        """Store a fact; if ``fact.key`` is set, the user's older fact with that key goes.
        Fact ids are per user (the same id replaces); a ``created_at`` of 0 becomes now."""

    async def facts(self, user: str) -> list[Fact]:
        """Every fact of the user, oldest first (equal ``created_at``: by id)."""

    async def search_facts(self, user: str, query: str, limit: int) -> list[Fact]:
        """The user's facts most relevant to ``query`` (BM25 ranking; no embedding model),
        best first; facts sharing no word with the query (stopwords aside) are not returned."""

    async def delete_fact(self, user: str, fact_id: str) -> bool:
        """Whether the user had that fact (another user's fact is never touched)."""

    async def forget_user(self, user: str) -> int:
        """Delete the user's facts and conversations (with their items and tokens); returns
        how many facts and conversations went."""

    # -- housekeeping ---------------------------------------------------------------------
    async def purge(self, now: float, anonymous_before: float) -> int:
        """Drop expired tokens (SQLite and memory: revoked ones too; Redis lets those expire),
        and anonymous conversations not updated since ``anonymous_before`` (with their items
        and tokens); returns how many conversations went."""

    async def aclose(self) -> None:
        """Release the connection or file; the store is unusable afterwards."""
