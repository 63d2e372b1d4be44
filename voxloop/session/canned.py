"""A reply whose words are fixed — a greeting, a filler line, an apology — spoken through the
same reply pipeline (chunker → TTS → paced output) without asking the model."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence

from voxloop.engines.base import LLMEngine
from voxloop.engines.streams import LLMStream
from voxloop.engines.types import ChatMessage, LLMChunk, LLMOptions

__all__ = ["CannedLLM"]


class CannedLLM(LLMEngine):
    """An LLM engine that "generates" ``text``, a word at a time."""

    name = "canned"

    def __init__(self, text: str) -> None:
        super().__init__(workers=1)
        self.text = text
        self._loaded = True

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def chat(self, messages: Sequence[ChatMessage], options: LLMOptions = LLMOptions()) -> LLMStream:
        async def words() -> AsyncIterator[LLMChunk]:
            for piece in re.findall(r"\S+\s*", self.text):
                yield piece

        return LLMStream(words())
