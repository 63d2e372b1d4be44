"""The conversation as a session keeps it: ordered items with ids, and the events telling the
client about them.

Items live in a :class:`voxloop.dialogue.history.Conversation` (order, token budget, truncation);
:class:`ConversationLog` adds what the session and the client need on top: every change is
announced as a typed event, each new item names the item before it (``previous_item_id``), and
client requests (create after an item, retrieve, delete) are checked here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Literal

from voxloop.dialogue.history import Conversation, Item
from voxloop.errors import InvalidRequest
from voxloop.session.events import (
    InputCommitted,
    ItemAdded,
    ItemDeleted,
    ItemDone,
    ItemRetrieved,
    Message,
    SessionEvent,
)

__all__ = ["ConversationLog"]

logger = logging.getLogger(__name__)

Role = Literal["user", "assistant", "system"]


def _message(item: Item) -> Message:
    return Message(item.id, item.role, item.text, item.status, item.audio, type=item.type, call_id=item.call_id,
                   name=item.name, arguments=item.arguments)


def _ignore(_: object) -> None:
    return None


class ConversationLog:
    """``on_saved`` hears of every item that settles (or changes after), ``on_deleted`` of every
    removal: the session's memory writes them through to the store."""

    def __init__(self, instructions: str, emit: Callable[[SessionEvent], None]) -> None:
        self.items = Conversation(instructions)
        self._emit = emit
        self.on_saved: Callable[[Item], None] = _ignore
        self.on_deleted: Callable[[str], None] = _ignore
        self.server_answered: set[str] = set()  # call ids whose output a server-run tool gave

    def replay(self) -> None:
        """Announce every item again (a resumed conversation: the client rebuilds its view)."""
        previous: str | None = None
        for item in self.items.items:
            if item.status == "in_progress":
                continue
            self._emit(ItemAdded(_message(item), previous))
            self._emit(ItemDone(_message(item)))
            previous = item.id

    # -- what the session records -------------------------------------------------------
    def user_audio_committed(self, item_id: str) -> None:
        """A spoken user turn enters the conversation at commit; its text follows."""
        previous = self.items.last_id
        self.items.add("user", "", item_id=item_id, status="in_progress", audio=True)
        self._emit(InputCommitted(item_id, previous))
        self._emit(ItemAdded(Message(item_id, "user", "", "in_progress", audio=True), previous))

    def user_transcribed(self, item_id: str, text: str) -> None:
        item = self.items.get(item_id)
        if item is not None:  # the client may have deleted it meanwhile
            item.text, item.status = text, "completed"
            self.on_saved(item)
        self._emit(ItemDone(Message(item_id, "user", text, audio=True)))

    def assistant_started(self, item_id: str, audio: bool) -> str | None:
        """A reply's item enters the conversation as it starts speaking; returns the item
        before it (the reply's own events announce it, in order with its audio)."""
        previous = self.items.last_id
        self.items.add("assistant", "", item_id=item_id, status="in_progress", audio=audio)
        return previous

    def output_item_started(self, m: Message) -> str | None:
        """A reply's output item (its message, or a function call) enters the conversation as
        it reaches the listener; returns the item before it (the reply's events announce it)."""
        if m.type != "function_call":
            return self.assistant_started(m.id, m.audio)
        previous = self.items.last_id
        self.items.insert(Item("assistant", "", id=m.id, status="in_progress", type="function_call",
                               call_id=m.call_id, name=m.name))
        return previous

    def function_call_done(self, m: Message) -> None:
        item = self.items.get(m.id)
        if item is not None:
            item.arguments, item.status = m.arguments, "completed"
            self.on_saved(item)

    def tool_output(self, call_id: str, output: str, item_id: str) -> None:
        """A server-run tool's result, after its call."""
        self.server_answered.add(call_id)
        call = self.items.call(call_id)
        item = Item("user", output, id=item_id, type="function_call_output", call_id=call_id,
                    name=call.name if call else "")
        self.items.insert(item)
        self.on_saved(item)
        self._emit(ItemAdded(_message(item), self.items.previous_id(item_id)))
        self._emit(ItemDone(_message(item)))

    def assistant_ended(self, item_id: str, text: str, completed: bool) -> None:
        item = self.items.get(item_id)
        if item is not None:
            item.text, item.status = text, "completed" if completed else "incomplete"
            self.on_saved(item)

    def truncate(self, item_id: str, heard: str) -> None:
        if self.items.truncate(item_id, heard):
            item = self.items.get(item_id)
            if item is not None:
                self.on_saved(item)

    # -- what the client asks -----------------------------------------------------------
    def create(self, role: Role, text: str, item_id: str, after: str | None) -> None:
        """``after``: ``None`` appends, ``"root"`` puts it first, an id inserts after that item."""
        if self.items.get(item_id) is not None:
            raise InvalidRequest(f"an item with id {item_id!r} already exists", param="item.id",
                                 code="item_already_exists")
        if after not in (None, "root") and self.items.get(after) is None:
            raise InvalidRequest(f"no item with id {after!r}", param="previous_item_id", code="item_not_found")
        self.on_saved(self.items.add(role, text, item_id=item_id, after=None if after == "root" else after,
                                     first=after == "root"))
        message = Message(item_id, role, text)
        self._emit(ItemAdded(message, self.items.previous_id(item_id)))
        self._emit(ItemDone(message))

    def create_call_item(self, item: Item, after: str | None) -> None:
        """The client adds a function call, or the output of one (which must name a call)."""
        if self.items.get(item.id) is not None:
            raise InvalidRequest(f"an item with id {item.id!r} already exists", param="item.id",
                                 code="item_already_exists")
        if after not in (None, "root") and self.items.get(after) is None:
            raise InvalidRequest(f"no item with id {after!r}", param="previous_item_id", code="item_not_found")
        if item.type == "function_call_output":
            call = self.items.call(item.call_id)
            if call is None:
                raise InvalidRequest(f"no function call with call_id {item.call_id!r} in the conversation",
                                     param="item.call_id", code="invalid_call_id")
            item.name = call.name
            if item.call_id in self.server_answered:  # e.g. an Agents SDK's "tool not found"
                logger.info("client output for server-run call %s dropped", item.call_id)
                return  # the server ran this call: its result stands, the model sees one output
        self.items.insert(item, after=None if after == "root" else after, first=after == "root")
        self.on_saved(item)
        self._emit(ItemAdded(_message(item), self.items.previous_id(item.id)))
        self._emit(ItemDone(_message(item)))

    def get(self, item_id: object) -> Item:
        item = self.items.get(item_id) if isinstance(item_id, str) else None
        if item is None:
            raise InvalidRequest(f"no item with id {item_id!r}", param="item_id", code="item_not_found")
        return item

    def retrieve(self, item_id: object) -> None:
        self._emit(ItemRetrieved(_message(self.get(item_id))))

    def delete(self, item_id: object) -> None:
        item = self.get(item_id)
        self.items.remove(item.id)
        self.on_deleted(item.id)
        self._emit(ItemDeleted(item.id))
