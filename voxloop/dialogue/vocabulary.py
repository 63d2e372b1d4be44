"""A domain vocabulary (drug names, product names, jargon) applied after ASR.

:meth:`Vocabulary.correct` finds near-miss spellings of listed terms and replaces them
with the listed spelling: ``"metforman"`` → ``"metformin"``, words the recognizer split
(``"a torva statin"`` → ``"atorvastatin"``) or merged, and multi-word terms. A candidate
(one to a few adjacent words, joined without spaces) is compared with every term by
spelling (normalized Levenshtein) and by sound (a small Metaphone-like key), and replaced
only above a threshold tuned so that ordinary English is left alone. Case follows the
text. :meth:`Vocabulary.as_prompt` gives the terms for prompt biasing.

Pure: no I/O except :meth:`Vocabulary.from_file`.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from voxloop.errors import MissingDependency

__all__ = ["Replacement", "Vocabulary", "phonetic_key"]

THRESHOLD = 0.8  # combined spelling + sound similarity needed to replace a span
STRICT_SPELLING = 0.88  # spans made only of common English words need this by spelling
MAX_EXTRA_TOKENS = 3  # a term may come back split into up to words + 3 pieces
MIN_TERM_CHARS = 4  # shorter terms are only fixed for case, never fuzzily
_CACHE_SIZE = 50_000  # remembered candidates (a long transcript repeats its words)
MIN_JOINED_KEY = 5  # ordinary words only join into terms with at least this many sounds

# Frequent English words that must never become a term on their own.
_COMMON = frozenset(
    """
    a about above after again against all also always am an and any are around as at away back
    be because been before being below better between both but by call came can come could
    day days did do does done down during each early even every feel few find first for form
    forms former from full gave get give given go going good got great had has have having he
    her here him his home how however i if in into is it its just keep kind know last later
    least left less let life like little long look made make man many may me men might more
    morning most much must my never new next night no nor not now of off often old on once one
    only or other our out over own part people per place put rather really right said same
    saw say see seen she should show since small so some something still such sure take takes
    taken taking tell than that the their them then there these they thing things think this
    those though three through time times to today told too took two under until up upon us
    use used very want was water way we week well went were what when where which while who
    whole why will with within without work would year years yet you your
    able across added almost along already although among another anything area asked based
    became become began believe best bring brought case certain change child children city
    clear close common company course cover current daily dose doses doctor does dollar during
    else end enough ever example fact family far father felt final fine follow following
    found four free friend friends general given group half hand hard head health hear heard
    heart help high himself hold hour hours house idea important include increase instead
    issue itself job large late lead learn level light line list live local lower main matter
    mean meant medical medicine meet met mind minute minutes money month months mother move
    name near need needs number open order others pain paper past patient patients pay period
    person plan point possible power present pressure problem public question quite reason
    received record result return room run school second seems sense set several short side
    simple six sleep social sometimes start state statement stop story strong system table
    taste ten term test testing therapy thought thousand together tonight total treat treatment
    true try turn type unit using usually value various view wait walk wall watch weight
    whether white woman women word words world write written wrong young zero
    code codes line lines file files data string value values object class method
    """.split()
)

_SUFFIXES = frozenset({"es", "ed", "er", "ly", "ing", "ers"})
_WORD = re.compile(r"\w+(?:['’]\w+)*", re.UNICODE)
_JOINABLE = re.compile(r"[\s\-‐–]*")  # separators a split word may have between its pieces
_AFFIXES = re.compile(r"(\W*)(.*?)(\W*)", re.DOTALL)
_POSSESSIVE = re.compile(r"['’]s$", re.IGNORECASE)


def _fold(text: str) -> str:
    """Lower-case ASCII letters and digits only (accents stripped, spaces removed)."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed.lower() if c.isascii() and c.isalnum())


