"""Rolling summaries: once a conversation grows long, its older turns are summarised and the
summary stands in for them; the last few turns stay verbatim.

:func:`summary_cut` says how far the summary should reach; :func:`rule_summary` writes one
without a model, :func:`summary_messages` and :func:`clean_summary` with one;
:func:`summary_message` is the system note that carries it. Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from voxloop.dialogue.history import SUMMARY_HEADER, Item, summary_message
from voxloop.dialogue.summary_rules import rule_summary, shorten
from voxloop.engines.types import ChatMessage

__all__ = ["EARLIER_HEADER", "SUMMARY_HEADER", "clean_summary", "earlier_message", "rule_summary", "summary_cut",
           "summary_message", "summary_messages"]

EARLIER_HEADER = "Earlier in this conversation:"  # summary lines recalled next to the turn they concern

ITEM_CHARS = 2000  # longer items are shortened in the prompt
_THINK = re.compile(r"<think>.*?(?:</think>|$)", re.DOTALL | re.IGNORECASE)
_LABEL = re.compile(r"^(?:here(?:'s| is) (?:the |a |an |your )?(?:new |updated )?summary[^:\n]*:|"
                    r"(?:new |updated )?summary(?: of the conversation)?(?: so far)?:)\s*", re.IGNORECASE)
_SENTENCE_END = re.compile(r"[.!?…](?=\s|$)")

_SUMMARY_PROMPT = """\
You summarise a conversation between a user and an assistant for the assistant's memory.
Write at most 5 short sentences in the third person ("The user …", "The assistant …").
Keep every fact the user stated about themselves (names, numbers, dates, places, \
preferences), what was decided, and questions still open. Fold the previous summary in; \
where they disagree, the newer information wins. Reply with the summary only."""


def earlier_message(lines: Sequence[str]) -> str:
    """The note that recalls ``lines`` of this conversation's summary beside a turn ("" if none)."""
    kept = [" ".join(line.split()) for line in lines if line.strip()]
    return "\n".join([EARLIER_HEADER, *(f"- {line}" for line in kept)]) if kept else ""


def _splits_call(items: Sequence[Item], cut: int) -> bool:
    """Whether a function_call and its output would fall on both sides of ``cut``."""
    before = {i.call_id for i in items[:cut] if i.type != "message" and i.call_id}
    return any(i.type != "message" and i.call_id in before for i in items[cut:])


def summary_cut(items: Sequence[Item], keep_turns: int, after: str | None) -> int | None:
    """The index ``cut`` such that ``items[:cut]`` should be covered by the summary after this
    round, or ``None`` if there is nothing new to cover.

    ``after`` is the id of the last item the summary covers already (``None``: none; an id no
    longer among ``items`` counts as none). A cut falls just before a user message (a user
    message starts a turn) so that at least the last ``keep_turns`` user turns stay verbatim,
    never between a function_call and its output, and never past an item still in progress.
    ``keep_turns == 0`` may cut at the end."""
    if keep_turns < 0:
        raise ValueError("keep_turns must be >= 0")
    start = next((n + 1 for n, item in enumerate(items) if item.id == after), 0) if after else 0
    turns = [n for n, item in enumerate(items) if item.type == "message" and item.role == "user"]
    candidates = turns[: max(0, len(turns) - keep_turns + 1)] if keep_turns else [*turns, len(items)]
    for cut in reversed(candidates):
        if cut <= start:
            return None
        if _splits_call(items, cut) or any(i.status == "in_progress" for i in items[start:cut]):
            continue
        return cut
    return None


def _transcript_line(item: Item, names: dict[str, str]) -> str | None:
    if item.blank:
        return None
    text = shorten(item.text, ITEM_CHARS)
    if item.type == "function_call":
        return f"Assistant called {item.name}({shorten(item.arguments, ITEM_CHARS)})"
    if item.type == "function_call_output":
        name = item.name or names.get(item.call_id)
        return f"Tool {name} returned: {text}" if name else f"A tool returned: {text}"
    if item.role == "system":
        return None
    return f"{'User' if item.role == 'user' else 'Assistant'}: {text}"


def summary_messages(previous: str, items: Sequence[Item]) -> list[ChatMessage]:
    """A chat asking a model to summarise ``items`` into ``previous`` (a summary, or "");
    read the reply with :func:`clean_summary`."""
    names = {i.call_id: i.name for i in items if i.type == "function_call"}
    lines = [line for item in items if (line := _transcript_line(item, names))]
    body = (f"Previous summary:\n{previous.strip() or '(none)'}\n\n"
            f"Conversation:\n{chr(10).join(lines) or '(nothing new)'}\n\n"
            "Write the new summary (at most 5 short sentences).")
    return [ChatMessage("system", _SUMMARY_PROMPT), ChatMessage("user", body)]


def clean_summary(reply: str, max_chars: int = 800) -> str:
    """A model's summary without reasoning (``<think>``), code fences, a "Summary:" label,
    Markdown bullets or emphasis; cut at a sentence end to at most ``max_chars``."""
    text = _THINK.sub("", reply).replace("**", "").replace("__", "")
    lines: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("```") or not line:
            continue
        line = re.sub(r"^(?:#+\s*|[-*•]\s+|\d+[.)]\s+)", "", line)
        line = _LABEL.sub("", line).strip().strip('"').strip()
        if line:
            lines.append(" ".join(line.split()))
    text = "\n".join(lines)
    if len(text) <= max_chars:
        return text
    ends = [m.end() for m in _SENTENCE_END.finditer(text, 0, max_chars)]
    if ends and ends[-1] >= max_chars // 2:
        return text[: ends[-1]]
    return shorten(text, max_chars)
