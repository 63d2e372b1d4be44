"""Text handling for the fact rules: sentences and clauses of a transcript, fillers, number
words, and first person → third person ("my" → "the user's", "I like" → "the user likes")."""

from __future__ import annotations

import re
from dataclasses import dataclass

from voxloop.dialogue.fact_words import NUMBER_WORDS, PAST_VERBS, PREFIXES, TAILS, TENS

__all__ = ["Clause", "clauses", "is_cased", "normalize", "parse_number", "strip_edges", "third_person"]

_FILLER = re.compile(r",?\s*\b(?:u+m+|u+h+m*|e+r+m+|h+m+|m{2,})\b,?", re.IGNORECASE)
_DOUBLED = re.compile(r"\b(i|my|i'm|the|a|an|to|in|is|like)\s+\1\b", re.IGNORECASE)
_SENTENCE_END = re.compile(r"[.!?;…]+(?=\s|$)")
_ABBREVIATIONS = {"mr", "mrs", "ms", "dr", "st", "jr", "sr", "mt", "prof", "vs", "etc", "e.g", "i.e"}
_I_FORMS = {"i", "i'm", "i'd", "i've", "i'll"}
# after a comma or a conjunction, these words start a new clause
_WIDE = frozenset("""i i'm im i've i'd i'll my me call please remember don't do does did what what's
    whats who who's where where's when why how how's can could would will is are you your you're
    everyone everybody people just keep let's tell""".split())
_CONJUNCTIONS = frozenset("""and but so also plus or because cause since if when while though
    although unless until whereas""".split())
# without a comma or a conjunction, only these start a new clause (run-on ASR text)
_STRONG = ("my name", "my favorite", "my favourite", "i'm", "i am", "i live", "i work", "i moved",
           "i just moved", "i like", "i love", "i hate", "i enjoy", "i prefer", "call me")
_NO_BARE_AFTER = {"that", "remember", "forget", "mind", "note", "friends", "everyone", "everybody", "people",
                  "can", "may", "just", "please"}
# a clause after one of these is conditional, hedged or reported: no facts from it on
_GUARDS = ("if", "when", "whenever", "unless", "although", "though", "because", "cause", "since",
           "whether", "while", "once", "until", "before", "after", "maybe", "perhaps", "probably",
           "possibly", "even", "suppose", "supposing", "imagine", "pretend", "or", "whereas",
           "in case", "as long as", "what if", "i think", "i guess", "i suppose", "i believe",
           "i wish", "i hope", "i doubt", "i wonder", "i dreamt", "i dreamed", "i don't know",
           "i don't think", "i'm not sure", "not sure", "she", "he", "they", "someone",
           "somebody", "people say", "i said", "i heard", "i feel like")
_GREETINGS = ("hi", "hello", "hey", "good morning", "good afternoon", "good evening")
_QUESTION_TAGS = ("right", "correct", "isn't it", "aren't i", "am i", "don't i", "didn't i",
                  "or not", "huh", "eh", "isn't that right", "is that right")
_ADVERBS = {"also", "really", "just", "always", "never", "usually", "still", "only", "often",
            "sometimes", "already", "actually", "too", "definitely", "totally", "probably"}
_PRONOUNS = {"i'm": "the user is", "im": "the user is", "i've": "the user has", "i'd": "the user would",
             "i'll": "the user will", "my": "the user's", "mine": "the user's", "me": "the user",
             "myself": "the user"}
_VERB_FORMS = {"am": "is", "have": "has", "do": "does", "don't": "doesn't", "haven't": "hasn't"}


@dataclass(frozen=True, slots=True)
class Clause:
    text: str
    bare: bool  # split off without a comma or a conjunction (trust it only after a fact)
    guarded: bool  # follows a conditional, hedged or reported clause
    after: str  # the clause before it in the sentence ("" for the first)


def normalize(text: str) -> str:
    """Typographic apostrophes, fillers ("um", "uh"), doubled words and spaces removed."""
    text = text.replace("\u2019", "'").replace("\u2018", "'")
    text = _FILLER.sub(" ", text)
    text = _DOUBLED.sub(r"\1", text)
    return " ".join(text.split())


def _sentences(text: str) -> list[str]:
    out: list[str] = []
    start = 0
    for m in _SENTENCE_END.finditer(text):
        word = text[start:m.start()].rsplit(" ", 1)[-1].lower()
        if m.group() == "." and word in _ABBREVIATIONS:
            continue
        out.append(text[start:m.end()].strip())
        start = m.end()
    if text[start:].strip():
        out.append(text[start:].strip())
    return out


def _norm(token: str) -> str:
    return token.lower().strip(",.!?;:\"()")


def _starts(words: list[str], phrases: tuple[str, ...]) -> bool:
    head = " ".join(words[:4]) + " "
    return any(head.startswith(p + " ") for p in phrases)


