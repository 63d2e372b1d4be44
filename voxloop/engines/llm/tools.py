"""Function calling for local models that were never trained for it (pure: no model, no I/O).

A local GGUF (the embedded SmolLM2-135M included) gets tools in two grammar-constrained steps:

1. **decision**: the system prompt lists the tools. For ``auto`` the assistant turn first
   answers ``Should I call a tool? Answer: `` with ``yes`` or ``no`` under a GBNF grammar
   (``no``: reply in words); then (and for ``required``) the model writes one tool name under a
   grammar that allows only those names. Skipped when ``tool_choice`` names a tool (or there is
   one tool and it is required), and for ``auto`` right after a tool result (the model should now
   answer in words).
2. **arguments**: the assistant turn is prefixed with ``Calling name(`` and the model writes the
   arguments under a grammar made from the tool's JSON schema, free strings bounded to
   ``STRING_MAX`` characters (or any JSON object when the schema is beyond llama.cpp's
   converter). One call per reply.

Chat templates of such models cannot show tool calls or ``tool`` messages (SmolLM2's renders
``role`` and ``content`` only), so :func:`render_turns` turns them into plain text: the
assistant said ``Calling get_weather({"city": "Paris"})`` and the user reported
``Here is the result of get_weather: {...}``. That is also the text the arguments step generates, so a
follow-up turn shares its KV cache prefix with the call.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from voxloop.engines.types import TOOL_CHOICES, ChatMessage, LLMOptions, ToolCall, ToolSpec
from voxloop.errors import InvalidRequest

__all__ = [
    "ASK_PREFIX",
    "JSON_OBJECT_GBNF",
    "Plan",
    "STRING_MAX",
    "Turn",
    "arguments_grammar",
    "bounded",
    "call_prefix",
    "call_text",
    "check_tool_choice",
    "decision_grammar",
    "mentioned",
    "new_call_id",
    "plan",
    "render_turns",
    "result_text",
    "reply_word",
    "tools_prompt",
    "with_tools",
    "YES_NO",
]

logger = logging.getLogger(__name__)

Turn = tuple[str, str]  # (role, content) as the chat template gets it

# Any JSON object, with at most one space between tokens (a free-whitespace grammar lets a small
# model loop on newlines and indentation).
JSON_OBJECT_GBNF = r"""root ::= object
value ::= object | array | string | number | ("true" | "false" | "null")
object ::= "{" ws ( string ws ":" ws value ( ws "," ws string ws ":" ws value )* )? ws "}"
array ::= "[" ws ( value ( ws "," ws value )* )? ws "]"
string ::= "\"" ( [^"\\\x7F\x00-\x1F] | "\\" ( ["\\/bfnrt] | "u" [0-9a-fA-F]{4} ) )* "\""
number ::= "-"? ( "0" | [1-9] [0-9]{0,15} ) ( "." [0-9]+ )? ( [eE] [-+]? [0-9]+ )?
ws ::= " "?
"""


def new_call_id() -> str:
    """``call_`` + 20 random URL-safe characters (the model gives none)."""
    return "call_" + secrets.token_urlsafe(15)[:20]


def call_prefix(name: str) -> str:
    """What the assistant turn starts with when it calls ``name``; the arguments follow."""
    return f"Calling {name}("


def call_text(call: ToolCall) -> str:
    """A call as plain assistant text: ``Calling get_weather({"city": "Paris"})``."""
    return f"{call_prefix(call.name)}{call.arguments})"


def result_text(message: ChatMessage) -> str:
    """A tool result as the user's words (of the phrasings tried on SmolLM2-135M, the one after
    which it most often answered the question instead of discussing the call)."""
    name = message.name or "the tool"
    return f"Here is the result of {name}: {message.content}\nNow answer my question in one sentence."


def render_turns(messages: Sequence[ChatMessage]) -> tuple[Turn, ...]:
    """``messages`` as (role, content) turns any chat template shows: tool calls become the
    assistant's text, tool results become user turns (a ``tool`` role means nothing to a model
    that never saw one, and most templates drop ``tool_calls``)."""
    turns: list[Turn] = []
    for m in messages:
        if m.role == "tool":
            turns.append(("user", result_text(m)))
        elif m.role == "assistant" and m.tool_calls:
            text = "\n".join(call_text(c) for c in m.tool_calls)
            turns.append(("assistant", f"{m.content}\n{text}" if m.content else text))
        else:
            turns.append((m.role, m.content))
    return tuple(turns)


def reply_word(tools: Sequence[ToolSpec]) -> str:
    """The decision word for "answer in words": ``reply`` unless a tool has that name."""
    names = {t.name for t in tools}
    return next(w for w in ("reply", "answer", "respond", "say") if w not in names)


def _schema_summary(spec: ToolSpec) -> str:
    props = spec.parameters.get("properties")
    if not isinstance(props, dict) or not props:
        return "no arguments"
    parts = []
    for key, prop in props.items():
        kind = prop.get("type", "any") if isinstance(prop, dict) else "any"
        parts.append(f"{key}: {kind if isinstance(kind, str) else '/'.join(map(str, kind))}")
    return ", ".join(parts)


def tools_prompt(tools: Sequence[ToolSpec]) -> str:
    """The tool list for the system prompt, short enough for a small model. (No instruction on
    how to call: the grammar steps do that, and instructions leak into spoken replies.)"""
    lines = ["You can call these tools:"]
    for t in tools:
        what = f": {t.description.strip()}" if t.description.strip() else ""
        lines.append(f"- {t.name}{what} ({_schema_summary(t)})")
    lines.append("Call a tool only when the user asks for what it gives.")
    return "\n".join(lines)


def with_tools(turns: tuple[Turn, ...], prompt: str) -> tuple[Turn, ...]:
    """``turns`` with ``prompt`` appended to the system turn (or a new one first)."""
    if turns and turns[0][0] == "system":
        return (("system", f"{turns[0][1]}\n\n{prompt}"), *turns[1:])
    return (("system", prompt), *turns)


def _literal(text: str) -> str:
    """A GBNF string literal."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return f'"{escaped}"'


