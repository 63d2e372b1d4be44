"""Soak and leak benchmark: N spoken conversations with barge-ins for a set duration.

Every 30 s: the server's RSS (its process tree), its asyncio task count and open sessions
(/healthz). At the end: replies lost (a ``response.created`` with no ``response.done``), errors,
and the RSS and task drift. Each conversation streams a live microphone (100 ms appends at real
time): a question, then, once the reply is talking, a second utterance over it (a barge-in), then
silence until the reply is done, and again.

    python bench/soak.py --conversations 4 --minutes 20        # the long run
    python bench/soak.py --conversations 2 --minutes 2.5       # a quick check
    python bench/soak.py --port 8000                           # against a running server
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import ProcSampler, health, server  # noqa: E402

QUESTIONS = ["What is the capital of France?", "Tell me a long story about a dragon and a knight.",
             "How do plants make their food?", "Why is the sky blue?"]
INTERRUPTIONS = ["Wait, stop, tell me something else.", "Sorry, never mind that."]
CHUNK_S = 0.1


@dataclass
class Stats:
    created: set[str] = field(default_factory=set)
    done: set[str] = field(default_factory=set)
    statuses: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    barge_ins: int = 0
    turns: int = 0


def chunks(text: str) -> list[str]:
    import numpy as np

    from tests.support import silence, speak
    from voxloop.audio.pcm import float_to_pcm16

    samples = np.concatenate([speak(text), silence(1.0)])
    step = int(24000 * CHUNK_S)
    return [base64.b64encode(float_to_pcm16(samples[i:i + step])).decode() for i in range(0, len(samples), step)]


async def conversation(k: int, base: str, deadline: float, clips: dict[str, list[str]], st: Stats) -> None:
    from websockets.asyncio.client import connect

    quiet = base64.b64encode(bytes(int(24000 * CHUNK_S) * 2)).decode()
    queue: list[str] = []
    talking = asyncio.Event()
    idle = asyncio.Event()
    idle.set()
    async with connect(base.replace("http", "ws") + "/v1/realtime?model=voxloop", max_size=None) as ws:
        async def mic() -> None:
            t0 = time.monotonic()
            i = 0
            while True:
                i += 1
                await asyncio.sleep(max(0.0, t0 + i * CHUNK_S - time.monotonic()))
                chunk = queue.pop(0) if queue else quiet
                await ws.send('{"type":"input_audio_buffer.append","audio":"' + chunk + '"}')

        async def events() -> None:
            async for raw in ws:
                ev = json.loads(raw)
                kind = ev["type"]
                if kind == "response.created":
                    st.created.add(ev["response"]["id"])
                    idle.clear()
                elif kind == "response.output_audio.delta":
                    talking.set()
                elif kind == "response.done":
                    st.done.add(ev["response"]["id"])
                    status = ev["response"]["status"]
                    st.statuses[status] = st.statuses.get(status, 0) + 1
                    talking.clear()
                    idle.set()
                elif kind == "error":
                    st.errors.append(f"{ev['error'].get('code')}: {ev['error'].get('message')}")

        tasks = [asyncio.create_task(mic(), name=f"soak-{k}-mic"), asyncio.create_task(events(), name=f"soak-{k}-rx")]
        try:
            turn = k
            while time.monotonic() < deadline:
                queue.extend(clips[QUESTIONS[turn % len(QUESTIONS)]])
                st.turns += 1
                turn += 1
                try:
                    await asyncio.wait_for(talking.wait(), 60)
                except TimeoutError:
                    continue
                await asyncio.sleep(1.0)  # let it talk a little, then talk over it
                if turn % 2 == 0:
                    queue.extend(clips[INTERRUPTIONS[turn % len(INTERRUPTIONS)]])
                    st.barge_ins += 1
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(idle.wait(), 90)
                await asyncio.sleep(1.0)
            # the end: no new turn, wait for the replies in flight
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(idle.wait(), 60)
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


async def sample(base: str, pid: int | None, every: float, rows: list[dict[str, Any]], t0: float) -> None:
    sampler = ProcSampler(pid)
    while True:
        rss = _rss(sampler)
        h = health(base)
        rows.append({"t_s": round(time.monotonic() - t0), "rss_mib": round(rss, 1), "tasks": h.get("tasks"),
                     "sessions": h.get("sessions")})
        print(f"  t={rows[-1]['t_s']:>5}s  rss {rss:8.1f} MiB  tasks {h.get('tasks')}  sessions {h.get('sessions')}",
              flush=True)
        await asyncio.sleep(every)


def _rss(sampler: ProcSampler) -> float:
    total = 0.0
    for p in sampler._tree():
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
        except OSError:
            continue
    return total


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    clips = {text: chunks(text) for text in QUESTIONS + INTERRUPTIONS}
    with server(args.port, max_sessions=max(16, args.conversations)) as (base, pid):
        rows: list[dict[str, Any]] = []
        t0 = time.monotonic()
        sampler = asyncio.create_task(sample(base, pid, args.every, rows, t0), name="soak-sampler")
        stats = [Stats() for _ in range(args.conversations)]
        deadline = t0 + 60 * args.minutes
        await asyncio.gather(*(conversation(k, base, deadline, clips, stats[k]) for k in range(args.conversations)))
        await asyncio.sleep(3)  # the sessions close
        sampler.cancel()
        await asyncio.gather(sampler, return_exceptions=True)
        last = health(base)
        rows.append({"t_s": round(time.monotonic() - t0), "rss_mib": round(_rss(ProcSampler(pid)), 1),
                     "tasks": last.get("tasks"), "sessions": last.get("sessions")})
    lost = sum(len(s.created - s.done) for s in stats)
    result = {
        "conversations": args.conversations, "minutes": args.minutes, "samples": rows,
        "turns": sum(s.turns for s in stats), "barge_ins": sum(s.barge_ins for s in stats),
        "responses": sum(len(s.created) for s in stats), "lost_replies": lost,
        "statuses": {k: sum(s.statuses.get(k, 0) for s in stats) for k in ("completed", "cancelled", "failed",
                                                                           "incomplete")},
        "errors": [e for s in stats for e in s.errors][:20],
        "rss_growth_pct": round(100 * (rows[-1]["rss_mib"] / rows[0]["rss_mib"] - 1), 1) if rows[0]["rss_mib"] else None,
        # after the first minute: the engines' buffers and caches are allocated by then
        "rss_drift_after_warmup_pct": _growth([r for r in rows if r["t_s"] >= 60] or rows),
        "tasks_first_last": [rows[0]["tasks"], rows[-1]["tasks"]],
        "rss_first_last_5min_mib": _windows(rows, 300.0),
    }
    return result


def _windows(rows: list[dict[str, Any]], span: float) -> list[float] | None:
    """Mean RSS over the first ``span`` s after the first minute (warm-up) and over the last ``span`` s."""
    end = rows[-1]["t_s"]
    first = [r["rss_mib"] for r in rows if 60 <= r["t_s"] < 60 + span]
    last = [r["rss_mib"] for r in rows if r["t_s"] > end - span]
    if not first or not last or end < 2 * span:
        return None
    return [round(sum(first) / len(first), 1), round(sum(last) / len(last), 1)]


def report(result: dict[str, Any], path: Path) -> None:
    """bench/results/soak.md: the summary and the RSS samples (a row a minute)."""
    from bench.common import table, write_report

    windows = result["rss_first_last_5min_mib"]
    drift = f"{windows[0]:.0f} → {windows[1]:.0f} MiB ({100 * (windows[1] / windows[0] - 1):+.1f} %)" if windows else "-"
    st = result["statuses"]
    summary = table(["conversations", "minutes", "turns", "barge-ins", "replies", "lost replies",
                     "completed / cancelled / failed / incomplete", "errors", "RSS start → end MiB",
                     "RSS mean, minutes 1–6 → last 5", "tasks first → last"], [[
        str(result["conversations"]), f"{result['minutes']:g}", str(result["turns"]), str(result["barge_ins"]),
        str(result["responses"]), str(result["lost_replies"]),
        f"{st['completed']} / {st['cancelled']} / {st['failed']} / {st['incomplete']}", str(len(result["errors"])),
        f"{result['samples'][0]['rss_mib']:.0f} → {result['samples'][-1]['rss_mib']:.0f}", drift,
        f"{result['tasks_first_last'][0]} → {result['tasks_first_last'][1]}"]])
    samples = [r for r in result["samples"] if r["t_s"] % 60 < 30 or r is result["samples"][-1]]
    rss = table(["t s", "RSS MiB", "asyncio tasks", "sessions"],
                [[str(r["t_s"]), f"{r['rss_mib']:.0f}", str(r["tasks"]), str(r["sessions"])] for r in samples])
    errors = "".join(f"\n- `{e}`" for e in result["errors"][:10])
    write_report(path, "Soak: conversations with barge-ins for a set time", [
        "- Each conversation speaks a question, talks over the reply (a barge-in), waits for the reply to end, "
        "and again, at real time. A lost reply is a response.created without response.done. RSS is the "
        "server's process tree; the first minute is warm-up (models' buffers, caches).",
    ], summary + "\n\n" + rss + ("\n\nErrors:" + errors if errors else ""))


def _growth(rows: list[dict[str, Any]]) -> float | None:
    first, last = rows[0]["rss_mib"], rows[-1]["rss_mib"]
    return round(100 * (last / first - 1), 1) if first else None


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--conversations", "-n", type=int, default=4)
    p.add_argument("--minutes", type=float, default=20.0)
    p.add_argument("--every", type=float, default=30.0, help="seconds between RSS samples")
    p.add_argument("--port", type=int, default=None, help="use the server on this port (default: start one)")
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "soak.json")
    p.add_argument("--no-markdown", dest="markdown", action="store_false", help="skip the .md report next to --out")
    args = p.parse_args()
    result = asyncio.run(main_async(args))
    summary = {k: v for k, v in result.items() if k != "samples"}
    print(json.dumps(summary, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    if args.markdown:
        report(result, args.out.with_suffix(".md"))


if __name__ == "__main__":
    main()
