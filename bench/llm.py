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
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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


def measure(reps: int) -> dict[str, Any]:
    """Every figure of one build (the llama_cpp importable here)."""
    import llama_cpp

    async def run() -> dict[str, Any]:
        rows = [await single(t, reps, busy) for busy in (False, True) for t in (1, 2)]
        return {"rows": rows, "both": await concurrent(reps),
                "build": llama_cpp.llama_print_system_info().decode().strip(" |")}
    return asyncio.run(run())


def render(result: dict[str, Any]) -> str:
    ms = 1000.0
    lines = [
        "| setup | first token, cold prompt | first token, warm follow-up | tokens/s |",
        "| --- | ---: | ---: | ---: |",
    ]
    for r in result["rows"]:
        lines.append(
            f"| 1 session, n_threads={r['threads']:.0f}{', 1 core busy' if r['busy'] else ''} "
            f"| {r['cold'] * ms:.0f} ms | {r['warm'] * ms:.0f} ms | {r['rate']:.0f} |"
        )
    both = result["both"]
    lines.append(
        f"| 2 concurrent sessions, 2 instances x 1 thread | {both['cold'] * ms:.0f} ms | - | {both['rate']:.0f} (sum) |"
    )
    return "\n".join(lines)


def in_child(site: str | None, reps: int) -> dict[str, Any]:
    """Measure in a fresh interpreter whose llama_cpp comes from ``site`` (None: this .venv)."""
    env = dict(os.environ)
    if site:
        env["PYTHONPATH"] = os.pathsep.join([site, str(Path(__file__).resolve().parents[1])])
    out = subprocess.run([sys.executable, __file__, "--reps", str(reps), "--json"], env=env, check=True,
                         capture_output=True, text=True).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def median_result(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Per figure, the median over several runs of one build."""
    def med(values: list[float]) -> float:
        return statistics.median(values)
    rows = [{**r0, **{k: med([res["rows"][i][k] for res in results]) for k in ("cold", "warm", "rate")}}
            for i, r0 in enumerate(results[0]["rows"])]
    both = {k: med([res["both"][k] for res in results]) for k in ("cold", "rate")}
    return {"rows": rows, "both": both, "build": results[0]["build"]}


def comparison(runs: list[tuple[str, dict[str, Any]]]) -> str:
    """Side by side: each build's figures, and the ratio to the first run's."""
    base = runs[0][1]
    keys = [(f"n_threads={r['threads']:.0f}{', 1 core busy' if r['busy'] else ''}", i)
            for i, r in enumerate(base["rows"])]
    head = "| run | build | " + " | ".join(f"{k}: cold / warm ms, tok/s" for k, _ in keys) + " | 2 sessions: cold ms, tok/s |"
    lines = [head, "| --- | --- |" + " ---: |" * (len(keys) + 1)]
    for label, res in runs:
        cells = []
        for _, i in keys:
            r, b = res["rows"][i], base["rows"][i]
            cells.append(f"{1000 * r['cold']:.0f} / {1000 * r['warm']:.0f}, {r['rate']:.0f} "
                         f"({r['rate'] / b['rate']:.2f}x)")
        both, b2 = res["both"], base["both"]
        cells.append(f"{1000 * both['cold']:.0f}, {both['rate']:.0f} ({both['rate'] / b2['rate']:.2f}x)")
        flags = " ".join(f for f in res["build"].replace("CPU :", "").split(" | ") if f.endswith("= 1"))
        lines.append(f"| {label} | `{flags.replace(' = 1', '')}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="print one JSON line of figures (for --compare)")
    parser.add_argument("--compare", default=None, metavar="LABEL=SITE_DIR",
                        help="also measure another llama-cpp-python build (a directory holding its llama_cpp "
                             "package), in child processes, alternating with this build for --rounds rounds")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of --compare")
    args = parser.parse_args()
    if args.json:
        print(json.dumps(measure(args.reps)))
        return
    where = machine()
    if args.compare:
        label, _, site = args.compare.rpartition("=")
        mine: list[dict[str, Any]] = []
        other: list[dict[str, Any]] = []
        for k in range(args.rounds):  # alternate, so drifts in the machine's load hit both builds
            print(f"round {k + 1}/{args.rounds} ...", file=sys.stderr, flush=True)
            mine.append(in_child(None, args.reps))
            other.append(in_child(site, args.reps))
        runs = [(f"this .venv (portable), round {k + 1}", r) for k, r in enumerate(mine)]
        runs += [(f"{label}, round {k + 1}", r) for k, r in enumerate(other)]
        runs = [("this .venv (portable), median of rounds", median_result(mine)),
                (f"{label}, median of rounds", median_result(other)), *runs]
        result = runs[0][1]
    else:
        result = measure(args.reps)
    table = render(result)
    print(table)
    stamp = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    text = (
        f"# LLM benchmark\n\nSmolLM2-135M-Instruct Q4_1 (embedded) on llama.cpp, `bench/llm.py --reps {args.reps}"
        f"{' --compare ' + args.compare.rpartition('=')[0] + '=DIR' if args.compare else ''}`.\n\n"
        f"- date: {stamp}\n- machine: {where}\n"
        f"- llama.cpp build: `{result['build']}`\n"
        f"- prompt: system + user message, about {result['rows'][0]['prompt']:.0f} tokens; replies up to 48 tokens,"
        " temperature 0.7; medians\n"
        "- cold: a new conversation (nothing cached but the first few tokens); warm: the next turn of"
        " the same conversation, whose prefix llama.cpp keeps in its KV cache\n"
        "- 1 core busy: another process spins on one core, as TTS or ASR do beside the LLM in a voice loop\n"
        "- target: first token <= 200 ms\n\n"
        f"{table}\n"
    )
    if args.compare:
        text += ("\n## Portable build vs another build, same machine, same run\n\n"
                 "Each run is a fresh process; the two builds alternate for several rounds, and the first two rows "
                 "are the medians per figure. Ratios are tokens/s against the portable build's median; the "
                 "spread between rounds of one build is the noise of this shared machine.\n\n"
                 f"{comparison(runs)}\n")
        print(comparison(runs))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text)


if __name__ == "__main__":
    main()
