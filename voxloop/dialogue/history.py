"""Conversation history: instructions, ordered items, a token budget, truncation."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from voxloop.engines.types import ChatMessage, ToolCall

__all__ = ["SUMMARY_HEADER", "TRIM_TO", "Conversation", "Item", "summary_message"]

Role = Literal["user", "assistant", "system"]
Kind = Literal["message", "function_call", "function_call_output"]
SUMMARY_HEADER = "Summary of the conversation so far:"  # how the system prompt introduces the summary
TRIM_TO = 0.5  # a history over its token budget is cut to this share of it (``messages``)


def new_item_id(prefix: str = "item") -> str:
    """Random, so ids restored from a store never collide with new ones."""
    return f"{prefix}_{secrets.token_hex(10)}"


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
    seq: float = 0.0  # position (set by Conversation.insert): what a store orders items by

    def to_dict(self) -> dict[str, object]:
        """The item as JSON (what a store keeps); ``from_dict`` reads it back."""
        out: dict[str, object] = {"id": self.id, "role": self.role, "text": self.text, "status": self.status,
                                  "audio": self.audio, "type": self.type}
        if self.type != "message":
            out.update(call_id=self.call_id, name=self.name, arguments=self.arguments)
        return out

    @staticmethod
    def from_dict(d: dict[str, object], seq: float = 0.0) -> Item:
        def text(key: str) -> str:
            v = d.get(key, "")
            return v if isinstance(v, str) else ""

        role = d.get("role")
        status = d.get("status")
        kind = d.get("type")
        return Item(role if role in ("user", "assistant", "system") else "user", text("text"),
                    id=text("id") or new_item_id(),
                    status=status if status in ("in_progress", "completed", "incomplete") else "completed",
                    audio=d.get("audio") is True,
                    type=kind if kind in ("message", "function_call", "function_call_output") else "message",
                    call_id=text("call_id"), name=text("name"), arguments=text("arguments"), seq=seq)

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

    def __init__(self, instructions: str = "", *, max_items: int = 1000) -> None:
        self.instructions = instructions
        self.items: list[Item] = []
        self._max_items = max_items
        self._window: str | None = None  # the first item ``messages`` shows (see there)
        # long conversations (voxloop.dialogue.summary): items up to ``summary_through`` are
        # not shown; ``summary`` stands for them. ``notes`` (what is remembered about the user)
        # follow the instructions. All three join the system prompt.
        self.summary = ""
        self.summary_through: str | None = None
        self._summary_seq: float | None = None
        self.notes = ""

    def add(self, role: Role, text: str, *, item_id: str | None = None,
            status: Literal["in_progress", "completed", "incomplete"] = "completed", audio: bool = False,
            after: str | None = None, first: bool = False) -> Item:
        """Append an item, or insert it after the item ``after`` (or at the start if ``first``).
        Raises ``KeyError`` if ``after`` names no item."""
        return self.insert(Item(role, text, id=item_id or new_item_id(), status=status, audio=audio),
                           after=after, first=first)

    def insert(self, item: Item, *, after: str | None = None, first: bool = False) -> Item:
        if first:
            item.seq = (self.items[0].seq - 1) if self.items else 1.0
            self.items.insert(0, item)
        elif after is not None:
            i = self._index(after) + 1
            prev = self.items[i - 1].seq
            item.seq = (prev + self.items[i].seq) / 2 if i < len(self.items) else prev + 1
            self.items.insert(i, item)
        else:
            item.seq = (self.items[-1].seq + 1) if self.items else 1.0
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
        system = self.system_prompt()
        used = count_tokens(system) + 4 if system else 0
        shown = [i for i in self.items[self._summarized():]
                 if not (i.blank or (i.type == "function_call" and i.status == "in_progress"))]
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
        if system:
            out.insert(0, ChatMessage("system", system))
        return out

    def system_prompt(self) -> str:
        """Instructions, then what is remembered about the user, then the summary of earlier turns."""
        return "\n\n".join(p for p in (self.instructions, self.notes, summary_message(self.summary)) if p)

    def set_summary(self, summary: str, through: str | None) -> None:
        """``summary`` now stands for every item up to ``through`` (an item id), inclusive."""
        item = self.get(through) if through is not None else None
        self.summary, self.summary_through = summary, through
        self._summary_seq = item.seq if item is not None else None

    def _summarized(self) -> int:
        """How many leading items the summary stands for (by position: deleting the last
        summarised item does not bring the older ones back)."""
        if self._summary_seq is None:
            return 0
        return sum(1 for i in self.items if i.seq <= self._summary_seq)

    def restore(self, items: list[Item], summary: str = "", summary_through: str | None = None) -> None:
        """Items read back from a store (in ``seq`` order), with their summary."""
        self.items = sorted(items, key=lambda i: i.seq)
        self._window = None
        self.set_summary(summary, summary_through)


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


def summary_message(summary: str) -> str:
    """The system note that carries ``summary`` ("" if it is empty)."""
    summary = summary.strip()
    if not summary:
        return ""
    return f"{SUMMARY_HEADER}{chr(10) if chr(10) in summary else ' '}{summary}"
