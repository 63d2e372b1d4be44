"""Realtime load benchmark: N concurrent spoken conversations on /v1/realtime.

    .venv/bin/python bench/realtime.py [--sessions 1,2,4,8,16] [--turns 4] [--port P]
                                       [--server-args "--llm-workers 1 ..."]

Each session streams real English speech (eval-speech clips of 2-6 s, read in place) at real-time
pace, 100 ms appends every 100 ms, silence in between; the server's VAD ends the turns. After each
clip the client waits for the spoken reply to finish. Every ``--barge-every``-th turn the user
talks over the reply ``--barge-after`` s after its first audio delta (barge-in). Without --port a
``voxloop serve`` is started on a free 127.0.0.1 port, with session caps raised to the largest N
and ``--server-args`` appended (another LLM backend or other workers/threads: the same benchmark
against other engine settings). Each N stops itself after ``--limit`` s. Writes
bench/results/realtime.md and, for bench/plot.py, realtime.json beside it.

Definitions (all client-side, time.monotonic()):
- the mic: each 100 ms append is sent at the end of the 100 ms it holds, as a live microphone
  delivers audio; every clock below starts when the sound was *spoken* (mic start + stream
  time), so the up-to-100 ms wait for a chunk to fill counts against voxloop.
- voice-to-voice: the clip's last non-silent sample spoken (energy trim: 20 ms frames under
  max(loudest frame - 35 dB, noise floor + 10 dB) are silence) -> first
  response.output_audio.delta of the reply.
- barge-in stop: the interrupting clip's first non-silent sample spoken -> (a) last audio delta of
  the interrupted reply received (0 if all of it had been received before) and (b)
  output_audio_buffer.cleared received, which is what stops a client's speaker.
- p95 (and any tail percentile) is printed only over >= 30 samples; "-" otherwise.
- stall: a player that starts at the first delta and plays deltas back to back pauses for
  max_i(arrival_i - arrival_0 - audio before i) in total; a reply is behind real time if > 0.2 s.
- VAD lag: speech_stopped received - send time of audio_end_ms + silence_duration_ms; the server
  is not keeping up with the appends if > 1 s (or the client's own sends slip > 0.5 s).
- a session "falls behind" if any of its replies is behind or the VAD/append lag limits are hit.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import statistics
import sys
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import websockets

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import (  # noqa: E402
    Clip,
    Mic,
    Playback,
    ProcSampler,
    Recorder,
    Server,
    flat,
    load,
    load_clips,
    ms,
    ms_or_none,
    pct,
    ratio,
    scrape,
    server_flags,
    session_caps,
    start_server,
    table,
    times,
    wait_idle,
    write_json,
    write_report,
)

RESULTS = Path(__file__).resolve().parent / "results" / "realtime.md"
SILENCE_MS = 500  # the server's default silence_duration_ms
STALL_LIMIT, VAD_LIMIT, SEND_LIMIT = 0.2, 1.0, 0.5


@dataclass
class Stats:
    v2v: list[float] = field(default_factory=list)
    barge_last: list[float] = field(default_factory=list)
    barge_cleared: list[float] = field(default_factory=list)
    barges: list[tuple[str, float]] = field(default_factory=list)  # (interrupted response id, speech onset)
    barge_missed: int = 0  # the reply had finished playing before the interruption was detected
    stalls: list[float] = field(default_factory=list)
    vad_lags: list[float] = field(default_factory=list)
    metrics: list[dict[str, Any]] = field(default_factory=list)
    detail: list[dict[str, Any]] = field(default_factory=list)  # per reply: client stage times + server metrics
    problems: Counter[str] = field(default_factory=Counter)
    replies: int = 0
    seconds: float = 0.0  # connected: session.created to close (a second of conversation each)
    behind: bool = False
    cut: bool = False  # the time limit ended the session mid-turn
    stage: str = ""  # what the session is waiting for


def is_(type_: str, rid: str | None = None) -> Any:
    def pred(e: dict[str, Any]) -> bool:
        if e.get("type") != type_:
            return False
        r = e.get("response_id") or (e.get("response") or {}).get("id")
        return rid is None or r == rid
    return pred


async def turn(rec: Recorder, mic: Mic, pb: Playback, start: int, st: Stats, args: argparse.Namespace,
               deadline: float, interrupt: Clip | None, barged: bool = False) -> None:
    def left() -> float:
        return max(1.0, min(30.0, deadline - time.monotonic()))

    await mic.sent(pb.end_idx)
    end_t = mic.spoken_at(pb.end_stream)  # the user's last sound, on the mic's clock
    st.stage = "speech_stopped"
    i = await rec.wait(lambda e: e["type"] == "input_audio_buffer.speech_stopped"
                       and e["audio_end_ms"] >= 1000 * pb.end_stream - 800, start, left())
    stopped_t = rec.events[i][0]
    st.stage = "response.created"
    i = await rec.wait(is_("response.created"), i, left())
    rid = rec.events[i][1]["response"]["id"]
    created_t = rec.events[i][0]
    st.stage = "first audio delta"
    j = await rec.wait(lambda e: is_("response.output_audio.delta", rid)(e) or is_("response.done", rid)(e), i, left())
    st.stage = "response.done"
    if rec.events[j][1]["type"] == "response.done":
        st.problems[f"reply without audio ({rec.events[j][1]['response']['status']})"] += 1
        return
    first_t = rec.events[j][0]
    st.v2v.append(first_t - end_t)
    st.detail.append({"response_id": rid, "v2v_ms": round(1000 * (first_t - end_t)),
                      "speech_stopped_ms": round(1000 * (stopped_t - end_t)),
                      "created_ms": round(1000 * (created_t - end_t)), "after_barge_in": barged})
    st.replies += 1
    if interrupt is not None:
        await asyncio.sleep(max(0.0, first_t + args.barge_after - time.monotonic()))
        if any(is_("response.done", rid)(e) for _, e in rec.events[j:]):
            st.barge_missed += 1
        else:
            start2 = len(rec.events)
            pb2 = mic.play(interrupt)
            await mic.sent(pb2.onset_idx)
            st.barges.append((rid, mic.spoken_at(pb2.onset_stream)))
            await rec.wait(is_("response.done", rid), j, left())
            await turn(rec, mic, pb2, start2, st, args, deadline, None, barged=True)
            return
    await rec.wait(is_("response.done", rid), j, left())
    await asyncio.sleep(0.5)  # let the last 300 ms the client buffers play out: talking now would barge in


def analyse(rec: Recorder, mic: Mic, st: Stats) -> None:
    deltas: dict[str, list[tuple[float, float]]] = {}
    for t, e in rec.of("response.output_audio.delta"):
        deltas.setdefault(e["response_id"], []).append((t, e["seconds"]))
    for arr in deltas.values():
        played, worst = 0.0, 0.0
        for t, sec in arr:
            worst = max(worst, t - arr[0][0] - played)
            played += sec
        st.stalls.append(worst)
    cleared = {e["response_id"]: t for t, e in rec.of("output_audio_buffer.cleared")}
    started = [t for t, _ in rec.of("input_audio_buffer.speech_started")]
    for rid, onset in list(st.barges):
        arr = deltas.get(rid, [(onset, 0.0)])
        heard = next((t for t in started if t >= onset), None)
        if rid not in cleared and (heard is None or heard > arr[0][0] + sum(d for _, d in arr)):
            st.barges.remove((rid, onset))  # speech was detected after the reply had finished playing
            st.barge_missed += 1
            continue
        last = max((t for t, _ in deltas.get(rid, [])), default=onset)
        st.barge_last.append(max(0.0, last - onset))
        if rid in cleared:
            st.barge_cleared.append(cleared[rid] - onset)
            late = sum(1 for t, _ in deltas.get(rid, []) if t > cleared[rid])
            if late:
                st.problems["audio delta after output_audio_buffer.cleared"] += late
        else:
            st.problems["barge-in during playback not honoured (no output_audio_buffer.cleared)"] += 1
        status = next((e["response"]["status"] for _, e in rec.of("response.done") if e["response"]["id"] == rid), None)
        if status != "cancelled":
            st.problems[f"interrupted reply ended {status}"] += 1
    for t, e in rec.of("input_audio_buffer.speech_stopped"):
        sent = mic.time_of(e["audio_end_ms"] / 1000 + SILENCE_MS / 1000)
        if sent is not None:
            st.vad_lags.append(t - sent)
    ids = [e["response"]["id"] for _, e in rec.of("response.created")]
    created = set(ids[:-1] if st.cut else ids)  # a reply cut off by the time limit is no fault
    done = {e["response"]["id"] for _, e in rec.of("response.done")}
    if created - done:
        st.problems["response.created without response.done"] += len(created - done)
    metrics = {e["response_id"]: e["metrics"] for _, e in rec.of("voxloop.metrics")}
    if done - set(metrics):
        st.problems["response without voxloop.metrics"] += len(done - set(metrics))
    st.metrics.extend(metrics.values())
    for d in st.detail:
        d["server"] = metrics.get(d["response_id"])
    for _, e in rec.of("error"):
        st.problems[f"error {e['error'].get('code')}"] += 1
    why = {"reply audio stalled > 0.2 s": any(s > STALL_LIMIT for s in st.stalls),
           "VAD lag > 1 s": any(v > VAD_LIMIT for v in st.vad_lags), "append send lag > 0.5 s": mic.max_lag > SEND_LIMIT}
    st.problems.update(f"session behind: {k}" for k, v in why.items() if v)
    st.behind = any(why.values())


def turns_for(n: int, args: argparse.Namespace) -> int:
    """User turns per session so that N sessions give at least ``--replies`` replies."""
    return max(args.turns, -(-args.replies // n))


def limit_for(n: int, args: argparse.Namespace) -> float:
    """Seconds for one N: about 12 s a turn (clip, reply, pause), more when sessions queue."""
    return max(args.limit, 20.0 + turns_for(n, args) * 12.0 * max(1.0, n / 4))


async def converse(sid: int, n: int, base: str, clips: list[Clip], args: argparse.Namespace, deadline: float) -> Stats:
    st = Stats()
    turns = turns_for(n, args)
    await asyncio.sleep(sid * min(0.5, 3.0 / n))  # stagger the starts over a few seconds
    url = base.replace("http", "ws") + "/v1/realtime?model=voxloop"
    async with websockets.connect(url, max_size=None, open_timeout=20) as ws:
        rec, mic = Recorder(ws), Mic(ws)
        tasks = [asyncio.create_task(rec.run())]
        opened = 0.0
        try:
            first = rec.events[await rec.wait(lambda e: e["type"] in ("session.created", "error"), 0, 20)][1]
            if first["type"] == "error":
                st.problems[f"connect refused: {first['error'].get('code')}"] += 1
                return st
            opened = time.monotonic()
            await ws.send(json.dumps({"type": "session.update", "session": {
                "type": "realtime", "max_output_tokens": args.max_tokens, "voxloop": {"events": True}}}))
            await rec.wait(is_("session.updated"), 0, 20)
            tasks.append(asyncio.create_task(mic.run()))
            k = 0
            for k in range(turns):
                if deadline - time.monotonic() < 12:
                    st.problems["turns skipped (time limit)"] += turns - k
                    break
                clip = clips[(sid * 5 + k) % len(clips)]
                barge = args.barge_every > 0 and k % args.barge_every == args.barge_every - 1
                start = len(rec.events)
                try:
                    await turn(rec, mic, mic.play(clip), start, st, args, deadline,
                               clips[(sid * 5 + k + len(clips) // 2) % len(clips)] if barge else None)
                except TimeoutError:
                    st.cut = time.monotonic() >= deadline - 1
                    st.problems["turn cut by the time limit" if st.cut else f"turn timed out (30 s) waiting for {st.stage}"] += 1
                    break
        except ConnectionError as e:
            st.problems[f"connection lost: {e}"] += 1
        finally:
            st.seconds = time.monotonic() - opened if opened else 0.0
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        analyse(rec, mic, st)
    return st


async def run_n(n: int, base: str, clips: list[Clip], args: argparse.Namespace) -> list[Stats]:
    limit = limit_for(n, args)
    deadline = time.monotonic() + limit

    async def one(sid: int) -> Stats:
        try:
            return await asyncio.wait_for(converse(sid, n, base, clips, args, deadline), limit + 20)
        except Exception as e:  # noqa: BLE001 - a crashed client is a result too
            st = Stats()
            st.problems[f"client failed: {type(e).__name__}"] += 1
            traceback.print_exc()
            return st
    return list(await asyncio.gather(*(one(i) for i in range(n))))


def ms_pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.0f} %"


def median_of(metrics: list[dict[str, Any]], key: str) -> float | None:
    xs = [m[key] for m in metrics if m.get(key) is not None]
    return float(statistics.median(xs)) if xs else None


def med(metrics: list[dict[str, Any]], key: str) -> str:
    x = median_of(metrics, key)
    return "-" if x is None else f"{x:.0f}"


@dataclass
class Measured:
    """One N: every session's stats, and what the server (and this client) used meanwhile."""

    n: int
    res: list[Stats]
    cpu: ProcSampler
    wall: float
    client_cpu: float  # this benchmark process, % of one core
    h0: dict[str, Any]
    h1: dict[str, Any]
    gaps: tuple[int, float] | None = None  # pauses inside replies' audio the server saw (count, seconds)

    @property
    def v2v(self) -> list[float]:
        return flat(self.res, "v2v")

    @property
    def session_seconds(self) -> float:
        return sum(s.seconds for s in self.res)


