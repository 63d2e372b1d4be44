"""Is the server's memory growth under hostile load a leak? The fuzz traffic of tests/fuzz.py
(fuzzed client events, speech and client-secret bodies, long speech inputs, good and broken
uploads) for a set duration against a server that traces its Python allocations.

Every ``--every`` seconds the server reports its RSS, the bytes Python objects hold
(tracemalloc) and the allocation sites that grew most since the first report; at the end it
calls ``malloc_trim(0)`` and reports the RSS again. Python bytes that keep growing are a leak;
RSS that grows while Python bytes stay flat, and falls at the trim, is memory glibc's allocator
keeps after use.

    python bench/fuzz_memory.py --minutes 2
    python bench/fuzz_memory.py --minutes 5 --every 60 --trim-each   # what stays after each trim
    MALLOC_ARENA_MAX=2 python bench/fuzz_memory.py --minutes 2   # fewer allocator arenas
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import gc
import json
import os
import random
import signal
import subprocess
import sys
import time
import tracemalloc
import warnings
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


# --------------------------------------------------------------------------- the traced server


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _resamplers() -> int:
    """Live soxr stream resamplers (each holds native filter state tracemalloc does not see)."""
    return sum(1 for o in gc.get_objects() if type(o).__name__ == "ResampleStream")


def _serve(report: Path, argv: list[str]) -> int:
    """Run ``voxloop serve`` in this process with tracemalloc on; SIGUSR1 appends a report to
    ``report``, SIGUSR2 the same after ``malloc_trim(0)``."""
    tracemalloc.start(4)
    first: list[tracemalloc.Snapshot] = []

    def on_signal(signum: int, _frame: object) -> None:
        entry: dict[str, Any] = {"t": time.time(), "rss_mib": round(_rss_mib(), 1)}
        if signum == signal.SIGUSR2:  # what a full collection frees, then what the trim gives back
            entry["resamplers"] = _resamplers()
            entry["gc_freed"] = gc.collect()
            entry["resamplers_after_gc"] = _resamplers()
            entry["rss_after_gc_mib"] = round(_rss_mib(), 1)
            libc = ctypes.CDLL("libc.so.6")
            t0 = time.perf_counter()
            libc.malloc_trim(0)
            entry["trim_s"] = round(time.perf_counter() - t0, 3)
            entry["rss_after_trim_mib"] = round(_rss_mib(), 1)
        snap = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(False, tracemalloc.__file__)])
        entry["python_mib"] = round(tracemalloc.get_traced_memory()[0] / 2**20, 1)
        if not first:
            first.append(snap)
        else:
            entry["grew"] = [
                {"site": str(s.traceback).replace(str(ROOT) + "/", ""), "kib": round(s.size_diff / 1024, 1),
                 "count": s.count_diff}
                for s in snap.compare_to(first[0], "lineno")[:12] if s.size_diff > 0
            ]
        with report.open("a") as f:
            f.write(json.dumps(entry) + "\n")

    signal.signal(signal.SIGUSR1, on_signal)
    signal.signal(signal.SIGUSR2, on_signal)
    from voxloop.cli.main import main

    return main(argv)


# --------------------------------------------------------------------------- the hostile client


def _examples() -> dict[str, Any]:
    from hypothesis import strategies as st

    from tests.fuzz import SECRET_BODY, SPEECH_BODY, client_event

    return {"events": st.lists(client_event(), min_size=1, max_size=6), "speech": SPEECH_BODY,
            "secret": SECRET_BODY}


def _draw(strategies: dict[str, Any], name: str) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return strategies[name].example()


def _uploads() -> list[bytes]:
    import numpy as np

    from tests.support import speak
    from voxloop.audio import Audio, wav_bytes

    good = wav_bytes(Audio(speak("Please bring the blue folder to the meeting.", 16000), 16000))
    return [good, good[: len(good) // 3], b"RIFF" + os.urandom(2000),
            wav_bytes(Audio(np.zeros(16000 * 60, np.float32), 16000))]


async def _hostile(base: str, seconds: float, counts: dict[str, int]) -> None:
    from tests.e2e.test_fuzz_server import _events

    strategies = _examples()
    uploads = _uploads()
    rng = random.Random(0)
    long_text = " ".join(["The quick brown fox jumps over the lazy dog."] * 90)  # ~4,000 characters
    deadline = time.monotonic() + seconds
    async with httpx.AsyncClient(timeout=120) as http:
        while time.monotonic() < deadline:
            kind = rng.choice(["events", "events", "events", "speech", "secret", "upload", "long", "big"])
            counts[kind] = counts.get(kind, 0) + 1
            try:
                if kind == "events":
                    await _events(base, [{**e, "type": e["type"]} for e in _draw(strategies, "events")])
                elif kind == "big":  # a text item just under the message limit
                    item = {"type": "message", "role": "user",
                            "content": [{"type": "input_text", "text": "x " * 450_000}]}
                    await _events(base, [{"type": "conversation.item.create", "item": item}])
                elif kind in ("speech", "secret"):
                    path = "/v1/audio/speech" if kind == "speech" else "/v1/realtime/client_secrets"
                    await http.post(f"{base}{path}", json=_draw(strategies, kind))
                elif kind == "long":
                    await http.post(f"{base}/v1/audio/speech",
                                    json={"model": "tts-1", "input": long_text, "response_format": "pcm"})
                else:
                    data = rng.choice(uploads)
                    await http.post(f"{base}/v1/audio/transcriptions", files={"file": ("a.wav", data)},
                                    data={"model": "whisper-1"})
            except Exception:  # a hostile client does not care; the server's answers are the fuzz tests' job
                counts["client_failures"] = counts.get("client_failures", 0) + 1


def _reports(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _report(proc: subprocess.Popen[bytes], path: Path, sig: int = signal.SIGUSR1) -> dict[str, Any]:
    """Ask the server for a report and wait for it (a snapshot of a traced heap takes a while)."""
    seen = len(_reports(path))
    proc.send_signal(sig)
    for _ in range(240):
        time.sleep(0.5)
        with contextlib.suppress(json.JSONDecodeError):
            if len(entries := _reports(path)) > seen:
                return entries[-1]
    raise RuntimeError("the server wrote no report")


def _run(args: argparse.Namespace) -> None:
    from bench.sysinfo import machine
    from tests.support import free_port

    report = Path(args.report)
    report.unlink(missing_ok=True)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    serve = [sys.executable, __file__, "--serve", str(report), "--", "-v", "serve", "--port", str(port),
             "--max-sessions-per-ip", "64"]
    with open(args.log, "w") as log:
        proc = subprocess.Popen(serve, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    counts: dict[str, int] = {}
    try:
        for _ in range(600):
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            time.sleep(0.5)
        print(machine(), flush=True)
        asyncio.run(_hostile(base, args.warmup, counts))  # every path once: lazy loads and caches filled
        first = _report(proc, report)
        print(f"after warm-up: rss {first['rss_mib']:7.1f} MiB  python {first['python_mib']:6.1f} MiB", flush=True)
        left = args.minutes * 60
        while left > 0:
            step = min(args.every, left)
            asyncio.run(_hostile(base, step, counts))
            left -= step
            last = _report(proc, report, signal.SIGUSR2 if args.trim_each else signal.SIGUSR1)
            trimmed = f"  after trim {last['rss_after_trim_mib']:7.1f} MiB" if args.trim_each else ""
            print(f"rss {last['rss_mib']:7.1f} MiB{trimmed}  python {last['python_mib']:6.1f} MiB  requests {counts}",
                  flush=True)
        time.sleep(5)  # idle again
        _report(proc, report, signal.SIGUSR2)
    finally:
        proc.terminate()
        proc.wait(20)
    entries = _reports(report)
    first, end = entries[0], entries[-1]
    print(json.dumps({"rss_start_mib": first["rss_mib"], "rss_end_mib": end["rss_mib"],
                      "rss_after_trim_mib": end.get("rss_after_trim_mib"),
                      "python_start_mib": first["python_mib"], "python_end_mib": end["python_mib"],
                      "malloc_arena_max": os.environ.get("MALLOC_ARENA_MAX"), "requests": counts}, indent=1))
    print("grew most (end vs start):")
    for g in end.get("grew", []):
        print(f"  {g['kib']:9.1f} KiB  {g['count']:6d} objects  {g['site']}")


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--serve":
        sys.exit(_serve(Path(sys.argv[2]), sys.argv[4:]))
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=2.0)
    p.add_argument("--every", type=float, default=30.0, help="seconds between reports")
    p.add_argument("--warmup", type=float, default=20.0, help="seconds of load before the first report")
    p.add_argument("--trim-each", action="store_true", help="malloc_trim(0) at every report (is what stays live "
                   "growing, or a plateau?)")
    p.add_argument("--report", default="/tmp/voxloop-fuzz-memory.jsonl")
    p.add_argument("--log", default="/tmp/voxloop-fuzz-memory.log")
    _run(p.parse_args())


if __name__ == "__main__":
    main()
