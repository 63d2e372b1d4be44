"""Tools a model may call: declarations as the OpenAI Realtime API takes them, checked once,
and the arguments a model produced, checked against the tool's schema.

Pure data and checks (no I/O). A declaration is ``{"type": "function", "name", "description",
"parameters"}`` (the GA layout; the Chat Completions layout with a nested ``function`` object is
accepted too). Server-side tools (webhooks a deployment declares in its config) add ``url``,
``timeout_s``, ``filler`` and ``error_message``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from voxloop.engines.types import TOOL_CHOICES, ToolSpec
from voxloop.errors import InvalidRequest

__all__ = [
    "MAX_TOOLS",
    "ServerTool",
    "check_arguments",
    "parse_server_tool",
    "parse_tool_choice",
    "parse_tools",
    "tool_choice_wire",
    "tool_wire",
]

MAX_TOOLS = 128
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_TYPES = {"string", "number", "integer", "boolean", "array", "object", "null"}


def _check_schema(schema: Any, param: str, depth: int = 0) -> None:
    """The subset of JSON Schema a tool's parameters may use: well-formed types, properties,
    items, enums, required lists. Unknown keywords (format, minimum…) pass untouched."""
    if depth > 16:
        raise InvalidRequest(f"'{param}' is nested too deeply", param=param)
    if not isinstance(schema, dict):
        raise InvalidRequest(f"'{param}' must be a JSON schema object", param=param)
    kind = schema.get("type")
    kinds = kind if isinstance(kind, list) else [kind] if kind is not None else []
    if any(k not in _TYPES for k in kinds):
        raise InvalidRequest(f"'{param}.type' must be one of {', '.join(sorted(_TYPES))}", param=f"{param}.type")
    props = schema.get("properties")
    if props is not None:
        if not isinstance(props, dict):
            raise InvalidRequest(f"'{param}.properties' must be an object", param=f"{param}.properties")
        for key, sub in props.items():
            _check_schema(sub, f"{param}.properties.{key}", depth + 1)
    required = schema.get("required")
    if required is not None and (not isinstance(required, list) or not all(isinstance(r, str) for r in required)):
        raise InvalidRequest(f"'{param}.required' must be a list of property names", param=f"{param}.required")
    if "items" in schema:
        _check_schema(schema["items"], f"{param}.items", depth + 1)
    enum = schema.get("enum")
    if enum is not None and (not isinstance(enum, list) or not enum):
        raise InvalidRequest(f"'{param}.enum' must be a non-empty list", param=f"{param}.enum")


def _spec(decl: Any, param: str) -> ToolSpec:
    if not isinstance(decl, dict):
        raise InvalidRequest(f"'{param}' must be an object", param=param)
    if decl.get("type", "function") != "function":
        raise InvalidRequest(f"'{param}.type' {decl.get('type')!r} is not supported; supported: function",
                             param=f"{param}.type")
    nested = decl.get("function")
    body: dict[str, Any] = nested if isinstance(nested, dict) else decl  # Chat Completions layout
    name = body.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidRequest(f"'{param}.name' must be 1-64 letters, digits, '_' or '-'", param=f"{param}.name")
    if name in TOOL_CHOICES:
        raise InvalidRequest(f"'{param}.name' {name!r} is reserved", param=f"{param}.name")
    description = body.get("description") or ""
    if not isinstance(description, str):
        raise InvalidRequest(f"'{param}.description' must be a string", param=f"{param}.description")
    parameters = body.get("parameters")
    if parameters is None:
        parameters = {"type": "object", "properties": {}}
    _check_schema(parameters, f"{param}.parameters")
    if parameters.get("type", "object") != "object":
        raise InvalidRequest(f"'{param}.parameters.type' must be 'object'", param=f"{param}.parameters.type")
    return ToolSpec(name, description, json.dumps(parameters, separators=(",", ":"), sort_keys=True))


def parse_tools(value: Any, param: str = "tools") -> tuple[ToolSpec, ...]:
    """A client's ``tools`` list → checked specs (an ``InvalidRequest`` names the bad field)."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise InvalidRequest(f"'{param}' must be a list", param=param)
    if len(value) > MAX_TOOLS:
        raise InvalidRequest(f"'{param}' has {len(value)} tools; at most {MAX_TOOLS}", param=param)
    specs = tuple(_spec(d, f"{param}[{i}]") for i, d in enumerate(value))
    names = [s.name for s in specs]
    if dup := next((n for n in names if names.count(n) > 1), None):
        raise InvalidRequest(f"'{param}' declares {dup!r} twice", param=param)
    return specs


