"""LLM weights and KV cache types: how fast the embedded model reads a prompt and generates.

The embedded SmolLM2-135M ships as Q4_1; voxloop runs a local Q8_0 copy of it by default
(voxloop/engines/llm/weights.py) with an f16 KV cache. This compares, on the batched engine the
server uses (one context, 1 thread, an eight-turn conversation, ~200 prompt tokens with the template):

- cold: the first token of a new conversation (the whole prompt read);
- follow-up: the first token after a new user turn (~60 new tokens: the last reply and the new
  question, what a live turn reads when the rest is cached);
- tokens/s of the reply;
- replies identical to the shipped Q4_1's (greedy, the same prompts), and where the first that
  differs departs from it.

Configurations run in interleaved rounds (each a fresh engine), so all see the same noise.

    .venv/bin/python bench/llm_weights.py [--rounds 3]

Writes bench/results/llm-weights.md (with the date and the CPU).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import table, write_report  # noqa: E402
from bench.llm import QUESTIONS, SYSTEM  # noqa: E402
from bench.llm_batch import reply as batch_reply  # noqa: E402
from voxloop.engines.llm.llamacpp import LlamaCppLLM  # noqa: E402
from voxloop.engines.types import ChatMessage  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "llm-weights.md"
CONFIGS = [("Q4_1 as shipped", "as-is", "q8_0"), ("Q4_1 as shipped", "as-is", "f16"),
           ("Q8_0 copy", "q8_0", "q8_0"), ("Q8_0 copy", "q8_0", "f16")]
HISTORY = [  # eight turns, as a live session has after a few minutes
    ("user", "Hi there, I am planning a trip to Portugal next spring and need some help."),
    ("assistant", "That sounds lovely. Portugal is beautiful in spring, with mild weather and fewer crowds."),
    ("user", "Which cities should I visit if I have about ten days?"),
    ("assistant", "Lisbon and Porto are the classics. Add Sintra as a day trip and a few days in the Algarve."),
    ("user", "How do I get from Lisbon to Porto?"),
    ("assistant", "The train is easiest: the Alfa Pendular takes about three hours and runs many times a day."),
    ("user", "What food should I try in Porto?"),
    ("assistant", "Try a francesinha, grilled sardines, and a glass of port in one of the cellars by the river."),
]


@dataclass
class Round:
    cold: float  # s, median over the conversations
    follow: float
    tok_s: float
    texts: list[str]
    prompt: int  # tokens of the history


async def reply(llm: LlamaCppLLM, messages: list[ChatMessage], max_tokens: int) -> tuple[float, float, str]:
    """(seconds to the first token, tokens per second after it, text)."""
    t0 = time.perf_counter()
    first, n, text = await batch_reply(llm, messages, max_tokens, t0)
    rest = time.perf_counter() - t0 - first
    return first, (n - 1) / rest if n > 1 and rest > 0 else float("nan"), text


async def one_round(weights: str, kv: str, max_tokens: int) -> Round:
    llm = LlamaCppLLM(workers=1, n_threads=1, parallel=4, weights=weights, kv_cache=kv)
    llm.prewarm()
    await reply(llm, [ChatMessage("user", "Hi.")], 4)  # warm-up
    colds: list[float] = []
    follows: list[float] = []
    speeds: list[float] = []
    texts: list[str] = []
    for i, q in enumerate(QUESTIONS[:4]):
        conv = [ChatMessage("system", f"Session {i}. {SYSTEM}"), *(ChatMessage("user" if r == "user" else "assistant", t) for r, t in HISTORY),
                ChatMessage("user", q)]
        first, speed, text = await reply(llm, conv, max_tokens)
        colds.append(first)
        speeds.append(speed)
        texts.append(text)
        conv += [ChatMessage("assistant", text), ChatMessage("user", "Tell me one more thing about that, please.")]
        first, speed, text = await reply(llm, conv, max_tokens)
        follows.append(first)
        speeds.append(speed)
        texts.append(text)
    prompt = llm.count_tokens(" ".join(t for _, t in HISTORY))
    llm.close()
    return Round(statistics.median(colds), statistics.median(follows), statistics.median(speeds), texts, prompt)


def perplexity(path: str, text: str) -> float:
    """The model's perplexity on ``text`` (natural log), with plain llama.cpp (no KV type choice)."""
    import numpy as np
    from llama_cpp import Llama

    llama = Llama(model_path=path, n_ctx=1024, n_threads=1, logits_all=True, verbose=False)
    tokens = llama.tokenize(text.encode())
    llama.eval(tokens)
    logits = np.asarray(llama.scores[: len(tokens) - 1], np.float64)
    logp = logits - logits.max(axis=1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(axis=1, keepdims=True))
    nll = -logp[np.arange(len(tokens) - 1), tokens[1:]].mean()
    llama.close()
    return float(np.exp(nll))


