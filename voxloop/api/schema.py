"""A Python function's signature and docstring -> a tool's JSON schema, and the model's JSON
arguments -> the function's Python arguments.

Parameter types: ``str``, ``int``, ``float``, ``bool``, ``Literal[...]`` of those, ``Enum``
subclasses, ``list[T]`` (and ``tuple[T, ...]``), ``T | None`` / ``Optional[T]`` and, when
pydantic is installed, pydantic models. Anything else is a :class:`ToolDefinitionError` at
definition time, naming the function and the parameter. Descriptions come from the docstring:
its first paragraph describes the tool; an ``Args:`` section (Google style) or ``:param x:``
lines describe the parameters.
"""

from __future__ import annotations

import enum
import inspect
import re
import types
import typing
from collections.abc import Callable
from typing import Any

from voxloop.errors import InvalidRequest

__all__ = ["Converter", "ToolDefinitionError", "describe", "function_schema"]

Converter = Callable[[Any], Any]  # a JSON value -> the Python value the function takes
_SCALARS: dict[type, str] = {str: "string", int: "integer", float: "number", bool: "boolean"}


class ToolDefinitionError(InvalidRequest):
    """A tool that cannot be offered to a model: an unsupported parameter type, a bad or
    duplicate name. Raised when the tool (or the agent holding it) is defined."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code="invalid_tool_definition")


def _pydantic_model(kind: Any) -> bool:
    try:
        from pydantic import BaseModel
    except ImportError:
        return False
    return isinstance(kind, type) and issubclass(kind, BaseModel)


def _schema(kind: Any, where: str) -> tuple[dict[str, Any], Converter]:
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if kind in _SCALARS:
        if kind is float:
            return {"type": "number"}, float
        return {"type": _SCALARS[kind]}, lambda v: v
    if origin is typing.Literal:
        kinds = {type(a) for a in args}
        if not args or not kinds <= set(_SCALARS):
            raise ToolDefinitionError(f"{where}: Literal values must be str, int, float or bool")
        schema: dict[str, Any] = {"enum": list(args)}
        if len(kinds) == 1:
            schema["type"] = _SCALARS[kinds.pop()]
        return schema, lambda v: v
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        values = [m.value for m in kind]
        if not values or not all(type(v) in _SCALARS for v in values):
            raise ToolDefinitionError(f"{where}: the values of enum {kind.__name__} must be str, int, float or bool")
        return {"type": _SCALARS[type(values[0])], "enum": values}, kind
    if origin in (list, tuple) or kind in (list, tuple):
        if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
            raise ToolDefinitionError(f"{where}: use tuple[T, ...] or list[T] (fixed-length tuples are not supported)")
        if not args:
            raise ToolDefinitionError(f"{where}: say what the list holds (list[str], list[int], ...)")
        item, conv = _schema(args[0], f"{where} (item)")
        out = tuple if origin is tuple else list
        return {"type": "array", "items": item}, lambda v: out(conv(x) for x in v)
    if origin in (typing.Union, types.UnionType):
        rest = [a for a in args if a is not type(None)]
        if len(rest) != 1 or len(args) != 2:
            raise ToolDefinitionError(f"{where}: unions are not supported, only an optional type (T | None)")
        schema, conv = _schema(rest[0], where)
        return schema, lambda v: None if v is None else conv(v)
    if _pydantic_model(kind):
        return dict(kind.model_json_schema()), kind.model_validate
    name = getattr(kind, "__name__", repr(kind))
    raise ToolDefinitionError(f"{where}: type {name} is not supported; use str, int, float, bool, a Literal, "
                              "an Enum, list[T], T | None or a pydantic model")


def describe(doc: str | None) -> tuple[str, dict[str, str]]:
    """A docstring -> (the tool's description, each parameter's description)."""
    text = inspect.cleandoc(doc or "")
    summary = text.split("\n\n", 1)[0].strip() if text else ""
    summary = " ".join(line.strip() for line in summary.splitlines() if not line.strip().endswith(":"))
    params: dict[str, str] = {}
    for m in re.finditer(r"^\s*:param\s+(\w+):\s*(.+)$", text, re.MULTILINE):
        params[m.group(1)] = m.group(2).strip()
    section = re.search(r"^(?:Args|Arguments|Parameters):\s*\n((?:[ \t]+.*\n?|\s*\n)*)", text, re.MULTILINE)
    if section:
        current = None
        for line in section.group(1).splitlines():
            arg = re.match(r"^\s+(\w+)(?:\s*\([^)]*\))?:\s*(.*)$", line)
            if arg:
                current = arg.group(1)
                params[current] = arg.group(2).strip()
            elif current and line.strip():
                params[current] = f"{params[current]} {line.strip()}".strip()
    return summary, params


def function_schema(fn: Callable[..., Any], name: str) -> tuple[str, dict[str, Any], dict[str, Converter]]:
    """``fn``'s description, its parameters' JSON schema and each parameter's converter."""
    try:
        hints = typing.get_type_hints(fn, include_extras=False)
    except Exception as e:  # a forward reference that does not resolve
        raise ToolDefinitionError(f"tool {name!r}: cannot resolve its type hints ({e})") from e
    summary, docs = describe(fn.__doc__)
    properties: dict[str, Any] = {}
    required: list[str] = []
    converters: dict[str, Converter] = {}
    for param in inspect.signature(fn).parameters.values():
        where = f"tool {name!r}, parameter {param.name!r}"
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD, param.POSITIONAL_ONLY):
            raise ToolDefinitionError(f"{where}: *args, **kwargs and positional-only parameters are not supported")
        if param.name not in hints:
            raise ToolDefinitionError(f"{where}: needs a type annotation")
        schema, conv = _schema(hints[param.name], where)
        if param.name in docs and "description" not in schema:
            schema = {**schema, "description": docs[param.name]}
        if param.default is not param.empty:
            if isinstance(param.default, enum.Enum):
                schema = {**schema, "default": param.default.value}
            elif param.default is None or type(param.default) in _SCALARS:
                schema = {**schema, "default": param.default}
        else:
            required.append(param.name)
        properties[param.name] = schema
        converters[param.name] = conv
    parameters: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        parameters["required"] = required
    return summary, parameters, converters