def parse_tool_choice(value: Any, tools: Sequence[ToolSpec], param: str = "tool_choice") -> str:
    """``"auto" | "none" | "required"`` or ``{"type": "function", "name": N}`` → the engine's form
    (a mode, or the forced tool's name)."""
    if value is None:
        return "auto"
    if isinstance(value, str):
        if value not in TOOL_CHOICES:
            raise InvalidRequest(f"'{param}' must be auto, none, required or a function", param=param)
        return value
    if isinstance(value, dict) and value.get("type") == "function":
        nested = value.get("function")
        fn: dict[str, Any] = nested if isinstance(nested, dict) else value
        name = fn.get("name")
        if not isinstance(name, str) or name not in {t.name for t in tools}:
            raise InvalidRequest(f"'{param}.name' {name!r} is not one of the session's tools", param=f"{param}.name")
        return name
    raise InvalidRequest(f"'{param}' must be auto, none, required or {{\"type\": \"function\", \"name\": ...}}",
                         param=param)


def tool_wire(spec: ToolSpec) -> dict[str, Any]:
    return {"type": "function", "name": spec.name, "description": spec.description, "parameters": spec.parameters}


def tool_choice_wire(choice: str) -> Any:
    return choice if choice in TOOL_CHOICES else {"type": "function", "name": choice}


def _matches(value: Any, schema: dict[str, Any]) -> bool:
    kind = schema.get("type")
    kinds = kind if isinstance(kind, list) else [kind] if kind else []
    checks = {"string": lambda v: isinstance(v, str), "boolean": lambda v: isinstance(v, bool),
              "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
              "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
              "array": lambda v: isinstance(v, list), "object": lambda v: isinstance(v, dict),
              "null": lambda v: v is None}
    if kinds and not any(checks[k](value) for k in kinds if k in checks):
        return False
    enum = schema.get("enum")
    return not (isinstance(enum, list) and value not in enum)


def check_arguments(spec: ToolSpec, arguments: str) -> dict[str, Any]:
    """The model's ``arguments`` as an object, or ``InvalidRequest`` saying what is wrong with
    them: not JSON, not an object, a required property missing, a property of the wrong type."""
    try:
        value = json.loads(arguments or "{}")
    except ValueError as e:
        raise InvalidRequest(f"arguments for {spec.name} are not valid JSON ({e}): {arguments[:120]!r}",
                             param="arguments", code="invalid_tool_arguments") from e
    if not isinstance(value, dict):
        raise InvalidRequest(f"arguments for {spec.name} must be a JSON object, got {type(value).__name__}",
                             param="arguments", code="invalid_tool_arguments")
    schema = spec.parameters
    props = schema.get("properties") or {}
    for key in schema.get("required") or []:
        if key not in value:
            raise InvalidRequest(f"arguments for {spec.name} lack the required {key!r}", param="arguments",
                                 code="invalid_tool_arguments")
    for key, sub in props.items():
        if key in value and isinstance(sub, dict) and not _matches(value[key], sub):
            raise InvalidRequest(f"argument {key!r} of {spec.name} does not match its schema", param="arguments",
                                 code="invalid_tool_arguments")
    return value


@dataclass(frozen=True, slots=True)
class ServerTool:
    """A tool voxloop runs itself: an HTTP webhook that gets the arguments as a JSON POST body
    and answers with the result (any JSON or text), or — with ``handler`` set (``url`` empty) —
    a Python function of this process (``@voxloop.tool``). ``filler`` is said while it runs;
    ``error_message`` is said when it fails or times out."""

    spec: ToolSpec
    url: str
    timeout_s: float = 5.0
    filler: str = ""
    error_message: str = ""
    # a Python tool: the checked arguments -> the result as JSON text (raises on failure)
    handler: Callable[[dict[str, Any]], Awaitable[str]] | None = field(default=None, compare=False)

    @property
    def apology(self) -> str:
        return self.error_message or "Sorry, I couldn't reach that service right now. Please try again later."


def parse_server_tool(decl: Any, param: str = "tools") -> ServerTool:
    """A server tool from the config file: the declaration's keys plus ``url`` (http/https),
    ``timeout_s`` (0 < t <= 120), ``filler`` and ``error_message``."""
    if not isinstance(decl, dict):
        raise InvalidRequest(f"'{param}' must be a table", param=param)
    known = {"type", "name", "description", "parameters", "url", "timeout_s", "filler", "error_message"}
    if unknown := sorted(set(decl) - known):
        raise InvalidRequest(f"'{param}' has unknown key {unknown[0]!r}; known: {', '.join(sorted(known))}",
                             param=f"{param}.{unknown[0]}")
    spec = _spec({k: v for k, v in decl.items() if k in ("type", "name", "description", "parameters")}, param)
    url = decl.get("url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise InvalidRequest(f"'{param}.url' must be an http:// or https:// URL", param=f"{param}.url")
    timeout = decl.get("timeout_s", 5.0)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= 120:
        raise InvalidRequest(f"'{param}.timeout_s' must be a number of seconds in (0, 120]", param=f"{param}.timeout_s")
    texts = {}
    for key in ("filler", "error_message"):
        text = decl.get(key, "")
        if not isinstance(text, str):
            raise InvalidRequest(f"'{param}.{key}' must be a string", param=f"{param}.{key}")
        texts[key] = text
    return ServerTool(spec, url, float(timeout), texts["filler"], texts["error_message"])
