"""Rules (regular expressions) that find the facts a user states in one turn of speech.

Each clause of the transcript (:mod:`~voxloop.dialogue.fact_grammar`) is tried against
anchored patterns (:mod:`~voxloop.dialogue.fact_patterns`: "my name is X", "I live in X", "I like
X"…, then "my X is Y" and "remember that X" here); a pattern's value must then pass checks
(:mod:`~voxloop.dialogue.fact_values`). Questions, negations, conditional, hedged or reported
clauses give nothing: a false fact is worse than a missed one.
"""

from __future__ import annotations

import re

from voxloop.dialogue.fact_grammar import (
    clauses,
    is_cased,
    is_greeting,
    normalize,
    strip_edges,
    third_person,
)
from voxloop.dialogue.fact_patterns import I_AM, RULES
from voxloop.dialogue.fact_values import (
    NAME_WORD,
    VAGUE,
    StatedFact,
    clean_value,
    make_fact,
    name,
    normalize_key,
    word_list,
)
from voxloop.dialogue.fact_words import ATTRIBUTE_HEADS, FAMILY_PETS, SECRET_WORDS, STATE_VERBS

__all__ = ["extract_facts"]

_RELATIVE_TIME = {"today", "tomorrow", "yesterday", "tonight", "soon", "next", "this", "last", "later"}


def _attribute(clause: str, cased: bool) -> StatedFact | None:
    """ "my X is Y" for X a known attribute ("favorite color", "dog's name", "birthday")."""
    tokens = clause.split()
    for i in range(1, min(len(tokens), 7)):
        t = tokens[i].lower()
        if t in ("is", "are"):
            x, verb, rest = tokens[1:i], t, tokens[i + 1:]
            break
        if t.endswith("'s") and normalize_key(t[:-2]) in ATTRIBUTE_HEADS:
            x, verb, rest = [*tokens[1:i], tokens[i][:-2]], "is", tokens[i + 1:]
            break
    else:
        return None
    key = normalize_key(" ".join(x))
    keys = key.split()
    if not keys or len(keys) > 4 or any(w in SECRET_WORDS for w in keys) or not all(NAME_WORD.fullmatch(w) for w in x):
        return None
    while rest and rest[0].lower() in ("actually", "definitely", "also"):
        rest = rest[1:]
    said = " ".join(x)
    if keys[-1] in FAMILY_PETS and len(keys) == 1 and rest and rest[0].lower() in ("called", "named"):
        v = name(" ".join(rest[1:]), cased)
        return make_fact(f"The user's {said} is {rest[0].lower()} {v}", f"{key}'s name") if v else None
    if not (keys[0] == "favorite" and len(keys) > 1) and keys[-1] not in ATTRIBUTE_HEADS:
        return None
    if keys[-1] == "name":
        v = name(" ".join(rest), cased)
    else:
        v = clean_value(" ".join(rest))
        if v and word_list(v)[0] in _RELATIVE_TIME:
            v = None
    return make_fact(f"The user's {said} {verb} {third_person(v)}", key) if v else None


_REMEMBER = re.compile(
    r"(?:(?:please|and|also|just|oh)\s+)*(?P<ask>(?:can|could|will|would)\s+you\s+(?:please\s+)?"
    r"|i (?:want|need) you to\s+|i'd like you to\s+)?(?:please\s+)?"
    r"(?:remember|note|keep in mind|don't forget|do not forget|never forget|make a note)"
    r"(?P<that>\s+that)?(?:\s*:|\s*,)?\s+(?P<v>.+)", re.IGNORECASE)
# after "remember that", what starts a statement (otherwise "that" was "that song")
_SUBJECTS = {"i", "i'm", "i've", "i'd", "i'll", "my", "we", "we're", "our", "the", "a", "an", "he",
             "she", "they", "his", "her", "their", "there", "there's", "tomorrow", "today", "every"}


def _remember(clause: str, question: bool, cased: bool) -> StatedFact | None:
    """ "remember that X" (or "don't forget X", "can you remember X?"): the fact X states if a
    rule finds one, else "Remember: X." in the third person, if X is a statement."""
    m = _REMEMBER.fullmatch(clause)
    if m is None or (question and not m["ask"]):
        return None
    value = m["v"].strip(" ,.!;:")
    words, said = word_list(value), value.split()
    if len(words) < 2 or words[0] in VAGUE or words[0] in ("me", "us", "when", "how", "what", "to"):
        return None
    if m["that"] and not (words[0] in _SUBJECTS or said[0][0].isdigit() or (cased and said[0][0].isupper())):
        return None
    if not any(w in STATE_VERBS or ("'" in w and w[w.index("'"):] in STATE_VERBS) for w in words) \
            and "i" not in words[:-1]:
        return None
    return _clause_fact(value, cased) or make_fact(f"Remember: {third_person(value)}")


def _clause_fact(clause: str, cased: bool) -> StatedFact | None:
    question = clause.rstrip().endswith("?")
    text, tagged = strip_edges(clause.rstrip(" ?"))
    if not text:
        return None
    remembered = _remember(text, question or tagged, cased)
    if remembered or question or tagged:
        return remembered
    for pattern, build in RULES:
        m = pattern.fullmatch(text)
        if m is not None and (fact := build(m, cased)) is not None:
            return fact
    if text.lower().startswith("my "):
        return _attribute(text, cased)
    m = re.fullmatch(I_AM + r"\s+called\s+(?P<c>.+)|" + I_AM + r"\s+(?P<v>.+)", text, re.IGNORECASE)
    v = name(m["v"] or m["c"], cased, strict=True) if m else None
    return make_fact(f"The user's name is {v}", "name") if v else None


def extract_facts(text: str) -> list[StatedFact]:
    """The facts the user states in one turn (an ASR transcript or typed text), in order; of
    two facts with the same key the later one stays."""
    text = normalize(text)
    cased = is_cased(text)
    facts: list[StatedFact] = []
    last: StatedFact | None = None
    for clause in clauses(text):
        trusted = not clause.bare or last is not None or is_greeting(clause.after)
        last = _clause_fact(clause.text, cased) if trusted and not clause.guarded else None
        if last is not None:
            facts = [f for f in facts if f.text != last.text and (last.key is None or f.key != last.key)]
            facts.append(last)
    return facts