_PHONETIC_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p), r)
    for p, r in (
        (r"^(?:kn|gn|pn|wr)", "n"),  # silent first letter (wr → r is fixed below)
        (r"^x", "s"),
        (r"^wh", "w"),
        (r"^ps", "s"),
        (r"ph", "f"),
        (r"gh", ""),
        (r"ck", "k"),
        (r"sch", "sk"),
        (r"tch", "x"),
        (r"sh|ch", "x"),
        (r"th", "0"),
        (r"dg(?=[eiy])", "j"),
        (r"g(?=[eiy])", "j"),
        (r"c(?=[eiy])", "s"),
        (r"[cq]", "k"),
        (r"x", "ks"),
        (r"z", "s"),
        (r"v", "f"),
        (r"b", "p"),  # voicing is what recognizers confuse most: b/p, d/t, g/k
        (r"d", "t"),
        (r"g", "k"),
        (r"y", "i"),
        (r"w(?![aeiou])", ""),
        (r"(?<=[^aeiou])h|h(?![aeiou])", ""),
    )
)


def phonetic_key(word: str) -> str:
    """A Metaphone-like sound key: consonant skeleton, first vowel kept as ``a``.

    ``phonetic_key("lisinopril") == phonetic_key("lysinaprel") == "lsnprl"``.
    """
    w = re.sub(r"\d", "", _fold(word))
    if not w:
        return ""
    if w.startswith("wr"):
        w = w[1:]
    for pattern, repl in _PHONETIC_RULES:
        w = pattern.sub(repl, w)
    if not w:
        return ""
    head = "a" if w[0] in "aeiou" else w[0]
    body = re.sub(r"[aeiou]", "", w[1:])
    return re.sub(r"(.)\1+", r"\1", head + body)


@dataclass(frozen=True, slots=True)
class Replacement:
    """Tokens ``start`` to ``end`` (exclusive) are ``term``; ``score`` in [0, 1]."""

    start: int
    end: int
    term: str
    score: float


@dataclass(frozen=True, slots=True)
class _Token:
    core: str  # the word as written, without punctuation or a possessive 's
    folded: str
    common: bool
    joins_next: bool  # may be merged with the next token into one term


@functools.cache
def _rapidfuzz() -> ModuleType:
    try:
        import rapidfuzz
        import rapidfuzz.distance
        import rapidfuzz.process
    except ImportError as e:
        raise MissingDependency("vocabulary correction needs rapidfuzz: pip install rapidfuzz") from e
    return rapidfuzz


def _min_spelling(term_chars: int) -> float:
    """Short terms allow one misspelt letter, 8-9 letters two, longer ones up to 40 %."""
    return 0.8 if term_chars <= 7 else 0.7 if term_chars <= 9 else 0.6


def _split_word(word: str) -> tuple[str, str, str]:
    """``" formin,"`` → ``(" ", "formin", ",")``."""
    m = _AFFIXES.fullmatch(word)
    assert m is not None  # the pattern matches any string
    return m.group(1), m.group(2), m.group(3)


def _cased(term: str, original: str) -> str:
    """Keep the text's case: ALL CAPS stays so, a capital first letter stays; terms
    listed with capitals (brand names, acronyms) keep their own spelling otherwise."""
    letters = [c for c in original if c.isalpha()]
    if len(letters) > 1 and all(c.isupper() for c in letters):
        return term.upper()
    if term != term.lower():
        return term
    if letters and letters[0].isupper():
        return term[:1].upper() + term[1:]
    return term


