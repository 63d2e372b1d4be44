"""Reusing a sequence's cached tokens past the point where a new prompt departs from them.

A voice turn's prompt often differs from the last one *inside* it, not only at its end: a system
hint put before the user's words (the emotion heard, facts recalled for that turn) is gone from
the next turn's prompt, so a plain common-prefix cache re-reads the user's words and the whole
reply after it, ~70 tokens a turn (~0.3 s on one core). As llama.cpp's own server does with
``--cache-reuse``, chunks of the cached tail that reappear in the new prompt are moved to their
new positions (a RoPE shift of their keys) instead of being read again. Their keys and values
were computed with the dropped hint still before them: an approximation, the same as the
server's, and small for a hint of a few tokens.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

__all__ = ["MIN_CHUNK", "Chunk", "reuse_plan"]

MIN_CHUNK = 12  # shorter runs (the template's "<|im_end|>\n<|im_start|>user\n") are not worth it


class Chunk(NamedTuple):
    cached: int  # position of the chunk in the cache
    prompt: int  # its position in the new prompt (<= cached)
    length: int


def reuse_plan(cached: Sequence[int], prompt: Sequence[int], start: int,
               min_chunk: int = MIN_CHUNK) -> tuple[list[Chunk], int]:
    """Chunks of ``cached`` after ``start`` (the shared prefix) that the new ``prompt`` repeats in
    order, each at least ``min_chunk`` tokens, and how many prompt tokens are then cached.

    Greedy, as llama.cpp's server: walk both; where a long enough run matches, take it, else skip a
    cached token. Cached tokens that are skipped are dropped."""
    chunks: list[Chunk] = []
    c = p = start
    while c < len(cached) and p < len(prompt):
        n = 0
        while c + n < len(cached) and p + n < len(prompt) and cached[c + n] == prompt[p + n]:
            n += 1
        if n >= min_chunk:
            chunks.append(Chunk(c, p, n))
            c += n
            p += n
        else:
            c += 1
    return chunks, p
