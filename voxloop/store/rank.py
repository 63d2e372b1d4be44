"""Fact search without an embedding model: one tokenizer and Okapi BM25.

The SQLite store ranks with FTS5's ``bm25()``; the Redis and memory stores rank in Python with
:func:`bm25`, which uses FTS5's formula (k1 = 1.2, b = 0.75, IDF clamped to 1e-6) so that the
backends agree. :func:`words` folds text the way FTS5's ``unicode61 remove_diacritics 2``
tokenizer does (case and accents off, runs of letters and digits).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence

__all__ = ["STOPWORDS", "bm25", "query_words", "rank", "words"]

# Words that say nothing about which fact is meant ("what is my dog called" → dog, called).
# Includes the tails of contractions ("user's" → user, s; "don't" → don, t).
STOPWORDS = frozenset("""
a about after again all also am an and any are as at be been before being both but by can
could did do does doing don during each else for from had has have having he her here hers
him his how i if in into is it its just ll m me mine my myself no nor not now of off on once
only or other our ours out over own please re s same she should so some such t than that the
their theirs them then there these they this those through to too under until up ve very was
we were what when where which while who whom whose why will with would you your yours
""".split())

_WORD = re.compile(r"[^\W_]+")


def words(text: str) -> list[str]:
    """Every word of ``text``, case-folded and without accents ("Café Ü-2" → cafe, u, 2)."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _WORD.findall(bare)


def query_words(text: str) -> list[str]:
    """The distinct non-stopwords of a free-text query, in order of first appearance."""
    return list(dict.fromkeys(w for w in words(text) if w not in STOPWORDS))


def bm25(query: Sequence[str], documents: Sequence[Sequence[str]],
         *, k1: float = 1.2, b: float = 0.75) -> list[float]:
    """The BM25 score of each tokenized document for the query terms (0.0: no term occurs)."""
    if not documents:
        return []
    n_docs = len(documents)
    avgdl = sum(len(d) for d in documents) / n_docs or 1.0
    counts = [Counter(d) for d in documents]
    scores = [0.0] * n_docs
    for term in dict.fromkeys(query):
        having = sum(1 for c in counts if term in c)
        if not having:
            continue
        idf = max(math.log((n_docs - having + 0.5) / (having + 0.5)), 1e-6)
        for i, c in enumerate(counts):
            tf = c[term]
            if tf:
                norm = k1 * (1.0 - b + b * len(documents[i]) / avgdl)
                scores[i] += idf * tf * (k1 + 1.0) / (tf + norm)
    return scores


def rank(query: str, texts: Sequence[str], limit: int) -> list[int]:
    """Indices of the ``texts`` sharing a word with ``query``, best first (ties keep their
    order), at most ``limit``; ``[]`` when the query has only stopwords."""
    terms = query_words(query)
    if not terms or limit <= 0:
        return []
    scores = bm25(terms, [words(t) for t in texts])
    hits = sorted((i for i, s in enumerate(scores) if s > 0.0), key=lambda i: -scores[i])
    return hits[:limit]