async def measure(n: int, srv: Server, clips: list[Clip], args: argparse.Namespace, tree: bool = True) -> Measured:
    """Run N sessions against ``srv``, sampling the server's CPU and RSS (its process tree, or
    the process alone with ``tree=False``) for exactly that N."""
    h0 = await wait_idle(srv.base)
    m0 = scrape(srv.base)
    with ProcSampler(srv.pid, tree=tree) as cpu:
        t0, c0 = time.monotonic(), time.process_time()
        res = await run_n(n, srv.base, clips, args)
        wall = time.monotonic() - t0
        client_cpu = 100 * (time.process_time() - c0) / wall
    h1, m1 = await wait_idle(srv.base), scrape(srv.base)
    name = "voxloop_reply_audio_gap_seconds"
    gaps = None if f"{name}_count" not in m1 else (
        int(m1[f"{name}_count"] - m0.get(f"{name}_count", 0)), m1[f"{name}_sum"] - m0.get(f"{name}_sum", 0))
    return Measured(n, res, cpu, wall, client_cpu, h0, h1, gaps)


def summary(m: Measured, p50_1: float | None) -> dict[str, Any]:
    """The JSON row of one N (ms; CPU % of one core; MiB); ``p50_1``: voice-to-voice p50 at N=1 (s)."""
    v2v, last, clr = m.v2v, flat(m.res, "barge_last"), flat(m.res, "barge_cleared")
    metrics = flat(m.res, "metrics")
    p95 = pct(v2v, 95)
    return {
        "n": m.n, "replies": sum(s.replies for s in m.res),
        "v2v_p50_ms": ms_or_none(pct(v2v, 50)), "v2v_p95_ms": ms_or_none(p95),
        "p95_over_p50_1": None if (r := ratio(p95, p50_1)) is None else round(r, 2),
        "barge_ins": sum(len(s.barges) for s in m.res),
        "barge_ins_tried": sum(len(s.barges) + s.barge_missed for s in m.res),
        "barge_stop_last_p50_ms": ms_or_none(pct(last, 50)), "barge_stop_last_p95_ms": ms_or_none(pct(last, 95)),
        "barge_cleared_p50_ms": ms_or_none(pct(clr, 50)), "barge_cleared_p95_ms": ms_or_none(pct(clr, 95)),
        "sessions_behind": sum(s.behind for s in m.res),
        "server_cpu_percent": None if m.cpu.cpu_percent is None else round(m.cpu.cpu_percent, 1),
        "server_cpu_seconds": None if m.cpu.cpu_seconds is None else round(m.cpu.cpu_seconds, 2),
        "server_rss_peak_mib": round(max(m.cpu.rss), 1) if m.cpu.rss else None,
        "server_rss_start_mib": round(m.cpu.rss[0], 1) if m.cpu.rss else None,
        "session_seconds": round(m.session_seconds, 1), "wall_s": round(m.wall, 1),
        "client_cpu_percent": round(m.client_cpu, 1),
        "others_cpu_percent": None if m.cpu.others_percent is None else round(m.cpu.others_percent, 1),
        "server_audio_gaps": None if m.gaps is None else m.gaps[0],
        "server_audio_gap_s": None if m.gaps is None else round(m.gaps[1], 2),
        "reply_detail": flat(m.res, "detail"),
        "server_medians_ms": {k: median_of(metrics, k) for k in (
            "voice_to_voice_ms", "asr_final_ms", "llm_first_token_ms", "tts_first_chunk_ms", "first_clause_ms",
            "barge_in_stop_ms")},
    }


