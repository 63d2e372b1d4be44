"""JSON from clients, within limits: no NaN or Infinity, bounded nesting (docs/security.md).

Python's parser recurses once per level: a message nested a few thousand levels deep would
raise ``RecursionError`` deep inside a handler. Here it is a clear ``invalid_request_error``.
"""

from __future__ import annotations

import json
from typing import Any, NoReturn

from voxloop.errors import InvalidRequest

__all__ = ["check_depth", "loads"]


def _no_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not valid JSON")


def loads(text: str | bytes, *, max_depth: int, what: str = "message") -> Any:
    """Parse ``text``; :class:`InvalidRequest` (``invalid_json``) for anything but plain JSON
    nested at most ``max_depth`` levels."""
    try:
        data = json.loads(text, parse_constant=_no_constant)
    except RecursionError as e:
        raise _too_deep(what, max_depth) from e
    except json.JSONDecodeError as e:
        raise InvalidRequest(f"{what} is not valid JSON: {e.msg} at position {e.pos}", code="invalid_json") from e
    except (ValueError, UnicodeDecodeError) as e:
        raise InvalidRequest(f"{what} is not valid JSON: {e}", code="invalid_json") from e
    check_depth(data, max_depth, what)
    return data


def check_depth(data: Any, max_depth: int, what: str = "message") -> None:
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children: Any = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > max_depth:
            raise _too_deep(what, max_depth)
        stack.extend((child, depth + 1) for child in children)


def _too_deep(what: str, max_depth: int) -> InvalidRequest:
    return InvalidRequest(f"{what} is nested too deeply: at most {max_depth} levels of objects and arrays",
                          code="invalid_json")
