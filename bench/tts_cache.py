"""Speech cache benchmark: time to the first audio of a frequent phrase, synthesised (miss),
from memory (hit) and from disk (a restarted server), with the embedded Piper voice.

    .venv/bin/python bench/tts_cache.py [--reps 10]

Writes a markdown table, with the date and the machine, to bench/results/tts-cache.md.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.sysinfo import machine  # noqa: E402
from voxloop.engines.tts.cache import CachedTTS  # noqa: E402
from voxloop.engines.tts.piper import PiperTTS  # noqa: E402
from voxloop.store.speech import DiskSpeechCache  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "tts-cache.md"
PHRASES = ["Thank you for calling. How can I help you today?", "Sure, let me check that for you.",
           "One moment please.", "Is there anything else I can help you with?"]


async def first_audio(tts: CachedTTS, text: str) -> float:
    start = time.perf_counter()
    first = 0.0
    async for _ in tts.synthesize(text):
        first = first or time.perf_counter() - start
    return first


async def run(reps: int) -> dict[str, list[float]]:
    piper = PiperTTS()
    piper.prewarm()
    out: dict[str, list[float]] = {"miss (synthesised)": [], "hit, memory": [], "hit, disk (after a restart)": []}
    with tempfile.TemporaryDirectory() as d:
        for r in range(reps):
            sub = Path(d) / str(r)
            tts = CachedTTS(piper, disk=DiskSpeechCache(sub, 1 << 28))
            for text in PHRASES:
                out["miss (synthesised)"].append(await first_audio(tts, text))
                out["hit, memory"].append(await first_audio(tts, text))
            restarted = CachedTTS(piper, disk=DiskSpeechCache(sub, 1 << 28))
            for text in PHRASES:
                out["hit, disk (after a restart)"].append(await first_audio(restarted, text))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--reps", type=int, default=10)
    args = p.parse_args()
    results = asyncio.run(run(args.reps))
    miss = statistics.median(results["miss (synthesised)"])
    lines = [f"# Speech cache: time to first audio ({datetime.date.today()}, {machine()})", "",
             f"Embedded Piper (en_US-joe-medium), {len(PHRASES)} phrases x {args.reps} repetitions.", "",
             "| path | p50 ms | p95 ms | vs miss |", "| --- | --- | --- | --- |"]
    for name, xs in results.items():
        xs = sorted(xs)
        p50, p95 = statistics.median(xs), xs[int(0.95 * (len(xs) - 1))]
        lines.append(f"| {name} | {1000 * p50:.2f} | {1000 * p95:.2f} | {p50 / miss:.3f}x |")
    text = "\n".join(lines) + "\n"
    print(text)
    RESULTS.write_text(text)


if __name__ == "__main__":
    main()