def problems_note(m: Measured) -> str:
    problems: Counter[str] = sum((s.problems for s in m.res), Counter())
    return (f"- N={m.n}: " + (", ".join(f"{k} x{v}" for k, v in sorted(problems.items())) or "no problems")
            + f"; /healthz tasks {m.h0.get('tasks')} before, {m.h1.get('tasks')} after, "
            f"sessions after {m.h1.get('sessions')}; "
            + ("" if m.gaps is None else f"pauses inside replies' audio seen by the server {m.gaps[0]} "
               f"({m.gaps[1]:.1f} s in all); ")
            + f"bench client CPU {m.client_cpu:.0f} %; "
            f"other processes on the machine {ms_pct(m.cpu.others_percent)} (of {100 * (os.cpu_count() or 1)} %)")


def clips_for_conversation() -> list[Clip]:
    clips = load_clips(lambda r: 2.0 <= r["duration_s"] <= 6.0 and "8k" not in r["audio"])
    clips = [c for c in clips if c.gap < 0.45 and c.trimmable]  # no inner pause long enough to split the turn
    print(f"{len(clips)} clips: {', '.join(c.name for c in clips)}", flush=True)
    return clips


async def warm_up(srv: Server, clips: list[Clip], args: argparse.Namespace) -> None:
    """One short unrecorded session: a cold server's first replies are slow."""
    print("warm-up (not recorded) ...", flush=True)
    await run_n(1, srv.base, clips, argparse.Namespace(**{**vars(args), "turns": 3, "replies": 3, "limit": 45.0}))


