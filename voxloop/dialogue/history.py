"""Conversation history: instructions, ordered items, a token budget, truncation."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from voxloop.engines.types import ChatMessage, ToolCall

__all__ = ["TRIM_TO", "Conversation", "Item"]

Role = Literal["user", "assistant", "system"]
Kind = Literal["message", "function_call", "function_call_output"]
TRIM_TO = 0.5  # a history over its token budget is cut to this share of it (``messages``)
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
    # function calls (the model's: role assistant) and their outputs (role user/tool side)
    type: Kind = "message"
    call_id: str = ""
    name: str = ""  # the function's name
    arguments: str = ""  # function_call: JSON text; function_call_output: the ``output`` is ``text``

    @property
    def blank(self) -> bool:
        return self.type == "message" and not self.text.strip()

    def chat_message(self) -> ChatMessage:
        if self.type == "function_call":
            return ChatMessage("assistant", "", tool_calls=(ToolCall(self.call_id, self.name, self.arguments),))
        if self.type == "function_call_output":
            return ChatMessage("tool", self.text, tool_call_id=self.call_id, name=self.name or None)
        return ChatMessage(self.role, self.text)


class Conversation:
    """Ordered items plus a system prompt. ``messages`` fits them into a token budget,
    dropping the oldest turns first and always keeping the instructions."""

    def __init__(self, instructions: str = "", *, max_items: int = 200) -> None:
        self.instructions = instructions
        self.items: list[Item] = []
        self._max_items = max_items
        self._window: str | None = None  # the first item ``messages`` shows (see there)

    def add(self, role: Role, text: str, *, item_id: str | None = None,
            status: Literal["in_progress", "completed", "incomplete"] = "completed", audio: bool = False,
            after: str | None = None, first: bool = False) -> Item:
        """Append an item, or insert it after the item ``after`` (or at the start if ``first``).
        Raises ``KeyError`` if ``after`` names no item."""
        return self.insert(Item(role, text, id=item_id or new_item_id(), status=status, audio=audio),
                           after=after, first=first)

    def insert(self, item: Item, *, after: str | None = None, first: bool = False) -> Item:
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

    def call(self, call_id: str) -> Item | None:
        """The function_call item with this ``call_id`` (the newest, if ids repeat)."""
        return next((i for i in reversed(self.items) if i.type == "function_call" and i.call_id == call_id), None)

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
        """System prompt + the items of the window that fits in ``budget_tokens``.

        The window's first item stays the same from call to call until the history outgrows the
        budget; then the oldest items go until it fills only ``TRIM_TO`` of it. Trimming one item
        per turn would change the start of every prompt, and a model's KV cache only helps with
        an unchanged prefix: on a 2-core CPU the embedded model then re-read ~1,000 tokens (about
        10 s) before every reply of a long conversation."""
        used = count_tokens(self.instructions) + 4 if self.instructions else 0
        shown = [i for i in self.items if not (i.blank or (i.type == "function_call" and i.status == "in_progress"))]
        costs = [count_tokens(i.text + i.arguments) + 4 for i in shown]
        ids = [i.id for i in shown]
        start = ids.index(self._window) if self._window in ids else 0
        total = used + sum(costs[start:])
        if total > budget_tokens:
            while start < len(shown) - 1 and total > budget_tokens * TRIM_TO:
                total -= costs[start]
                start += 1
        self._window = ids[start] if shown else None
        out = [i.chat_message() for i in shown[start:]]
        # a chat must not start with an assistant turn (small instruct models) or a tool result
        while out and out[0].role in ("assistant", "tool"):
            out.pop(0)
        out = _merge_calls(out)
        if self.instructions:
            out.insert(0, ChatMessage("system", self.instructions))
        return out


def _merge_calls(messages: list[ChatMessage]) -> list[ChatMessage]:
    """Tool calls in the shape chat APIs expect: an assistant turn carries its calls (text said
    before a call and consecutive calls merge into one turn), each call is followed by its
    result, and calls nobody answered or results of calls no longer shown are left out."""
    answered = {m.tool_call_id for m in messages if m.role == "tool"}
    asked = {c.call_id for m in messages for c in m.tool_calls}
    out: list[ChatMessage] = []
    for m in messages:
        if m.role == "tool" and m.tool_call_id not in asked:
            continue
        if m.tool_calls:
            calls = tuple(c for c in m.tool_calls if c.call_id in answered)
            if not calls:
                continue
            m = ChatMessage("assistant", m.content, tool_calls=calls)
            prev = out[-1] if out else None
            if prev is not None and prev.role == "assistant":
                out[-1] = ChatMessage("assistant", prev.content, tool_calls=prev.tool_calls + calls)
                continue
        out.append(m)
    return out
