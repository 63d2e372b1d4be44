"""A canned-text LLM: its chat streams one fixed text, with no model call. The session uses it
for a persona's or preset's greeting (``SessionConfig.greeting``): the first reply of an empty
conversation says exactly that text, through the usual reply pipeline (chunker, TTS, events)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence

from voxloop.dialogue.history import Conversation
from voxloop.engines.base import LLMEngine
from voxloop.engines.streams import LLMStream
from voxloop.engines.types import ChatMessage, LLMChunk, LLMOptions
from voxloop.session.reply import Reply

__all__ = ["CannedLLM", "greet", "greeting_llm"]

_PIECES = re.compile(r"\S+\s*|\s+")


class CannedLLM(LLMEngine):
    """Streams ``text`` word by word (the pieces concatenate to ``text`` exactly)."""

    name = "canned"

    def __init__(self, text: str) -> None:
        super().__init__(workers=1)  # the executor never starts a thread: nothing blocks
        self.text = text
        self._loaded = True

    def chat(self, messages: Sequence[ChatMessage], options: LLMOptions = LLMOptions()) -> LLMStream:
        pieces = _PIECES.findall(self.text)

        async def gen() -> AsyncIterator[LLMChunk]:
            for piece in pieces:
                yield piece

        return LLMStream(gen())


def greeting_llm(greeting: str | None, conversation: Conversation) -> CannedLLM | None:
    """A canned LLM speaking ``greeting`` if the conversation has no assistant item yet."""
    if not greeting or any(item.role == "assistant" for item in conversation.items):
        return None
    return CannedLLM(greeting)


def greet(reply: Reply, greeting: str | None, conversation: Conversation) -> None:
    """The session's hook: the first reply of a conversation with no assistant item yet speaks
    the persona's or preset's greeting verbatim instead of asking the LLM."""
    canned = greeting_llm(greeting, conversation)
    if canned is not None:
        reply.llm = canned