# ``auto``: the assistant turn starts with this question, answered yes or no under a grammar,
# before a tool is chosen. SmolLM2-135M asked "reply or a tool name?" picks a tool nearly every
# time; asked this first, it tells apart the requests a tool serves from small talk much better.
ASK_PREFIX = "Should I call a tool? Answer: "
YES_NO = ("yes", "no")


# The yes/no answer of a small model is a weak signal (SmolLM2-135M ranks requests a tool serves
# above small talk, but rarely says "yes" outright). A tool is called when the model leans to yes,
# or when the request names what the tool is about (a noun of its name) and the model does not
# firmly say no. Measured on 38 requests and 3 system prompts (docs/benchmarks.md, "tool decision").
YES_LEAN = 0.5
YES_MENTIONED = 0.2
_VERBS = {"get", "set", "lookup", "look", "up", "find", "fetch", "search", "check", "list", "create", "update",
          "delete", "send", "make", "do", "run", "call", "query", "current", "info", "data", "by", "for", "the",
          "a", "an", "of", "to", "my", "new", "show", "read", "add", "remove"}


def _stem(word: str) -> str:
    for suffix in ("ing", "es", "ed", "s"):
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def _name_words(name: str) -> set[str]:
    import re

    parts = re.findall(r"[A-Z]?[a-z]+|[0-9]+", name.replace("-", "_"))
    return {_stem(p.lower()) for p in parts if p.lower() not in _VERBS and len(p) > 2}


def mentioned(names: Sequence[str], text: str) -> tuple[str, ...]:
    """The tools whose name's nouns the request uses ("weather" for ``get_weather``)."""
    import re

    said = {_stem(w) for w in re.findall(r"[a-z]+", text.lower())}
    return tuple(n for n in names if _name_words(n) & said)


def decision_grammar(choices: Sequence[str]) -> str:
    """One of ``choices``, nothing else."""
    if not choices:
        raise ValueError("a decision needs at least one choice")
    return "root ::= " + " | ".join(_literal(c) for c in choices) + "\n"


# A string the schema does not bound gets this many characters at most: a small model that misses
# the closing quote would otherwise write the rest of its reply into the argument.
STRING_MAX = 100


def bounded(schema: Any) -> Any:
    """``schema`` with ``maxLength`` on every free-form string schema that has none."""
    if isinstance(schema, list):
        return [bounded(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: bounded(v) for k, v in schema.items()}
    free = not any(k in schema for k in ("maxLength", "enum", "const", "pattern", "format"))
    if schema.get("type") == "string" and free:
        out["maxLength"] = STRING_MAX
    return out


def arguments_grammar(spec: ToolSpec) -> str:
    """A grammar for ``spec``'s arguments: its JSON schema (strings bounded, see ``bounded``)
    converted by llama.cpp's converter, or any JSON object when the schema is not an object
    schema or the converter refuses it."""
    schema = spec.parameters
    if schema.get("type", "object") != "object":
        return JSON_OBJECT_GBNF
    try:
        from llama_cpp.llama_grammar import json_schema_to_gbnf

        grammar: str = json_schema_to_gbnf(json.dumps(bounded(schema)))
    except Exception as e:  # noqa: BLE001 - unsupported schema features: AssertionError, ValueError...
        logger.info("tool %s: schema not convertible to a grammar (%s); any JSON object allowed", spec.name, e)
        return JSON_OBJECT_GBNF
    return grammar


@dataclass(frozen=True, slots=True)
class Plan:
    """What a request with tools does: ``text`` (no tools), ``decide`` among ``choices``
    (tool names, and ``reply`` unless required), or ``call`` the tool ``choices[0]``."""

    kind: Literal["text", "decide", "call"]
    choices: tuple[str, ...] = ()
    reply: str = "reply"


def check_tool_choice(options: LLMOptions) -> None:
    """``tool_choice`` is auto, none, required or the name of one of ``tools``."""
    choice = options.tool_choice
    if choice not in TOOL_CHOICES and all(t.name != choice for t in options.tools):
        raise InvalidRequest(f"tool_choice {choice!r} is neither {', '.join(TOOL_CHOICES)} nor a tool's name",
                             param="tool_choice")


def plan(messages: Sequence[ChatMessage], options: LLMOptions) -> Plan:
    check_tool_choice(options)
    tools, choice = options.tools, options.tool_choice
    names = tuple(t.name for t in tools)
    if not tools or choice == "none":
        return Plan("text")
    if choice in names:
        return Plan("call", (choice,))
    reply = reply_word(tools)
    if choice == "required":
        return Plan("call", names) if len(names) == 1 else Plan("decide", names, reply)
    if messages and messages[-1].role == "tool":
        return Plan("text")  # a result just came in: answer with it
    return Plan("decide", (reply, *names), reply)
