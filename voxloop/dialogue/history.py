"""Conversation history: instructions, ordered items, a token budget, truncation."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from voxloop.engines.types import ChatMessage

__all__ = ["Conversation", "Item"]

Role = Literal["user", "assistant", "system"]
_ids = itertools.count(1)


def new_item_id(prefix: str = "item") -> str:
    return f"{prefix}_{next(_ids):06d}"


@dataclass(slots=True)
class Item:
    role: Role
    text: str
    id: str = field(default_factory=new_item_id)
    status: Literal["in_progress", "completed", "incomplete"] = "completed"
    audio: bool = False  # spoken (user audio in / assistant audio out) rather than typed text


class Conversation:
    """Ordered items plus a system prompt. ``messages`` fits them into a token budget,
    dropping the oldest turns first and always keeping the instructions."""

    def __init__(self, instructions: str = "", *, max_items: int = 200) -> None:
        self.instructions = instructions
        self.items: list[Item] = []
        self._max_items = max_items

    def add(self, role: Role, text: str, *, item_id: str | None = None,
            status: Literal["in_progress", "completed", "incomplete"] = "completed", audio: bool = False,
            after: str | None = None, first: bool = False) -> Item:
        """Append an item, or insert it after the item ``after`` (or at the start if ``first``).
        Raises ``KeyError`` if ``after`` names no item."""
        item = Item(role, text, id=item_id or new_item_id(), status=status, audio=audio)
        if first:
            self.items.insert(0, item)
        elif after is not None:
            self.items.insert(self._index(after) + 1, item)
        else:
            self.items.append(item)
        if len(self.items) > self._max_items:
            del self.items[: len(self.items) - self._max_items]
        return item

    def _index(self, item_id: str) -> int:
        for i, item in enumerate(self.items):
            if item.id == item_id:
                return i
        raise KeyError(item_id)

    def previous_id(self, item_id: str) -> str | None:
        """The id of the item just before ``item_id`` (``None`` if it is first or unknown)."""
        try:
            i = self._index(item_id)
        except KeyError:
            return None
        return self.items[i - 1].id if i > 0 else None

    @property
    def last_id(self) -> str | None:
        return self.items[-1].id if self.items else None

    def get(self, item_id: str) -> Item | None:
        return next((i for i in self.items if i.id == item_id), None)

    def remove(self, item_id: str) -> bool:
        before = len(self.items)
        self.items = [i for i in self.items if i.id != item_id]
        return len(self.items) != before

    def truncate(self, item_id: str, text: str) -> bool:
        """Keep only ``text`` of an item (what the user actually heard)."""
        item = self.get(item_id)
        if item is None:
            return False
        item.text = text
        item.status = "incomplete"
        return True

    def clear(self) -> None:
        self.items.clear()

    def messages(self, budget_tokens: int, count_tokens: Callable[[str], int]) -> list[ChatMessage]:
        """System prompt + the newest items that fit in ``budget_tokens``."""
        out: list[ChatMessage] = []
        used = 0
        if self.instructions:
            used += count_tokens(self.instructions) + 4
        for item in reversed(self.items):
            if not item.text.strip():
                continue
            cost = count_tokens(item.text) + 4
            if out and used + cost > budget_tokens:
                break
            used += cost
            out.append(ChatMessage(item.role, item.text))
        out.reverse()
        # a chat must not start with an assistant turn for small instruct models
        while out and out[0].role == "assistant":
            out.pop(0)
        if self.instructions:
            out.insert(0, ChatMessage("system", self.instructions))
        return out