def strip_edges(text: str) -> tuple[str, bool]:
    """The clause without leading fillers and trailing tags, and whether a tag made it a question."""
    text = text.strip(" ,.!;:")
    changed = True
    while changed:
        changed = False
        low = text.lower()
        for p in PREFIXES:
            if low.startswith(p) and (len(low) == len(p) or low[len(p)] in " ,"):
                text, changed = text[len(p):].lstrip(" ,"), True
                break
    question = False
    changed = True
    while changed and text:
        changed = False
        low = text.lower()
        for t in TAILS + _QUESTION_TAGS:
            if low == t or low.endswith(" " + t) or low.endswith("," + t):
                question = question or t in _QUESTION_TAGS
                text, changed = text[: len(text) - len(t)].rstrip(" ,"), True
                break
    return text, question


def clauses(text: str) -> list[Clause]:
    """The clauses of a normalised transcript, each with its trailing "?" kept."""
    out: list[Clause] = []
    for sentence in _sentences(text):
        tokens = sentence.split()
        words = [_norm(t) for t in tokens]
        cuts: list[tuple[int, bool]] = [(0, False)]
        i = 1
        while i < len(tokens):
            nxt = words[i + 1] if i + 1 < len(words) else ""
            comma = tokens[i - 1].endswith(",")
            if (comma and words[i] in _WIDE) or (words[i] in _CONJUNCTIONS and nxt in _WIDE):
                cuts.append((i, False))
                i += 2
                continue
            if not comma and words[i - 1] not in _NO_BARE_AFTER and _starts(words[i:], _STRONG):
                cuts.append((i, True))
            i += 1
        guarded, before = False, ""
        for n, (start, bare) in enumerate(cuts):
            end = cuts[n + 1][0] if n + 1 < len(cuts) else len(tokens)
            part = " ".join(tokens[start:end])
            out.append(Clause(part, bare, guarded, before))
            lead = start
            while lead < end and words[lead] in ("and", "but", "so", "also", "plus", "oh", "well"):
                lead += 1
            guarded = guarded or _starts(words[lead:end], _GUARDS)
            before = part
    return out


def is_greeting(text: str) -> bool:
    """A clause that is only a greeting, a filler, or a greeting and a name ("hi Nova")."""
    rest, _ = strip_edges(text)
    words = [_norm(w) for w in text.split()]
    return not rest or (_starts(words, _GREETINGS) and len(words) <= 4)


def is_cased(text: str) -> bool:
    """Whether the transcript capitalises words (beyond sentence starts and "I"): then a name
    must be capitalised to count as one."""
    for sentence in _sentences(text):
        for word in sentence.split()[1:]:
            if word.lower().strip(",.!?;:") not in _I_FORMS and any(c.isupper() for c in word):
                return True
    return False


def parse_number(text: str) -> int | None:
    """ "42", "forty-two", "a hundred and five" → the number (0–199); anything else → None."""
    words = text.lower().replace("-", " ").split()
    if len(words) == 1 and words[0].isdigit():
        return int(words[0])
    total = 0
    if words[:2] in (["a", "hundred"], ["one", "hundred"]):
        total, words = 100, words[2:]
        if words[:1] == ["and"]:
            words = words[1:]
        if not words:
            return total
    if words and words[0] in TENS:
        total += TENS[words[0]]
        words = words[1:]
        if words and 0 < NUMBER_WORDS.get(words[0], 0) < 10:
            total += NUMBER_WORDS[words[0]]
            words = words[1:]
    elif words and words[0] in NUMBER_WORDS:
        total += NUMBER_WORDS[words[0]]
        words = words[1:]
    else:
        return None
    return None if words else total


def _third_person_verb(verb: str) -> str:
    low = verb.lower()
    if low in _VERB_FORMS:
        return _VERB_FORMS[low]
    past = low.endswith("ed") and not low.endswith("eed")  # "parked", not "need"
    if low in PAST_VERBS or past or low.endswith("n't") or not low.isalpha():
        return verb
    if low.endswith(("s", "sh", "ch", "x", "z", "o")):
        return verb + "es"
    if low.endswith("y") and len(low) > 1 and low[-2] not in "aeiou":
        return verb[:-1] + "ies"
    return verb + "s"


def third_person(text: str) -> str:
    """First person → "the user": "my" → "the user's", "I'm" → "the user is", "me" → "the
    user", and the verb after "I" conjugated ("I need" → "the user needs")."""
    parts = re.split(r"([\w']+)", text)
    i = 1
    while i < len(parts):
        low = parts[i].lower()
        if low in _PRONOUNS:
            parts[i] = _PRONOUNS[low]
        elif low == "i":
            parts[i] = "the user"
            j = i + 2
            while j < len(parts) and parts[j].lower() in _ADVERBS and parts[j - 1] == " ":
                j += 2
            if j < len(parts) and parts[j - 1] == " ":
                parts[j] = _third_person_verb(parts[j])
                i = j
        i += 2
    return "".join(parts)
