"""Batched LLM decoding: N concurrent replies on one batched llama.cpp context vs instances.

For N = 1, 2, 4, 8, 16 conversations asking at once (each a different question, cold prompt,
then a follow-up turn whose conversation is in the cache), reports the first token p50/max,
the time until every reply is done, and the aggregate tokens/s, for

- ``pool``: the classic engine, ``--workers`` instances with 1 thread each (replies queue), and
- ``batched``: one context with N sequences (``parallel=N``) and ``--workers`` threads.

    .venv/bin/python bench/llm_batch.py [--sessions 1,2,4,8,16] [--max-tokens 48] [--workers 2]

Writes bench/results/llm-batch.md (with the date and the CPU).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import table, write_report  # noqa: E402
from bench.llm import QUESTIONS, SYSTEM  # noqa: E402
from voxloop.engines.llm.llamacpp import LlamaCppLLM  # noqa: E402
from voxloop.engines.types import ChatMessage, LLMOptions  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "llm-batch.md"
FOLLOW_UP = "Tell me one more thing about that."


async def reply(llm: LlamaCppLLM, messages: list[ChatMessage], max_tokens: int, t0: float) -> tuple[float, int, str]:
    """(seconds from t0 to the first token, tokens, text)."""
    first = -1.0
    parts: list[str] = []
    stream = llm.chat(messages, LLMOptions(max_tokens=max_tokens, temperature=0.0, seed=1))
    async for chunk in stream:
        if isinstance(chunk, str):
            if first < 0:
                first = time.perf_counter() - t0
            parts.append(chunk)
    text = "".join(parts)
    return first, llm.count_tokens(text) if text else 0, text


async def round_of(llm: LlamaCppLLM, convs: list[list[ChatMessage]], max_tokens: int) -> dict[str, float]:
    t0 = time.perf_counter()
    results = await asyncio.gather(*(reply(llm, c, max_tokens, t0) for c in convs))
    wall = time.perf_counter() - t0
    for c, (_, _, text) in zip(convs, results, strict=True):
        c.append(ChatMessage("assistant", text))
    firsts = [r[0] for r in results if r[0] >= 0]
    tokens = sum(r[1] for r in results)
    return {"first_p50": statistics.median(firsts) if firsts else float("nan"),
            "first_max": max(firsts) if firsts else float("nan"), "wall": wall, "tok_s": tokens / wall}


async def run(mode: str, n: int, workers: int, max_tokens: int) -> tuple[dict[str, float], dict[str, float]]:
    if mode == "batched":
        llm = LlamaCppLLM(workers=1, n_threads=workers, parallel=max(2, n))
    else:
        llm = LlamaCppLLM(workers=workers, n_threads=1)
    llm.prewarm()
    await reply(llm, [ChatMessage("user", "Hi.")], 4, time.perf_counter())  # warm-up
    convs = [[ChatMessage("system", SYSTEM), ChatMessage("user", QUESTIONS[i % len(QUESTIONS)] + f" (#{i})")]
             for i in range(n)]
    cold = await round_of(llm, convs, max_tokens)
    for c in convs:
        c.append(ChatMessage("user", FOLLOW_UP))
    warm = await round_of(llm, convs, max_tokens)
    llm.close()
    return cold, warm


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sessions", default="1,2,4,8,16")
    p.add_argument("--max-tokens", type=int, default=48)
    p.add_argument("--workers", type=int, default=2, help="instances (pool) or threads (batched)")
    p.add_argument("--modes", default="pool,batched")
    p.add_argument("--out", default=str(RESULTS))
    a = p.parse_args()
    rows: list[list[str]] = []
    for n in (int(x) for x in a.sessions.split(",")):
        for mode in a.modes.split(","):
            cold, warm = asyncio.run(run(mode, n, a.workers, a.max_tokens))
            row = [str(n), mode]
            for r in (cold, warm):
                row += [f"{r['first_p50'] * 1000:.0f} / {r['first_max'] * 1000:.0f}", f"{r['wall']:.2f}",
                        f"{r['tok_s']:.0f}"]
            rows.append(row)
            print(" | ".join(row), flush=True)
    header = ["N", "engine", "cold: first token p50 / max ms", "cold: all done s", "cold: tokens/s",
              "follow-up: first token p50 / max ms", "follow-up: all done s", "follow-up: tokens/s"]
    body = table(header, rows)
    print(body)
    write_report(Path(a.out), "LLM: batched decoding vs instances", [
        f"N conversations ask at once (greedy, max {a.max_tokens} tokens), then each asks a follow-up "
        f"(its conversation in the cache). pool = {a.workers} instances of 1 thread; batched = one "
        f"context with N sequences and {a.workers} threads. Embedded SmolLM2-135M Q4_1.",
    ], body)


if __name__ == "__main__":
    main()