def diverges(a: str, b: str) -> int:
    """Characters the two texts share from the start."""
    return len(os.path.commonprefix([a, b]))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--max-tokens", type=int, default=48)
    p.add_argument("--out", default=str(RESULTS))
    a = p.parse_args()
    runs: dict[int, list[Round]] = {i: [] for i in range(len(CONFIGS))}
    for r in range(a.rounds):
        for i, (label, weights, kv) in enumerate(CONFIGS):
            res = asyncio.run(one_round(weights, kv, a.max_tokens))
            runs[i].append(res)
            print(f"round {r + 1} {label}, KV {kv}: cold {1000 * res.cold:.0f} ms, follow-up "
                  f"{1000 * res.follow:.0f} ms, {res.tok_s:.0f} tok/s", flush=True)
    base_texts = runs[0][0].texts
    rows = []
    for i, (label, _, kv) in enumerate(CONFIGS):
        rs = runs[i]
        cold, follow = statistics.median(x.cold for x in rs), statistics.median(x.follow for x in rs)
        speed = statistics.median(x.tok_s for x in rs)
        texts = rs[0].texts
        same = sum(x == y for x, y in zip(texts, base_texts, strict=True))
        firsts = [diverges(x, y) for x, y in zip(texts, base_texts, strict=True) if x != y]
        rows.append([label, kv, f"{1000 * cold:.0f}", f"{1000 * follow:.0f}", f"{speed:.0f}",
                     f"{same}/{len(texts)}", ", ".join(str(f) for f in firsts) or "-"])
    from voxloop.engines.llm.weights import _quantize, model_cache_dir, prepared_weights
    from voxloop.engines.models import embedded_llm_path

    shipped = embedded_llm_path()
    copy = prepared_weights(shipped, "q8_0", embedded=True, cache_dir=model_cache_dir(os.environ))
    text = " ".join(QUESTIONS) + " " + " ".join(t for _, t in HISTORY)
    ppl = {"as-is": perplexity(str(shipped), text), "q8_0": perplexity(str(copy), text)}
    with tempfile.TemporaryDirectory() as tmp:  # references: the same weights held exactly, and Q4_0
        refs = {}
        for ftype in ("F16", "Q4_0"):
            _quantize(shipped, Path(tmp) / f"{ftype}.gguf", ftype)
            refs[ftype] = perplexity(str(Path(tmp) / f"{ftype}.gguf"), text)
    for row, (_, weights, _) in zip(rows, CONFIGS, strict=True):
        row.insert(2, f"{ppl[weights]:.3f}")
    header = ["weights", "KV cache", "perplexity on the questions and history", "cold first token ms", "follow-up first token ms", "tokens/s",
              "replies identical to Q4_1/q8_0", "differing replies: characters shared first"]
    body = table(header, rows)
    print(body)
    write_report(Path(a.out), "LLM weights and KV cache: prompt reading and generation", [
        f"- embedded SmolLM2-135M-Instruct on the batched engine (one context of 4 sequences, 1 thread); "
        f"an eight-turn conversation ({runs[0][0].prompt} tokens of text) plus the question; greedy replies of at most "
        f"{a.max_tokens} tokens; medians over {a.rounds} interleaved rounds x 4 conversations",
        "- cold: first token of a new conversation; follow-up: first token of the next turn (~60 new "
        "tokens, the rest cached); identical: the 8 greedy replies of round 1 against the shipped "
        "Q4_1 with a q8_0 KV cache (the default until 2026-12-07); greedy text flips on tiny logit "
        "changes (even the KV cache type changes half the replies), so the quality measure is the "
        "perplexity: plain llama.cpp on the bench's questions and conversation as one text",
        f"- perplexity references: the shipped weights converted to F16 (each Q4_1 value held exactly, "
        f"activations not quantized) {refs['F16']:.3f}; re-quantized to Q4_0 (lossy) {refs['Q4_0']:.3f}",
    ], body)


if __name__ == "__main__":
    main()