def target_line(rows: list[dict[str, Any]]) -> str:
    """Issue 11's target, checked on this run: at N=8 voice-to-voice p95 <= 2 x the p50 at N=1."""
    one = next((r for r in rows if r["n"] == 1), None)
    eight = next((r for r in rows if r["n"] == 8), None)
    if one is None or eight is None:
        return "Target (N=8 p95 <= 2 x N=1 p50): not checked, the run did not include both N=1 and N=8."
    r = eight["p95_over_p50_1"]
    verdict = "not measured (fewer than 30 replies at N=8)" if r is None else ("**met**" if r <= 2 else "**not met**")
    return (f"Target (N=8 voice-to-voice p95 <= 2 x the N=1 p50 of the same run): N=8 p95 "
            f"{eight['v2v_p95_ms'] or '-'} ms vs N=1 p50 {one['v2v_p50_ms'] or '-'} ms = {times(r)}: {verdict}.")


async def main_async(args: argparse.Namespace) -> None:
    clips = clips_for_conversation()
    ns = [int(x) for x in args.sessions.split(",")]
    rows, rows2, notes, data = [], [], [], []
    all_last: list[float] = []
    all_clr: list[float] = []
    load_before = load()
    p50_1: float | None = None
    flags = server_flags(args.server_args)
    with start_server(args.port, [*session_caps(max(ns)), *flags]) as srv:
        engines = srv.engines()
        if args.warmup:
            await warm_up(srv, clips, args)
        for n in ns:
            print(f"N={n} ...", flush=True)
            m = await measure(n, srv, clips, args)
            if n == 1:
                p50_1 = pct(m.v2v, 50)
            d = summary(m, p50_1)
            data.append(d)
            last, clr = flat(m.res, "barge_last"), flat(m.res, "barge_cleared")
            all_last.extend(last)
            all_clr.extend(clr)
            stalls, lags, metrics = flat(m.res, "stalls"), flat(m.res, "vad_lags"), flat(m.res, "metrics")
            rss = f"{max(m.cpu.rss):.0f}" if m.cpu.rss else "-"
            rows.append([str(n), str(d["replies"]), ms(pct(m.v2v, 50)), ms(pct(m.v2v, 95)), times(d["p95_over_p50_1"]),
                         f"{d['barge_ins']}/{d['barge_ins_tried']}",
                         f"{ms(pct(last, 50))} / {ms(pct(last, 95))}", f"{ms(pct(clr, 50))} / {ms(pct(clr, 95))}",
                         f"{d['sessions_behind']}/{n}", "-" if m.cpu.cpu_percent is None else f"{m.cpu.cpu_percent:.0f}",
                         rss])
            spec = [x for x in metrics if x.get("voice_to_voice_ms") is not None]
            rows2.append([str(n), med(metrics, "voice_to_voice_ms"), med(metrics, "asr_final_ms"),
                          med(metrics, "llm_first_token_ms"), med(metrics, "tts_first_chunk_ms"),
                          med(metrics, "first_clause_ms"), med(metrics, "barge_in_stop_ms"),
                          f"{sum(bool(x.get('speculative')) for x in spec)}/{len(spec)}",
                          ms(pct(stalls, 95)), ms(max(stalls, default=None)), ms(pct(lags, 95)),
                          f"{m.wall:.0f}", f"{m.cpu.rss[0]:.0f}" if m.cpu.rss else "-"])
            notes.append(problems_note(m))
            print(table(HEADER[:5] + ["barge-ins", "stop p50/p95", "cleared p50/p95", "behind", "CPU %", "RSS MiB"],
                        rows[-1:]), flush=True)
            print(notes[-1], flush=True)
    load_after = load()
    pooled = (f"All N pooled: barge-ins {len(all_last)}; stop at last delta p50 {ms(pct(all_last, 50))} / "
              f"p95 {ms(pct(all_last, 95))} ms; output_audio_buffer.cleared p50 {ms(pct(all_clr, 50))} / "
              f"p95 {ms(pct(all_clr, 95))} ms.")
    print(pooled, flush=True)
    print(target_line(data), flush=True)
    body = "\n\n".join([
        "## Client-side latency (ms) and server load",
        table(HEADER, rows), target_line(data), pooled,
        "## Server `voxloop.metrics` medians (ms), reply pacing, VAD lag",
        table(["N sessions", "voice_to_voice_ms", "asr_final_ms", "llm_first_token_ms", "tts_first_chunk_ms",
               "of which first_clause_ms", "barge_in_stop_ms", "speculative replies", "stall p95", "stall max", "VAD lag p95",
               "run wall s", "RSS at start MiB"], rows2),
        "## Problems seen (client-side checks)", "\n".join(notes),
        "## Definitions", __doc__.split("Definitions (all client-side, time.monotonic()):", 1)[1].strip(),
    ])
    extra = shlex.join(flags) if flags and not args.port else ""
    intro = [f"- load average (1, 5, 15 min) before: {load_before}; after: {load_after}",
             "- the machine is shared: other engineers' processes (tests, servers) may have been running",
             "- " + ("one unrecorded warm-up session ran first (a cold server's first replies are slower)"
                     if args.warmup else "no warm-up: the first N ran on a cold server"),
             f"- server: {'existing on port ' + str(args.port) if args.port else '`voxloop serve` started by the script'}"
             f"{', extra flags `' + extra + '`' if extra else ''}, one process; engines: {engines}",
             f"- per session: max({args.turns}, ceil({args.replies} / N)) turns of one 2-6 s eval-speech clip each "
             f"(+ silence), barge-in on every turn k % {args.barge_every} == {args.barge_every - 1}, "
             f"{args.barge_after} s after the reply's first delta, max_output_tokens {args.max_tokens}; "
             f"each N stops after max({args.limit:.0f} s, 20 s + 12 s x turns x max(1, N/4))",
             "- CPU and RSS are the server process tree's, sampled over each N alone; p95/p50(1) is each N's "
             "voice-to-voice p95 over the N=1 p50 of the same run"]
    out = Path(args.out)
    write_report(out, "Realtime conversation load benchmark", intro, body)
    write_json(out.with_suffix(".json"), "realtime", data, server={"engines": engines, "flags": list(srv.args)},
               warmup=args.warmup, max_output_tokens=args.max_tokens)


