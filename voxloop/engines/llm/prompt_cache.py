"""Conversations' KV caches kept in host memory while their sequence serves someone else.

A batched context has a few sequences and a server has more conversations than that (and
background jobs — summaries, fact extraction — take sequences too). When a sequence goes to
another job, the KV cells of the conversation it held are copied out (``llama_state_seq_get_data``:
a memory copy, ~23 KB a token for the embedded model); when that conversation's next turn arrives,
they are copied back into whichever free sequence it gets, so the turn reads only its new message
instead of the whole conversation. As llama.cpp's server does with ``--cache-ram``.

Bounded by bytes, least recently used first out; thread-safe (every context of an engine shares
one). Pure: the caller does the copying.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

__all__ = ["PromptCache", "Saved"]


@dataclass(frozen=True, slots=True)
class Saved:
    tokens: tuple[int, ...]  # what the state holds, position by position
    data: Any  # the state (a ctypes byte array)
    size: int  # its bytes


def common_prefix(a: tuple[int, ...] | list[int], b: tuple[int, ...] | list[int]) -> int:
    """Tokens ``a`` and ``b`` share from the start."""
    return len(os.path.commonprefix([tuple(a), tuple(b)]))  # tuple() of a tuple copies nothing


class PromptCache:
    def __init__(self, max_bytes: int, *, min_tokens: int = 64) -> None:
        self.max_bytes = max(0, max_bytes)
        self.min_tokens = min_tokens  # shorter states are not worth keeping (~ a system prompt)
        self._entries: OrderedDict[int, Saved] = OrderedDict()  # oldest first
        self._ids = itertools.count()
        self._lock = threading.Lock()
        self.bytes = 0
        self.saved = 0  # states put in
        self.restored = 0  # states taken out for a new turn
        self.restored_tokens = 0  # prompt tokens those spared reading

    def wants(self, tokens: list[int]) -> bool:
        """Whether a state of ``tokens`` is worth copying out."""
        return self.max_bytes > 0 and len(tokens) >= self.min_tokens

    def put(self, saved: Saved) -> None:
        """Keep ``saved``; states it extends (their tokens a prefix of its) go, they are worth less."""
        if saved.size > self.max_bytes:
            return
        with self._lock:
            for key, old in list(self._entries.items()):
                if len(old.tokens) <= len(saved.tokens) and saved.tokens[:len(old.tokens)] == old.tokens:
                    self._drop(key)
            self._entries[next(self._ids)] = saved
            self.bytes += saved.size
            self.saved += 1
            while self.bytes > self.max_bytes:
                self._drop(next(iter(self._entries)))

    def take(self, tokens: list[int], better_than: int, margin: int = 16) -> Saved | None:
        """The state sharing the longest prefix with ``tokens``, if at least ``margin`` tokens longer
        than ``better_than`` (what the sequence at hand already has); it leaves the cache (its
        sequence holds it now)."""
        prompt = tuple(tokens)
        with self._lock:
            best, best_len = None, better_than + margin - 1
            for key, entry in self._entries.items():
                n = common_prefix(entry.tokens, prompt)
                if n > best_len:
                    best, best_len = key, n
            if best is None:
                return None
            saved = self._entries[best]
            self._drop(best)
            self.restored += 1
            self.restored_tokens += best_len - better_than
            return saved

    def _drop(self, key: int) -> None:
        self.bytes -= self._entries.pop(key).size

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