class Vocabulary:
    """A set of terms and the correction pass that restores their spelling."""

    def __init__(self, terms: Iterable[str]) -> None:
        seen: dict[str, str] = {}
        for raw in terms:
            term = " ".join(raw.split())
            key = _fold(term)
            if key and key not in seen:
                seen[key] = term
        self._terms: tuple[str, ...] = tuple(seen.values())
        self._folded: tuple[str, ...] = tuple(seen)
        self._keys: tuple[str, ...] = tuple(phonetic_key(t) for t in self._terms)
        self._by_folded: dict[str, int] = {f: i for i, f in enumerate(self._folded)}
        self._max_words = max((len(t.split()) for t in self._terms), default=1)
        self._by_length: dict[int, tuple[list[str], list[int]]] = {}
        # Both caches are filled on use; safe to share between threads (the GIL keeps
        # each dict operation whole, and a lost entry is only recomputed).
        self._cache: dict[tuple[str, bool], tuple[int, float] | None] = {}

    @classmethod
    def from_file(cls, path: str | Path) -> Vocabulary:
        """One term per line; blank lines and ``#`` comments are ignored."""
        text = Path(path).read_text(encoding="utf-8")
        return cls(line.split("#", 1)[0].strip() for line in text.splitlines())

    @property
    def terms(self) -> tuple[str, ...]:
        return self._terms

    def __len__(self) -> int:
        return len(self._terms)

    def __bool__(self) -> bool:
        return bool(self._terms)

    def __repr__(self) -> str:
        return f"Vocabulary({len(self)} terms)"

    def merged(self, extra: Iterable[str]) -> Vocabulary:
        """This vocabulary plus ``extra`` terms (e.g. a request's hot words)."""
        return Vocabulary((*self._terms, *extra))

    # ----------------------------------------------------------------- prompt biasing

    def hotwords(self, max_chars: int = 600) -> tuple[str, ...]:
        """The terms, in order, as many as fit in ``max_chars`` of prompt."""
        out: list[str] = []
        used = 0
        for term in self._terms:
            used += len(term) + 2
            if used > max_chars:
                break
            out.append(term)
        return tuple(out)

    def as_prompt(self, max_chars: int = 600) -> str:
        """The hot words as a comma-separated prompt (Whisper's prompt is ~224 tokens)."""
        return ", ".join(self.hotwords(max_chars))

    # ----------------------------------------------------------------- correction

    def correct(self, text: str) -> str:
        """``text`` with near-miss spellings of the terms replaced by the terms."""
        if not self._terms or not text:
            return text
        matches = list(_WORD.finditer(text))
        tokens = []
        for i, m in enumerate(matches):
            nxt = matches[i + 1].start() if i + 1 < len(matches) else None
            joins = nxt is not None and _JOINABLE.fullmatch(text, m.end(), nxt) is not None
            tokens.append(self._token(m.group(), joins))
        out: list[str] = []
        pos = 0
        for rep in self._find(tokens):
            first, last = matches[rep.start], matches[rep.end - 1]
            possessive = _POSSESSIVE.search(last.group())
            out.append(text[pos : first.start()])
            out.append(_cased(rep.term, tokens[rep.start].core) + (possessive.group() if possessive else ""))
            pos = last.end()
        out.append(text[pos:])
        return "".join(out)

    def correct_words(self, words: Sequence[str]) -> list[tuple[int, int, str]]:
        """Corrections for a sequence of recognized words (e.g. Whisper's ``" formin,"``).

        Returns ``(start, end, word)``: words ``start`` to ``end`` (exclusive) become the
        one ``word``, which keeps the leading space and punctuation of the first and the
        trailing punctuation of the last.
        """
        if not self._terms:
            return []
        parts = [_split_word(w) for w in words]
        tokens = []
        for i, (_, core, trail) in enumerate(parts):
            joins = i + 1 < len(parts) and _JOINABLE.fullmatch(trail + parts[i + 1][0]) is not None
            tokens.append(self._token(core, joins))
        result = []
        for rep in self._find(tokens):
            (lead, first, _), (_, last, trail) = parts[rep.start], parts[rep.end - 1]
            possessive = _POSSESSIVE.search(last)
            word = _cased(rep.term, first) + (possessive.group() if possessive else "")
            result.append((rep.start, rep.end, lead + word + trail))
        return result

    def _distinctive(self, index: int, all_common: bool) -> bool:
        """Ordinary words only join into a term with a long sound key: "met for min" may
        be metformin, but "not able" is not the term "notable"."""
        return not all_common or len(self._keys[index]) >= MIN_JOINED_KEY

    def _token(self, word: str, joins_next: bool) -> _Token:
        core = _POSSESSIVE.sub("", word)
        folded = _fold(core)
        return _Token(core, folded, folded in _COMMON, joins_next)

    def _find(self, tokens: Sequence[_Token]) -> list[Replacement]:
        """Best non-overlapping replacements, in text order."""
        found: list[Replacement] = []
        longest = max(len(f) for f in self._folded)
        for i in range(len(tokens)):
            if not tokens[i].folded:
                continue
            joined = ""
            all_common = True
            for j in range(i, min(len(tokens), i + self._max_words + MAX_EXTRA_TOKENS)):
                tok = tokens[j]
                if j > i and not tokens[j - 1].joins_next:
                    break
                joined += tok.folded
                all_common = all_common and tok.common
                if len(joined) > 1.5 * longest:
                    break
                rep = self._best(joined, i, j + 1, all_common, single=j == i)
                if rep is not None:
                    found.append(rep)
        # Highest score first; among equals, the span with fewer pieces.
        found.sort(key=lambda r: (-r.score, r.end - r.start, r.start))
        taken = [False] * len(tokens)
        chosen: list[Replacement] = []
        for rep in found:
            if any(taken[rep.start : rep.end]):
                continue
            for k in range(rep.start, rep.end):
                taken[k] = True
            chosen.append(rep)
        chosen.sort(key=lambda r: r.start)
        return chosen

    def _best(self, joined: str, start: int, end: int, all_common: bool, single: bool) -> Replacement | None:
        exact = self._by_folded.get(joined)
        if exact is not None and (single or self._distinctive(exact, all_common)):
            return Replacement(start, end, self._terms[exact], 1.0)
        if single and all_common:
            return None  # one ordinary English word is never turned into a term
        key = (joined, all_common)
        try:
            hit = self._cache[key]
        except KeyError:
            hit = self._nearest(joined, all_common)
            if len(self._cache) >= _CACHE_SIZE:
                self._cache.clear()
            self._cache[key] = hit
        return Replacement(start, end, self._terms[hit[0]], hit[1]) if hit is not None else None

    def _nearest(self, joined: str, all_common: bool) -> tuple[int, float] | None:
        """The term most like ``joined`` above the thresholds: (index, score)."""
        fuzz = _rapidfuzz()
        similarity = fuzz.distance.Levenshtein.normalized_similarity
        choices, indexes = self._choices(len(joined))
        cutoff = STRICT_SPELLING if all_common else _min_spelling(10)
        hits = fuzz.process.extract(joined, choices, scorer=similarity, score_cutoff=cutoff, limit=5)
        best: tuple[int, float] | None = None
        sound = phonetic_key(joined)
        for _, spelling, position in hits:
            index = indexes[position]
            term_folded = self._folded[index]
            extra = joined[len(term_folded):] if joined.startswith(term_folded) else None
            if extra is not None and (len(extra) == 1 or extra in _SUFFIXES):
                continue  # the term inflected ("aspirins"), or another word ("aspiring")
            if spelling < _min_spelling(len(term_folded)) or not self._distinctive(index, all_common):
                continue
            score = 0.5 * (spelling + similarity(sound, self._keys[index]))
            if score >= THRESHOLD and (best is None or score > best[1]):
                best = (index, score)
        return best

    def _choices(self, length: int) -> tuple[list[str], list[int]]:
        """Terms a candidate of ``length`` letters may be (0.65 to 1.5 times as long)."""
        found = self._by_length.get(length)
        if found is None:
            indexes = [i for i, f in enumerate(self._folded)
                       if len(f) >= MIN_TERM_CHARS and 0.65 <= length / len(f) <= 1.5]
            found = self._by_length[length] = ([self._folded[i] for i in indexes], indexes)
        return found