HEADER = ["N sessions", "replies", "voice-to-voice p50", "voice-to-voice p95", "p95 / p50 at N=1",
          "barge-ins done/tried", "barge-in stop, last delta p50 / p95", "barge-in stop, cleared p50 / p95",
          "sessions behind real time", "server CPU % avg (100 = 1 core)", "server peak RSS MiB"]


def add_client_arguments(p: argparse.ArgumentParser) -> None:
    """The conversation client's knobs (bench/remote.py takes the same)."""
    p.add_argument("--turns", type=int, default=4, help="at least this many user turns per session")
    p.add_argument("--replies", type=int, default=30,
                   help="at least this many replies per N (turns per session grow as needed)")
    p.add_argument("--barge-every", type=int, default=2, help="barge in on every k-th turn (0 = never)")
    p.add_argument("--barge-after", type=float, default=0.8, help="seconds after the reply's first delta")
    p.add_argument("--max-tokens", type=int, default=48, help="session max_output_tokens")
    p.add_argument("--limit", type=float, default=80.0, help="minimum seconds per N run (grows with turns)")
    p.add_argument("--no-warmup", dest="warmup", action="store_false", help="skip the unrecorded warm-up session")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sessions", default="1,2,4,8,16", help="comma-separated concurrent session counts")
    add_client_arguments(p)
    p.add_argument("--port", type=int, default=None, help="use the voxloop server already on this port")
    p.add_argument("--server-args", default="", metavar="FLAGS",
                   help="extra flags for the `voxloop serve` this starts, e.g. \"--llm-workers 1 --llm-threads 2\"")
    p.add_argument("--out", default=str(RESULTS), help="results file (markdown; a .json is written beside it)")
    asyncio.run(main_async(p.parse_args()))


if __name__ == "__main__":
    main()
