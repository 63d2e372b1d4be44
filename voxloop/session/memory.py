"""A session's memory: the conversation written through to the store, rolling summaries, and
the long-term facts of its user (docs/memory.md).

- **Recording.** Every settled item (a transcribed user turn, an assistant reply as far as it
  was heard, a function call and its output, a typed item) is queued for the store and written
  in order by one background task; ``flush`` waits for the queue (a session that ends, or hands
  its conversation to a newer connection, flushes first).
- **Summaries.** Past ``summary_after_turns`` user turns since the last summary, the older turns
  (all but the last ``keep_turns``) are summarised in the background and the summary replaces
  them in the prompt. Embedded models cannot summarise: rules do it, instantly. A remote model
  summarises only while the session is idle and is cancelled when the user speaks, so it never
  delays a live reply.
- **Facts.** With a user id, what the user states about themselves is extracted (rules, or the
  LLM for remote models) and stored with its source item; a new conversation of that user starts
  with them in its system prompt, and facts relevant to the current turn join just before it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from voxloop.dialogue.facts import (
    StatedFact,
    extract_facts,
    fact_extraction_messages,
    facts_message,
    parse_extracted_facts,
)
from voxloop.dialogue.history import Conversation, Item
from voxloop.dialogue.summary import (
    clean_summary,
    earlier_message,
    rule_summary,
    summary_cut,
    summary_messages,
)
from voxloop.engines.base import LLMEngine
from voxloop.engines.types import PRIORITY_BACKGROUND, ChatMessage, LLMOptions
from voxloop.errors import InvalidRequest, VoxloopError
from voxloop.session.events import new_id
from voxloop.store.base import ConversationStore, Fact, StoredItem
from voxloop.store.rank import rank

__all__ = ["MemorySettings", "SessionMemory"]

logger = logging.getLogger(__name__)
Mode = Literal["auto", "rules", "llm", "off"]
Spawn = Callable[[Coroutine[Any, Any, None], str], "asyncio.Task[None]"]


@dataclass(frozen=True, slots=True)
class MemorySettings:
    summary: Mode = "auto"  # auto: the LLM for a remote model, rules for embedded ones
    summary_after_turns: int = 10  # user turns past the summary before the next round
    keep_turns: int = 4  # the last user turns (and their replies) always stay verbatim
    facts: Mode = "auto"  # how stated facts are extracted (auto: as for summaries)
    facts_in_prompt: int = 8  # facts that start a conversation; more are retrieved by relevance
    relevant_facts: int = 3  # retrieved per turn (BM25) beyond those


def _resolve(mode: Mode, llm: LLMEngine) -> Mode:
    if mode != "auto":
        return mode
    return "llm" if llm.name.startswith("openai") else "rules"


class SessionMemory:
    def __init__(self, store: ConversationStore | None, conversation_id: str, conversation: Conversation,
                 llm: LLMEngine, settings: MemorySettings, spawn: Spawn) -> None:
        self.store = store
        self._spawn = spawn  # a task in the session's task group
        self.id = conversation_id
        self.conversation = conversation
        self.llm = llm
        self.settings = settings
        self.user: str | None = None
        self._queue: asyncio.Queue[Callable[[], Coroutine[Any, Any, None]]] = asyncio.Queue()
        self._idle = asyncio.Event()
        self._idle.set()  # a session starts quiet
        self._summary_task: asyncio.Task[None] | None = None
        self._warm_task: asyncio.Task[None] | None = None
        self.prompt: Callable[[], list[ChatMessage]] | None = None  # the next reply's history (set by the session)
        self._shown: set[str] = set()  # ids of facts in the system prompt
        self._heard: set[str] = set()  # user items whose facts were extracted

    # ------------------------------------------------------------------ recording
    def saved(self, item: Item) -> None:
        """An item settled (or changed): write it."""
        if self.store is None or item.status == "in_progress":
            return
        if item.role == "user" and item.type == "message" and item.id not in self._heard and item.text.strip():
            self._heard.add(item.id)
            self.user_said(item.id, item.text)
        record = StoredItem(item.id, item.seq, item.to_dict())
        store = self.store
        self._queue.put_nowait(lambda: store.put_items(self.id, [record]))

    def deleted(self, item_id: str) -> None:
        if self.store is not None:
            store = self.store
            self._queue.put_nowait(lambda: store.delete_items(self.id, [item_id]))

    def settings_changed(self, settings: dict[str, Any]) -> None:
        if self.store is not None:
            store = self.store
            self._queue.put_nowait(lambda: store.update(self.id, settings=settings))

    async def writer(self) -> None:
        """Runs for the session's life: writes queued changes in order."""
        while True:
            op = await self._queue.get()
            try:
                await asyncio.shield(op())  # a write under way completes even if the session ends
            except Exception:  # a store failure loses one write, never the session
                logger.exception("conversation %s: a store write failed", self.id)
            finally:
                self._queue.task_done()

    async def flush(self) -> None:
        """Write everything queued (the writer task may be gone: then write here)."""
        while not self._queue.empty():
            op = self._queue.get_nowait()
            try:
                await op()
            except Exception:
                logger.exception("conversation %s: a store write failed", self.id)
            finally:
                self._queue.task_done()

    # ------------------------------------------------------------------ user facts
    async def bind_user(self, user: str | None) -> None:
        """``session.voxloop.user``: the conversation belongs to this user from now on (a
        conversation bound to one user never moves to another), and memory is on for them."""
        if self.store is not None:
            record = await self.store.get(self.id)
            if record is not None and record.user is not None and record.user != user:
                raise InvalidRequest("this conversation belongs to another user; start a new session for this "
                                     "user", param="session.voxloop.user", code="user_mismatch")
            if record is not None and record.user is None and user is not None:
                await self.store.update(self.id, user=user)
        await self.set_user(user)

    async def set_user(self, user: str | None) -> None:
        """Memory is on for this user: load what is remembered into the system prompt."""
        self.user = user
        self._shown.clear()
        self.conversation.notes = ""
        if self.store is None or user is None:
            return
        facts = await self.store.facts(user)
        shown = facts[-self.settings.facts_in_prompt:] if self.settings.facts_in_prompt else []
        self._shown = {f.id for f in shown}
        self.conversation.notes = facts_message([f.text for f in shown]) if shown else ""
        self.prompt_changed()

    async def relevant(self, text: str) -> list[ChatMessage]:
        """What is remembered about this turn, as a note just before it: facts of the user not
        already in the prompt, and lines of the summary that share its words (small models
        use what is near the question far better than what is at the top of the prompt)."""
        k = self.settings.relevant_facts
        if not k or not text.strip():
            return []
        lines = self.conversation.summary.splitlines()
        said = [lines[i] for i in rank(text, lines, k)]
        facts: list[str] = []
        if self.store is not None and self.user is not None:
            try:
                found = await self.store.search_facts(self.user, text, k + len(self._shown))
            except Exception:
                logger.exception("fact search failed")
                found = []
            facts = [f.text for f in found if f.id not in self._shown and f.text not in said]
        facts = facts[:max(0, k - len(said))]
        parts = [earlier_message(said), facts_message(facts)]  # each under its own header
        return [ChatMessage("system", "\n".join(p for p in parts if p))] if said or facts else []

    def user_said(self, item_id: str, text: str) -> None:
        """A user turn's final text: remember the facts it states (only with a user id)."""
        mode = _resolve(self.settings.facts, self.llm)
        if self.store is None or self.user is None or mode == "off" or not text.strip():
            return
        if mode == "llm":
            self._spawn(self._llm_facts(item_id, text, self.user), "facts")
        else:
            self._store_facts(item_id, extract_facts(text), self.user)

    def _store_facts(self, item_id: str, facts: Sequence[StatedFact], user: str) -> None:
        if self.store is None:
            return
        store, now = self.store, time.time()
        for f in facts:
            fact = Fact(new_id("fact"), user, f.text, f.key, item_id, self.id, now)
            self._queue.put_nowait(lambda fact=fact: store.add_fact(fact))  # type: ignore[misc]
            logger.info("conversation %s: remembering for %s: %s", self.id, user, f.text)

    async def _llm_facts(self, item_id: str, text: str, user: str) -> None:
        try:
            reply = await _complete(self.llm, fact_extraction_messages(text), 200)
        except VoxloopError as e:
            logger.warning("fact extraction failed (%s); using rules", e.message)
            self._store_facts(item_id, extract_facts(text), user)
            return
        self._store_facts(item_id, parse_extracted_facts(reply), user)

    # ------------------------------------------------------------------ summaries
    def idle(self, idle: bool) -> None:
        """The session tells whether a reply or user speech is under way."""
        if idle:
            self._idle.set()
        else:
            self._idle.clear()
            mode = _resolve(self.settings.summary, self.llm)
            task = self._summary_task
            if mode == "llm" and task is not None and not task.done():
                task.cancel()  # the user speaks: the live turn gets the model (retried later)
            # a cache warm-up under way goes on: the live turn needs that same prompt read

    def maybe_summarize(self) -> None:
        """After a reply: start a summary round if the conversation outgrew the threshold."""
        mode = _resolve(self.settings.summary, self.llm)
        if mode == "off" or (self._summary_task is not None and not self._summary_task.done()):
            return
        items = self.conversation.items
        cut = summary_cut(items, self.settings.keep_turns, self.conversation.summary_through)
        if cut is None:
            return
        start = self._summary_start()
        turns = sum(1 for i in items[start:cut] if i.role == "user" and i.type == "message")
        if turns < self.settings.summary_after_turns - self.settings.keep_turns:
            return
        self._summary_task = self._spawn(self._summarize(mode, cut), "summary")

    def _summary_start(self) -> int:
        through = self.conversation.summary_through
        ids = [i.id for i in self.conversation.items]
        return ids.index(through) + 1 if through in ids else 0

    async def _summarize(self, mode: Mode, cut: int) -> None:
        conv = self.conversation
        items = conv.items[self._summary_start():cut]
        if not items:
            return
        through = conv.items[cut - 1].id
        previous, before = conv.summary, conv.summary_through
        if mode == "llm":
            await self._idle.wait()
            try:
                summary = clean_summary(await _complete(self.llm, summary_messages(previous, items), 250))
            except VoxloopError as e:
                logger.warning("summary by the model failed (%s); using rules", e.message)
                summary = ""
            summary = summary or rule_summary(previous, items)
        else:
            summary = rule_summary(previous, items)
        if conv.summary_through != before or conv.get(through) is None:
            return  # the conversation changed under us (deleted, restored): next round
        conv.set_summary(summary, through)
        self.prompt_changed()
        logger.info("conversation %s: summarised %d items (%d chars)", self.id, len(items), len(summary))
        if self.store is not None:
            store = self.store
            self._queue.put_nowait(lambda: store.update(self.id, summary=summary, summary_through=through))

    # ------------------------------------------------------------------ the model's cache
    def prompt_changed(self) -> None:
        """The start of the prompt changed (facts loaded, a summary round): while the user is
        quiet, read the new prompt into the embedded model's cache, so the next reply does not
        pay for it (on 2 cores a ~500-token re-read is 1-3 s). Remote models are left alone
        (their servers cache prefixes themselves, and tokens may cost money)."""
        if self.prompt is None or self.llm.name.startswith("openai"):
            return
        if self._warm_task is not None and not self._warm_task.done():
            self._warm_task.cancel()
        self._warm_task = self._spawn(self._warm(self.prompt), "warm-cache")

    async def _warm(self, prompt: Callable[[], list[ChatMessage]]) -> None:
        await self._idle.wait()
        try:
            await _complete(self.llm, prompt(), 1)
        except VoxloopError as e:
            logger.debug("cache warm-up failed: %s", e.message)

    async def aclose(self) -> None:
        for task in (self._summary_task, self._warm_task):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
        await self.flush()


async def _complete(llm: LLMEngine, messages: list[ChatMessage], max_tokens: int) -> str:
    """One background completion's text (no tools)."""
    stream = llm.chat(messages, LLMOptions(max_tokens=max_tokens, temperature=0.2, priority=PRIORITY_BACKGROUND))
    parts: list[str] = []
    try:
        async for delta in stream:
            if isinstance(delta, str):
                parts.append(delta)
    finally:
        await stream.aclose()
    return "".join(parts)
