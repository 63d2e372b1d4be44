"""An extractive rolling summary, without a model (the embedded 135M model cannot summarise):
the facts the user stated, "The user asked about …" for each question, "The assistant said:
…" (the first sentence of each reply), the newest lines winning when it grows too long."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from voxloop.dialogue.fact_grammar import normalize, strip_edges
from voxloop.dialogue.facts import extract_facts, fact_key
from voxloop.dialogue.history import Item

__all__ = ["rule_summary", "shorten"]

_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")
_QUESTION_START = re.compile(
    r"(?:what|what's|who|who's|whom|whose|where|where's|when|why|how|how's|which|do|does|did|is|are|am|was|"
    r"were|can|could|would|will|should|shall|may|have|has|isn't|aren't|don't|doesn't|tell me|explain|"
    r"describe|give me|show me|help me|recommend|suggest)\b", re.IGNORECASE)
_REQUEST = re.compile(r"(?:tell me|explain|describe|give me|show me|help me|recommend|suggest)\b", re.IGNORECASE)
_TOPIC = re.compile(
    r"(?:(?:can|could|would|will) you\s+)?(?:please\s+)?(?:tell me|talk|teach me|explain)\s+about\s+(?P<a>.+)"
    r"|(?:what|who)(?:'s|\s+is|\s+are|\s+was|\s+were)\s+(?P<b>.+)"
    r"|(?:do you know|have you heard of|what do you know about|what about|how about)\s+(?P<c>.+)",
    re.IGNORECASE)
QUESTION_CHARS = 90
REPLY_CHARS = 110
TOOL_CHARS = 80
QUESTIONS_PER_TURN = 2


@dataclass(frozen=True, slots=True)
class _Line:
    text: str
    fact: bool  # a fact the user stated: kept over other lines when the summary is too long
    key: str | None = None


def shorten(text: str, limit: int) -> str:
    """``text`` on one line, cut at a word boundary to at most ``limit`` characters ("…" added)."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut).rstrip(" ,;:.") + "…"


def _closed(text: str) -> str:
    return text if text.endswith((".", "!", "?", "…")) else text + "."


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.split(" ".join(text.split())) if s.strip()]


def _questions(text: str) -> list[str]:
    """ "The user asked about X." / "The user asked: Q?" for the questions and requests of a turn."""
    out: list[str] = []
    for sentence in _sentences(normalize(text)):
        body, _ = strip_edges(sentence.rstrip(" ?"))
        if not body or not (sentence.endswith("?") or _QUESTION_START.match(body)):
            continue
        m = _TOPIC.fullmatch(body)
        topic = (m["a"] or m["b"] or m["c"]) if m else None
        if topic:
            out.append(f"The user asked about {shorten(topic, QUESTION_CHARS)}.")
        else:
            request, body = _REQUEST.match(body), shorten(body, QUESTION_CHARS)
            end = "" if body.endswith("…") else "." if request else "?"
            out.append(f"The user asked: {body[0].lower() + body[1:]}{end}")
    return out[-QUESTIONS_PER_TURN:]


def _item_lines(items: Sequence[Item]) -> list[_Line]:
    names = {i.call_id: i.name for i in items if i.type == "function_call"}
    out: list[_Line] = []
    for item in items:
        if item.blank:
            continue
        if item.type == "function_call_output":
            name = item.name or names.get(item.call_id)
            tool = f"The {name} tool" if name else "A tool"
            out.append(_Line(_closed(f"{tool} returned: {shorten(item.text, TOOL_CHARS)}"), False))
        elif item.type == "message" and item.role == "user":
            out.extend(_Line(f.text, True, f.key) for f in extract_facts(item.text))
            out.extend(_Line(q, False) for q in _questions(item.text))
        elif item.type == "message" and item.role == "assistant":
            first = _sentences(item.text)[0]
            out.append(_Line(_closed(f"The assistant said: {shorten(first, REPLY_CHARS)}"), False))
    return out


def _previous_lines(previous: str) -> list[_Line]:
    out: list[_Line] = []
    for raw in previous.splitlines():
        raw = raw.strip().lstrip("-•* ").strip()
        for text in _sentences(raw) if raw else []:
            fact = text.startswith("Remember:") or (text.startswith("The user") and not text.startswith("The user asked"))
            out.append(_Line(text, fact, fact_key(text) if fact else None))
    return out


def _merge(lines: list[_Line]) -> list[_Line]:
    """Later lines win: an older line with the same text, or a fact with the same key, goes."""
    out: list[_Line] = []
    for line in lines:
        out = [o for o in out if o.text != line.text and (line.key is None or o.key != line.key)]
        out.append(line)
    return out


def rule_summary(previous: str, items: Sequence[Item], max_chars: int = 600) -> str:
    """``previous`` (a summary text) extended with the lines of ``items``, one per line. Over
    ``max_chars``, the oldest lines go first, facts the user stated only when nothing else is
    left; a last line still too long is shortened. Deterministic."""
    lines = _merge(_previous_lines(previous) + _item_lines(items))

    def size() -> int:
        return sum(len(line.text) + 1 for line in lines) - 1

    while len(lines) > 1 and size() > max_chars:
        drop = next((i for i, line in enumerate(lines) if not line.fact), 0)
        del lines[drop]
    text = "\n".join(line.text for line in lines)
    return shorten(text, max_chars) if len(text) > max_chars else text
