"""A user's script, type-checked with ``mypy --strict`` by tests/unit/test_api_typing.py: the
public API's names and signatures as a user sees them."""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Iterator
from typing import Literal

import numpy as np

import voxloop
from voxloop.engines import TTSEngine, TTSOptions


class Unit(enum.Enum):
    C = "celsius"
    F = "fahrenheit"


@voxloop.tool
def weather(city: str, unit: Unit = Unit.C, days: int | None = None) -> dict[str, float]:
    """The weather in a city."""
    return {"temperature": 18.0 if unit is Unit.C else 64.0}


@voxloop.tool(timeout_s=3, filler="One moment.")
async def book(name: str, when: Literal["today", "tomorrow"], seats: list[int]) -> str:
    """Book a table."""
    return f"booked for {name}"


class Beeps(TTSEngine):
    name = "beeps"
    sample_rate = 16000

    def synthesize_sync(self, text: str, options: TTSOptions = TTSOptions()) -> Iterator[np.ndarray]:
        yield np.zeros(1600, np.float32)


agent = voxloop.Agent("Be brief.", tools=[weather, book], voice="joe")
pipeline = voxloop.Pipeline(tts=Beeps(), vad="energy")
temperature: dict[str, float] = weather("Paris")  # still the function, typed
booked: str = asyncio.run(book("Ann", "today", [1]))


async def main() -> list[tuple[str, str]]:
    await voxloop.check_engine(Beeps())
    async with voxloop.Conversation(agent, pipeline) as conv:
        conv.send_text("hello")
        await conv.until(lambda e: e["type"] == "response.done")
    source, sink = voxloop.BufferSource(b"\0\0" * 24000), voxloop.BufferSink()
    return await voxloop.converse(agent, source, sink, pipeline, replies=1)


if __name__ == "__main__":
    voxloop.serve(agent, pipeline, host="127.0.0.1", port=8000)
