"""LLM benchmark: time to first token (cold prompt, warm prefix-cached follow-up) and tokens/s.

Runs the embedded SmolLM2-135M-Instruct Q4_1 on llama.cpp with 1 and 2 threads, and
two concurrent sessions on two instances. Prints a markdown table and writes it, with
the date and the machine, to bench/results/llm.md.

    .venv/bin/python bench/llm.py [--reps 5]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from voxloop.engines.llm.llamacpp import LlamaCppLLM
from voxloop.engines.types import ChatMessage, LLMOptions

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.sysinfo import machine  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "llm.md"
SYSTEM = "You are a friendly voice assistant. Answer in one or two short sentences."
QUESTIONS = [
    "What is the capital of France?",
    "How do I boil an egg?",
    "Why is the sky blue?",
    "Give me a tip for sleeping better.",
    "What should I cook tonight?",
    "How far away is the moon?",
    "What is a good name for a cat?",
]


@contextlib.contextmanager
def busy_core(on: bool) -> Iterator[None]:
    """A process spinning on one core: the TTS or ASR working beside the LLM."""
    proc = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if on else None
    try:
        time.sleep(0.2 if on else 0)
        yield
    finally:
        if proc is not None:
            proc.kill()
            proc.wait()


async def timed(llm: LlamaCppLLM, messages: list[ChatMessage], max_tokens: int) -> tuple[float, float, int, str]:
    """(seconds to first token, tokens/s after it, tokens, text)."""
    start = time.perf_counter()
    first = last = 0.0
    parts: list[str] = []
    stream = llm.chat(messages, LLMOptions(max_tokens=max_tokens, temperature=0.7))
    async for delta in stream:
        last = time.perf_counter() - start
        if not parts:
            first = last
        parts.append(delta)
    rate = (len(parts) - 1) / (last - first) if len(parts) > 1 and last > first else 0.0
    return first, rate, len(parts), "".join(parts)


def conversation(i: int) -> list[ChatMessage]:
    # A distinct first line per session: nothing but a few tokens of the prompt is cached.
    return [ChatMessage("system", f"Session {i}. {SYSTEM}"), ChatMessage("user", QUESTIONS[i % len(QUESTIONS)])]


async def single(threads: int, reps: int, busy: bool) -> dict[str, float]:
    llm = LlamaCppLLM(n_threads=threads)
    llm.prewarm()
    await timed(llm, conversation(999), 8)  # warm-up
    cold: list[float] = []
    warm: list[float] = []
    rates: list[float] = []
    with busy_core(busy):
        await sample(llm, reps, cold, warm, rates)
    prompt = sum(llm.count_tokens(m.content) for m in conversation(0)) + 12  # + template tokens
    llm.close()
    return {
        "threads": threads,
        "busy": busy,
        "cold": statistics.median(cold),
        "warm": statistics.median(warm),
        "rate": statistics.median(rates),
        "prompt": prompt,
    }


async def sample(llm: LlamaCppLLM, reps: int, cold: list[float], warm: list[float], rates: list[float]) -> None:
    for i in range(reps):
        convo = conversation(i)
        first, rate, _, text = await timed(llm, convo, 48)
        cold.append(first)
        rates.append(rate)
        follow = [*convo, ChatMessage("assistant", text), ChatMessage("user", "Tell me more.")]
        first, rate, _, _ = await timed(llm, follow, 48)
        warm.append(first)
        rates.append(rate)


async def concurrent(reps: int) -> dict[str, float]:
    llm = LlamaCppLLM(workers=2, n_threads=1)
    llm.prewarm()
    await asyncio.gather(timed(llm, conversation(998), 8), timed(llm, conversation(999), 8))
    firsts: list[float] = []
    rates: list[float] = []
    for i in range(reps):
        results = await asyncio.gather(timed(llm, conversation(2 * i), 48), timed(llm, conversation(2 * i + 1), 48))
        firsts += [r[0] for r in results]
        rates.append(sum(r[1] for r in results))
    llm.close()
    return {"cold": statistics.median(firsts), "rate": statistics.median(rates)}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    where = machine()
    rows = [await single(t, args.reps, busy) for busy in (False, True) for t in (1, 2)]
    both = await concurrent(args.reps)
    ms = 1000.0
    lines = [
        "| setup | first token, cold prompt | first token, warm follow-up | tokens/s |",
        "| --- | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| 1 session, n_threads={r['threads']:.0f}{', 1 core busy' if r['busy'] else ''} "
            f"| {r['cold'] * ms:.0f} ms | {r['warm'] * ms:.0f} ms | {r['rate']:.0f} |"
        )
    lines.append(
        f"| 2 concurrent sessions, 2 instances x 1 thread | {both['cold'] * ms:.0f} ms | - | {both['rate']:.0f} (sum) |"
    )
    table = "\n".join(lines)
    print(table)
    stamp = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        f"# LLM benchmark\n\nSmolLM2-135M-Instruct Q4_1 (embedded) on llama.cpp, `bench/llm.py --reps {args.reps}`.\n\n"
        f"- date: {stamp}\n- machine: {where}\n"
        f"- prompt: system + user message, about {rows[0]['prompt']:.0f} tokens; replies up to 48 tokens,"
        " temperature 0.7; medians\n"
        "- cold: a new conversation (nothing cached but the first few tokens); warm: the next turn of"
        " the same conversation, whose prefix llama.cpp keeps in its KV cache\n"
        "- 1 core busy: another process spins on one core, as TTS or ASR do beside the LLM in a voice loop\n"
        "- target: first token <= 200 ms\n\n"
        f"{table}\n"
    )


if __name__ == "__main__":
    asyncio.run(main())
