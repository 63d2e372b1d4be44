"""Function calling with the embedded SmolLM2-135M on llama.cpp: does ``tool_choice: auto``
call a tool when the request needs one (and only then), are forced calls' arguments right, and
how long until the call is complete.

Requests are fixed (below), each with the tool it needs (or none), under three system prompts
(the server's default, the Agents SDKs' examples, none). Prints markdown tables and writes
them, with the date and the machine, to bench/results/tools.md.

    .venv/bin/python bench/tools.py
"""

from __future__ import annotations

import asyncio
import datetime
import json
import statistics
import sys
import time
from pathlib import Path

from voxloop.engines.llm.llamacpp import LlamaCppLLM
from voxloop.engines.types import ChatMessage, LLMOptions, ToolSpec
from voxloop.errors import BackendError

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.sysinfo import machine  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "tools.md"


def _tool(name: str, description: str, arg: str) -> ToolSpec:
    schema = {"type": "object", "properties": {arg: {"type": "string"}}, "required": [arg]}
    return ToolSpec(name, description, json.dumps(schema))


WEATHER = _tool("get_weather", "Get the current weather in a city.", "city")
TIME = _tool("get_time", "Get the current time in a city.", "city")
ORDER = _tool("lookup_order", "Look up the status of an order by its order number.", "order_id")
TOOLS = (WEATHER, TIME, ORDER)

# (request, the tool it needs or None, the argument value it should carry)
REQUESTS: list[tuple[str, str | None, str]] = [
    ("What is the weather like in Paris today?", "get_weather", "paris"),
    ("Is it raining in Berlin?", "get_weather", "berlin"),
    ("How hot is it in Madrid right now?", "get_weather", "madrid"),
    ("Do I need an umbrella in London today?", "get_weather", "london"),
    ("What's the temperature in Tokyo?", "get_weather", "tokyo"),
    ("Tell me the weather forecast for Rome.", "get_weather", "rome"),
    ("What time is it in New York?", "get_time", "new york"),
    ("What's the time in Sydney right now?", "get_time", "sydney"),
    ("Where is my order 12345?", "lookup_order", "12345"),
    ("Can you check the status of order 991?", "lookup_order", "991"),
    ("Has my order 5521 shipped yet?", "lookup_order", "5521"),
    ("Tell me a joke.", None, ""),
    ("Who wrote Hamlet?", None, ""),
    ("What is the capital of France?", None, ""),
    ("How are you today?", None, ""),
    ("Why is the sky blue?", None, ""),
    ("Can you help me write an email to my boss?", None, ""),
    ("What is two plus two?", None, ""),
    ("Thank you, goodbye.", None, ""),
    ("I want to talk to a human.", None, ""),
    ("What are your opening hours?", None, ""),
    ("Recommend a good book.", None, ""),
]
SYSTEMS = {
    "server default": "You are a helpful voice assistant. Keep answers short, one or two sentences.",
    "Agents SDK example": "You are a helpful assistant. Answer in one short sentence.",
    "none": "",
}


async def run(llm: LlamaCppLLM, system: str, text: str, tools: tuple[ToolSpec, ...],
              choice: str) -> tuple[str | None, str, float]:
    """(the tool called or None, its arguments, seconds until the stream ended)."""
    messages = ([ChatMessage("system", system)] if system else []) + [ChatMessage("user", text)]
    start = time.perf_counter()
    stream = llm.chat(messages, LLMOptions(tools=tools, tool_choice=choice, max_tokens=48, temperature=0.0))
    try:
        async for _ in stream:
            pass
    except BackendError:  # arguments cut short (a loop): the call failed
        return "(failed)", "", time.perf_counter() - start
    finally:
        await stream.aclose()
    calls = stream.tool_calls
    return (calls[0].name if calls else None), (calls[0].arguments if calls else ""), time.perf_counter() - start


async def main() -> None:
    llm = LlamaCppLLM(workers=1, n_threads=1)
    llm.prewarm()
    lines = ["# Function calling with the embedded model", "",
             f"- date: {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC", f"- machine: {machine()}",
             "- model: SmolLM2-135M-Instruct Q4_1 (embedded), llama.cpp, 1 instance, 1 thread, greedy",
             f"- requests: {len(REQUESTS)} fixed ones ({sum(1 for r in REQUESTS if r[1])} need one of "
             f"{len(TOOLS)} tools, {sum(1 for r in REQUESTS if not r[1])} need none), all three tools offered",
             "- auto: the decision rule of voxloop/engines/llm/tools.py (P(yes) > 0.5, or > 0.2 when the "
             "request names the tool)", ""]
    lines += ["## tool_choice auto: is the right tool called?", "",
              "| system prompt | called when needed | right tool | right argument | no call when not needed |",
              "| --- | ---: | ---: | ---: | ---: |"]
    for label, system in SYSTEMS.items():
        needed = right_tool = right_arg = quiet = 0
        for text, want, value in REQUESTS:
            name, args, _ = await run(llm, system, text, TOOLS, "auto")
            if want is None:
                quiet += name is None
                continue
            needed += name is not None
            right_tool += name == want
            right_arg += name == want and value in args.lower()
        n_tool = sum(1 for r in REQUESTS if r[1])
        n_none = len(REQUESTS) - n_tool
        lines.append(f"| {label} | {needed}/{n_tool} | {right_tool}/{n_tool} | {right_arg}/{n_tool} | "
                     f"{quiet}/{n_none} |")
    lines += ["", "## Forced call (tool_choice = the tool): arguments and time", "",
              "| requests | valid JSON matching the schema | argument names the right value | "
              "time to a complete call p50 / max |", "| ---: | ---: | ---: | ---: |"]
    valid = right = 0
    times: list[float] = []
    forced = [r for r in REQUESTS if r[1]]
    for text, want, value in forced:
        assert want is not None
        spec = next(t for t in TOOLS if t.name == want)
        name, args, seconds = await run(llm, SYSTEMS["server default"], text, TOOLS, want)
        times.append(seconds)
        try:
            parsed = json.loads(args)
            ok = isinstance(parsed, dict) and all(k in parsed for k in spec.parameters["required"])
        except ValueError:
            ok = False
        valid += ok
        right += ok and value in args.lower()
    lines.append(f"| {len(forced)} | {valid}/{len(forced)} | {right}/{len(forced)} | "
                 f"{1000 * statistics.median(times):.0f} / {1000 * max(times):.0f} ms |")
    text = "\n".join(lines) + "\n"
    print(text)
    RESULTS.write_text(text)
    llm.close()


if __name__ == "__main__":
    asyncio.run(main())
