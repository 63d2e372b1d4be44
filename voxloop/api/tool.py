"""``@voxloop.tool``: a Python function the model may call, run by the server.

The function's signature and docstring make the tool's JSON schema (``voxloop.api.schema``);
its return value (any JSON-able value, a dataclass or a pydantic model) becomes the call's
output; an exception it raises becomes an ``{"error": ...}`` output the model speaks about.
The decorated function stays callable as before.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import inspect
import json
import re
from collections.abc import Awaitable, Callable
from typing import Any, Generic, ParamSpec, TypeVar, overload

from voxloop.api.schema import Converter, ToolDefinitionError, function_schema
from voxloop.dialogue.tools import ServerTool, parse_tools

__all__ = ["Tool", "tool"]

P = ParamSpec("P")
R = TypeVar("R")
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def _jsonable(value: Any) -> Any:
    if hasattr(value, "model_dump"):  # a pydantic model
        return value.model_dump(mode="json")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return value


def result_json(value: Any) -> str:
    """What a tool returned, as the call's output (JSON text; plain text as ``{"result": ...}``)."""
    if isinstance(value, str):
        return json.dumps({"result": value})
    return json.dumps(_jsonable(value), separators=(",", ":"), default=str)


class Tool(Generic[P, R]):
    """A function offered to the model. Call it as the function itself; ``spec`` is its
    declaration, :meth:`server_tool` what a session runs."""

    def __init__(self, fn: Callable[P, R], *, name: str | None = None, description: str | None = None,
                 timeout_s: float = 10.0, filler: str = "", error_message: str = "") -> None:
        self.fn = fn
        self.name = name or fn.__name__
        if not _NAME.match(self.name):
            raise ToolDefinitionError(f"tool name {self.name!r} must be 1-64 letters, digits, '_' or '-'")
        if isinstance(timeout_s, bool) or not isinstance(timeout_s, int | float) or not 0 < timeout_s <= 600:
            raise ToolDefinitionError(f"tool {self.name!r}: timeout_s must be a number of seconds in (0, 600]")
        summary, parameters, self._converters = function_schema(fn, self.name)
        self.description = description if description is not None else summary
        decl = {"type": "function", "name": self.name, "description": self.description, "parameters": parameters}
        try:
            [self.spec] = parse_tools([decl], f"tool {self.name!r}")
        except ToolDefinitionError:
            raise
        except Exception as e:  # a reserved name, a schema the checks refuse
            raise ToolDefinitionError(getattr(e, "message", str(e))) from e
        self.timeout_s = float(timeout_s)
        self.filler = filler
        self.error_message = error_message
        functools.update_wrapper(self, fn)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        return self.fn(*args, **kwargs)

    def __repr__(self) -> str:
        return f"Tool({self.name!r})"

    @property
    def parameters(self) -> dict[str, Any]:
        """The JSON schema of the arguments."""
        return self.spec.parameters

    def _arguments(self, args: dict[str, Any]) -> dict[str, Any]:
        return {k: self._converters[k](v) for k, v in args.items() if k in self._converters}

    async def invoke(self, args: dict[str, Any]) -> str:
        """Run the function on the model's (checked) JSON arguments; the result as JSON text.
        An async function runs on the loop (cancellable); a sync one on a worker thread."""
        kwargs = self._arguments(args)
        fn: Callable[..., Any] = self.fn
        if inspect.iscoroutinefunction(fn):
            value = await fn(**kwargs)
        else:
            value = await asyncio.to_thread(fn, **kwargs)
            if inspect.isawaitable(value):
                value = await value
        return result_json(value)

    def server_tool(self) -> ServerTool:
        handler: Callable[[dict[str, Any]], Awaitable[str]] = self.invoke
        return ServerTool(self.spec, "", self.timeout_s, self.filler, self.error_message, handler=handler)

    @property
    def converters(self) -> dict[str, Converter]:
        return dict(self._converters)


@overload
def tool(fn: Callable[P, R], /) -> Tool[P, R]: ...


@overload
def tool(*, name: str | None = None, description: str | None = None, timeout_s: float = 10.0,
         filler: str = "", error_message: str = "") -> Callable[[Callable[P, R]], Tool[P, R]]: ...


def tool(fn: Callable[P, R] | None = None, /, *, name: str | None = None, description: str | None = None,
         timeout_s: float = 10.0, filler: str = "",
         error_message: str = "") -> Tool[P, R] | Callable[[Callable[P, R]], Tool[P, R]]:
    """Make ``fn`` a tool: ``@voxloop.tool`` or ``@voxloop.tool(name=..., timeout_s=...)``.

    ``filler`` is said while the tool runs; ``error_message``, if set, is said instead of
    letting the model speak about a failure. A bad definition raises ToolDefinitionError now.
    """

    def wrap(f: Callable[P, R]) -> Tool[P, R]:
        if not callable(f):
            raise ToolDefinitionError(f"@tool decorates a function, not {type(f).__name__}")
        return Tool(f, name=name, description=description, timeout_s=timeout_s, filler=filler,
                    error_message=error_message)

    return wrap(fn) if fn is not None else wrap
