"""TTS benchmark: time to first audio and real-time factor, 1 and 2 concurrent syntheses.

Runs the embedded Piper voice (en_US-joe-medium) with the default setup (2 workers x 1
ONNX thread) and with 1 worker x 2 threads. Prints a markdown table and writes it, with
the date and the machine, to bench/results/tts.md.

    .venv/bin/python bench/tts.py [--reps 5]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import statistics
import sys
import time
from pathlib import Path

from voxloop.engines.tts.piper import PiperTTS
from voxloop.engines.tts.stream import tts_stream
from voxloop.engines.types import TTSOptions

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.sysinfo import machine  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "tts.md"
TEXTS = {
    "short": "Sure, I can help with that.",
    "long": (
        "The weather today will be mostly sunny with a light breeze from the west, and "
        "temperatures rising to about twenty degrees by the middle of the afternoon."
    ),
}


async def timed(tts: PiperTTS, text: str) -> tuple[float, float]:
    """(seconds to the first audio chunk, real-time factor = synthesis time / audio time)."""
    start = time.perf_counter()
    first = 0.0
    samples = 0
    async for audio in tts.synthesize(text, TTSOptions()):
        if not samples:
            first = time.perf_counter() - start
        samples += len(audio.samples)
    total = time.perf_counter() - start
    return first, total / (samples / tts.sample_rate)


async def streamed(tts: PiperTTS, text: str) -> float:
    """Seconds from pushing the whole text into a TTSStream to its first audio chunk."""
    start = time.perf_counter()
    stream = tts_stream(tts, TTSOptions(), sample_rate=24000)
    stream.push(text)
    stream.end_input()
    try:
        await stream.__anext__()
        return time.perf_counter() - start
    finally:
        await stream.aclose()


async def measure(tts: PiperTTS, text: str, concurrency: int, reps: int) -> tuple[float, float]:
    firsts: list[float] = []
    rtfs: list[float] = []
    for _ in range(reps):
        results = await asyncio.gather(*(timed(tts, text) for _ in range(concurrency)))
        firsts += [r[0] for r in results]
        rtfs += [r[1] for r in results]
    return statistics.median(firsts), statistics.median(rtfs)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    where = machine()
    lines = [
        "| setup | text | concurrent | first audio | real-time factor |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for workers, threads in ((2, 1), (1, 2)):
        tts = PiperTTS(workers=workers, threads=threads)
        tts.prewarm()
        await timed(tts, TEXTS["short"])  # warm-up
        for concurrency in (1, 2):
            for name, text in TEXTS.items():
                first, rtf = await measure(tts, text, concurrency, args.reps)
                setup = f"{workers} worker(s) x {threads} thread(s)"
                lines.append(
                    f"| {setup} | {name} ({len(text)} chars) | {concurrency} | {first * 1000:.0f} ms | {rtf:.3f} |"
                )
                print(lines[-1], flush=True)
        if workers == 2:
            first = statistics.median([await streamed(tts, TEXTS["long"]) for _ in range(args.reps)])
            lines.append(
                f"| {workers} worker(s) x {threads} thread(s), tts_stream at 24 kHz | long, cut at its "
                f"first comma | 1 | {first * 1000:.0f} ms | - |"
            )
            print(lines[-1], flush=True)
        tts.close()
    table = "\n".join(lines)
    print()
    print(table)
    stamp = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        f"# TTS benchmark\n\nPiper en_US-joe-medium (embedded, 22050 Hz) on ONNX Runtime CPU, "
        f"`bench/tts.py --reps {args.reps}`.\n\n"
        f"- date: {stamp}\n- machine: {where}\n"
        "- first audio: from the call to the first audio chunk (Piper makes one chunk per sentence);"
        " real-time factor: synthesis time / audio duration (< 1 is faster than real time); medians\n"
        "- with 1 worker, the second of 2 concurrent syntheses waits for the first\n"
        "- tts_stream: the ClauseChunker cuts a long sentence at a clause boundary, so the first"
        " audio only waits for the first clause\n"
        "- target: first audio <= 100 ms\n\n"
        f"{table}\n"
    )


if __name__ == "__main__":
    asyncio.run(main())
