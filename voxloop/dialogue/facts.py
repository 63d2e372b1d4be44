"""Long-term facts a user states ("my name is Ada", "I live in Lyon"): found by rules in one
turn (:func:`extract_facts`) or by a capable model (:func:`fact_extraction_messages`, then
:func:`parse_extracted_facts`), and put before a conversation as one system note
(:func:`facts_message`). Pure: no I/O.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from typing import Any

from voxloop.dialogue.fact_rules import extract_facts
from voxloop.dialogue.fact_values import MAX_FACT_CHARS, StatedFact, normalize_key
from voxloop.engines.types import ChatMessage

__all__ = [
    "FACTS_HEADER",
    "MAX_FACT_CHARS",
    "StatedFact",
    "extract_facts",
    "fact_extraction_messages",
    "fact_key",
    "facts_message",
    "normalize_key",
    "parse_extracted_facts",
]

FACTS_HEADER = "What you know about the user from earlier conversations:"
MAX_KEY_CHARS = 40
MAX_FACTS_PER_TURN = 10
_MAX_REPLY_CHARS = 20_000
_THINK = re.compile(r"<think>.*?(?:</think>|$)", re.DOTALL | re.IGNORECASE)
# fact texts the rules write, back in the first person (to find their key with the same rules)
_FIRST_PERSON = (("The user's ", "my "), ("The user is ", "I'm "), ("The user wants to be called ", "call me "),
                 ("The user lives ", "I live "), ("The user works ", "I work "), ("The user ", "I "))

_EXTRACTION_PROMPT = """\
You find long-term facts about the user in one thing the user said.
Reply with a JSON array and nothing else. Each element is {"fact": "...", "key": ...}:
- "fact": one short sentence in the third person that starts with "The user", for example \
"The user's name is Ada.", "The user lives in Lyon.", "The user likes jazz."
- "key": what a newer fact of the same kind replaces ("name", "age", "home", "job", \
"workplace", "favorite color", "dog's name"), or null for facts that add up (likes, \
dislikes, allergies).
Only facts the user states about themselves that stay true: no questions, guesses, requests \
or plans, nothing about the assistant, nothing passing (moods, what they are doing now), no \
passwords or card numbers. If there are none, reply [].
Example: "I'm Ada and I hate mushrooms. What's the weather?" -> \
[{"fact": "The user's name is Ada.", "key": "name"}, \
{"fact": "The user doesn't like mushrooms.", "key": null}]"""


def facts_message(facts: Sequence[str]) -> str:
    """The system note that puts ``facts`` before the conversation ("" if there are none)."""
    lines: list[str] = []
    for fact in facts:
        text = " ".join(fact.split())
        if text and text not in lines:
            lines.append(text)
    return "\n".join([FACTS_HEADER, *(f"- {line}" for line in lines)]) if lines else ""


def fact_key(text: str) -> str | None:
    """The key of a fact text as :func:`extract_facts` writes it ("The user's name is Ada." →
    "name"); ``None`` for other texts and for facts that accumulate."""
    for third, first in _FIRST_PERSON:
        if text.startswith(third):
            facts = extract_facts(first + text[len(third):])
            return facts[0].key if len(facts) == 1 else None
    return None


def fact_extraction_messages(text: str) -> list[ChatMessage]:
    """A chat asking a model for the facts in one user turn, as a JSON array of
    ``{"fact", "key"}`` objects (``[]`` if there are none); read the reply with
    :func:`parse_extracted_facts`."""
    return [ChatMessage("system", _EXTRACTION_PROMPT),
            ChatMessage("user", f"The user said:\n{' '.join(text.split())}")]


def _candidates(reply: str) -> Iterable[Any]:
    """Every JSON value that starts at a "[" or "{" of ``reply``, in order."""
    decoder = json.JSONDecoder()
    for m in re.finditer(r"[\[{]", reply):
        try:
            yield decoder.raw_decode(reply, m.start())[0]
        except (ValueError, RecursionError):
            continue


def _entries(reply: str) -> list[Any]:
    reply = _THINK.sub("", reply[:_MAX_REPLY_CHARS])
    for value in _candidates(reply):
        if isinstance(value, list):
            return value
        if isinstance(value, dict):
            if isinstance(value.get("facts"), list):
                return list(value["facts"])
            if "fact" in value:
                return [value]
    return []


def _key(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    key = normalize_key(value.strip(" \"'.").replace("_", " "))
    return key if key and len(key) <= MAX_KEY_CHARS and key not in ("null", "none") else None


def parse_extracted_facts(reply: str) -> list[StatedFact]:
    """The facts in a model's reply to :func:`fact_extraction_messages`: the first JSON array
    in it (junk around it, a ``<think>`` block or a ``{"facts": [...]}`` wrapper are fine).
    Entries whose ``fact`` is not a string, is empty, longer than ``MAX_FACT_CHARS``, a
    question, or does not mention the user are dropped; never raises."""
    facts: list[StatedFact] = []
    for entry in _entries(reply):
        text, key = (entry.get("fact"), entry.get("key")) if isinstance(entry, dict) else (entry, None)
        if not isinstance(text, str):
            continue
        text = " ".join(text.split()).rstrip(" ,;:")
        if not text or text.endswith("?") or "user" not in text.lower():
            continue
        text = text if text.endswith((".", "!")) else text + "."
        if len(text) > MAX_FACT_CHARS:
            continue
        fact = StatedFact(text[0].upper() + text[1:], _key(key))
        facts = [f for f in facts if f.text != fact.text and (fact.key is None or f.key != fact.key)]
        facts.append(fact)
        if len(facts) >= MAX_FACTS_PER_TURN:
            break
    return facts
