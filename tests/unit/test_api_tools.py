"""``@voxloop.tool`` schemas, ``Agent`` and ``Pipeline`` checks, and Python tools' results."""

from __future__ import annotations

import asyncio
import enum
import json
import subprocess
import sys
from typing import Literal

import pytest

import voxloop
from voxloop.dialogue.tools import ServerTool
from voxloop.engines.types import ToolSpec
from voxloop.session.pytools import call_python


class Size(enum.Enum):
    SMALL = "small"
    LARGE = "large"


def test_schema_from_signature_and_docstring() -> None:
    @voxloop.tool
    def order(item: str, count: int, size: Size, price: float = 1.5, gift: bool = False,
              style: Literal["plain", "fancy"] = "plain", notes: list[str] | None = None) -> str:
        """Order an item.

        Args:
            item: What to order.
            count: How many.
        """
        return f"{count} {size.value} {item}"

    schema = order.parameters
    assert order.spec.description == "Order an item."
    assert schema["required"] == ["item", "count", "size"]
    props = schema["properties"]
    assert props["item"] == {"type": "string", "description": "What to order."}
    assert props["count"]["type"] == "integer" and props["price"] == {"type": "number", "default": 1.5}
    assert props["size"] == {"type": "string", "enum": ["small", "large"]}
    assert props["style"]["enum"] == ["plain", "fancy"] and props["gift"]["type"] == "boolean"
    assert props["notes"]["items"] == {"type": "string"}
    assert order("tea", 2, Size.SMALL) == "2 small tea"  # still the function
    assert asyncio.run(order.invoke({"item": "tea", "count": 2, "size": "large"})) == '{"result": "2 large tea"}'


pydantic = pytest.importorskip("pydantic")


class Address(pydantic.BaseModel):
    street: str
    zip: int


def test_pydantic_parameters() -> None:
    @voxloop.tool(name="ship", description="Ship it.")
    async def ship(to: Address) -> dict[str, object]:
        return {"zip": to.zip}

    assert ship.spec.name == "ship" and ship.parameters["properties"]["to"]["properties"]["zip"]["type"] == "integer"
    assert json.loads(asyncio.run(ship.invoke({"to": {"street": "Main", "zip": 123}}))) == {"zip": 123}


@pytest.mark.parametrize("define, message", [
    (lambda: voxloop.tool(name="f")(lambda x: x), "needs a type annotation"),
    (lambda: voxloop.tool(name="bad name")(lambda: None), "must be 1-64 letters"),
    (lambda: voxloop.tool(name="auto")(lambda: None), "reserved"),
])
def test_bad_definitions_fail_at_once(define: object, message: str) -> None:
    with pytest.raises(voxloop.ToolDefinitionError, match=message):
        define()  # type: ignore[operator]


def test_unsupported_types_and_duplicates() -> None:
    with pytest.raises(voxloop.ToolDefinitionError, match="parameter 'x': type dict is not supported"):
        @voxloop.tool
        def f(x: dict) -> None:  # type: ignore[type-arg]
            ...
    with pytest.raises(voxloop.ToolDefinitionError, match="unions are not supported"):
        @voxloop.tool
        def g(x: int | str) -> None:
            ...

    @voxloop.tool
    def h() -> None:
        """Say hi."""

    with pytest.raises(voxloop.ToolDefinitionError, match="'h' twice"):
        voxloop.Agent("x", tools=[h, h])
    with pytest.raises(voxloop.ToolDefinitionError, match="must be @voxloop.tool"):
        voxloop.Agent("x", tools=[print])  # type: ignore[list-item]


def test_pipeline_checks_names_and_engines() -> None:
    with pytest.raises(voxloop.VoxloopError, match="unknown tts backend 'nope'; valid: piper"):
        voxloop.Pipeline(tts="nope")
    with pytest.raises(TypeError, match="must be a backend spec or a TTSEngine"):
        voxloop.Pipeline(tts=object())  # type: ignore[arg-type]
    assert voxloop.Pipeline(llm="openai:http://127.0.0.1:9/v1").specs.llm.startswith("openai:")


async def test_python_tool_results_errors_and_timeouts() -> None:
    async def boom(args: dict[str, object]) -> str:
        raise LookupError("no such order")

    async def slow(args: dict[str, object]) -> str:
        await asyncio.sleep(3600)
        return "{}"

    spec = ToolSpec("t")
    failed = await call_python(ServerTool(spec, "", 5.0, handler=boom), "{}")
    assert not failed.ok and json.loads(failed.output) == {"error": "t failed: LookupError: no such order"}
    late = await call_python(ServerTool(spec, "", 0.01, handler=slow), "{}")
    assert not late.ok and "did not answer within 0.01 s" in late.output


def test_import_voxloop_is_cheap() -> None:
    code = "import sys, voxloop; print(sorted(m for m in ('numpy', 'starlette', 'llama_cpp') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
