"""The checks a fact's value must pass (a name is one to three name-like words, a job a known
occupation, a value is not "it" or "you"…), and the :class:`StatedFact` they build."""

from __future__ import annotations

import re
from dataclasses import dataclass

from voxloop.dialogue.fact_grammar import third_person
from voxloop.dialogue.fact_words import JOBS, NAME_PARTICLES, NAME_STOP

__all__ = ["MAX_FACT_CHARS", "NAME_WORD", "VAGUE", "StatedFact", "clean_value", "job", "make_fact", "name",
           "normalize_key", "place", "word_list"]

MAX_FACT_CHARS = 200


@dataclass(frozen=True, slots=True)
class StatedFact:
    """One sentence about the user as a model reads it ("The user lives in Lyon."); ``key``
    names what a newer fact replaces ("home"), ``None`` for facts that accumulate."""

    text: str
    key: str | None = None


NAME_WORD = re.compile(r"[^\W\d_]+(?:[-'][^\W\d_]+)*")
# a value starting with one of these says nothing lasting ("I like it", "my name is not Bob")
VAGUE = {"it", "that", "this", "them", "those", "these", "there", "here", "what", "when", "how",
         "why", "where", "which", "who", "whatever", "everything", "nothing", "something",
         "anything", "him", "her", "one", "so", "not", "never", "no", "neither", "either", "both",
         "none", "all"}
_DEICTIC = {"it", "that", "this", "them", "there", "here", "him", "her"}
_YOU = {"you", "your", "yours", "you're", "yourself", "u"}
_PLACE_STOP = {"fear", "hope", "the moment", "the past", "the future", "denial", "a dream", "peace",
               "sin", "the present", "a bubble", "my head", "my own world", "luxury", "poverty"}
_PLACE_WORD_STOP = {"family", "background", "line", "generation", "work", "school", "gym", "office"}
_VERB_START = {"get", "be", "make", "find", "work", "study", "help", "take", "start", "join", "live",
               "go", "do", "have", "see", "try", "save", "escape", "retire", "teach", "pursue"}
_SPELLING = {"favourite": "favorite", "colour": "color", "colours": "colors", "surname": "last name"}


def _sentence(text: str) -> str | None:
    text = " ".join(text.split()).rstrip(" ,;:.!…")
    if not text or len(text) + 1 > MAX_FACT_CHARS:
        return None
    return text[0].upper() + text[1:] + "."


def make_fact(text: str, key: str | None = None) -> StatedFact | None:
    """``text`` as one sentence ("." added, first letter capitalised); ``None`` if empty or
    longer than ``MAX_FACT_CHARS``."""
    sentence = _sentence(text)
    return StatedFact(sentence, key) if sentence else None


def word_list(value: str) -> list[str]:
    """The words of ``value``, lower case, without punctuation around them."""
    return [w.lower().strip(",.!?;:\"") for w in value.split()]


def clean_value(value: str) -> str | None:
    """A value that says something: not empty, not negated, not "it"/"that", not about "you"."""
    value = value.strip(" ,.!;:")
    words = word_list(value)
    if not words or words[0] in VAGUE or words[0].endswith("n't") or any(w in _YOU for w in words):
        return None
    if words[-1] in ("one", "ones", "option") or words[-1] in _DEICTIC:
        return None
    return value


def name(value: str, cased: bool, strict: bool = False) -> str | None:
    """1–3 name-like words, none a stop word; capitalised if the transcript is cased (or
    ``strict``), title-cased otherwise."""
    words = value.split(",")[0].split()
    core = [w for i, w in enumerate(words) if not (i and w.lower() in NAME_PARTICLES)]
    if not 1 <= len(core) <= 3 or len(words) > 4 or (len(words) > 1 and words[-1].lower() in NAME_PARTICLES):
        return None
    for w in core:
        if not NAME_WORD.fullmatch(w) or w.lower() in NAME_STOP:
            return None
        if (cased or strict) and not w[0].isupper():
            return None
    if not (cased or strict):
        words = ["-".join(p[:1].upper() + p[1:] for p in w.split("-")) for w in words]
    return " ".join(words)


def place(value: str, cased: bool, proper: bool) -> str | None:
    """A place: cut at a comma unless a capitalised word follows ("Lyon, France"); ``proper``
    asks for a capitalised word when the transcript is cased."""
    value = re.split(r",(?!\s*[A-Z])", value)[0]
    checked = clean_value(value)
    if checked is None or checked.lower() in _PLACE_STOP or len(checked.split()) > 8 \
            or any(w in _PLACE_WORD_STOP for w in word_list(checked)):
        return None
    first = checked.split()[0]
    if proper and (not any(w[0].isupper() for w in checked.split()) if cased else first.lower() in _VERB_START):
        return None
    return third_person(checked)


def job(article: str, value: str) -> str | None:
    """ "a retired teacher (at the school)": up to three modifiers, a known occupation, and an
    optional phrase starting with a preposition."""
    words = value.split()
    low = word_list(value)
    for i, w in enumerate(low[:4]):
        if w in JOBS:
            mods, tail = low[:i], low[i + 1:]
            if any(m in ("fan", "bit", "little", "lot", "kind", "sort", "type", "of", "huge", "big") for m in mods):
                return None
            if tail and (tail[0] not in ("at", "in", "for", "with", "from", "by") or len(tail) > 8):
                return None
            return f"{article} {third_person(' '.join(words))}"
    return None



def normalize_key(text: str) -> str:
    """ "Favourite  Colour" → "favorite color": lower case, one spelling, single spaces."""
    return " ".join(_SPELLING.get(w, w) for w in text.lower().split())

