"""Dictation load benchmark: N concurrent transcription streams on /v1/realtime?intent=transcription.

    .venv/bin/python bench/dictation.py [--sessions 1,2,4,8,16,32] [--turns 6] [--port P] [--server-args FLAGS]

Each stream sends ``--turns`` English eval-speech clips (1.5-12 s, read in place; not the 8 kHz
ones nor the derived long-form file) back to back with 1 s of silence between, at real-time pace
(100 ms appends every 100 ms), with server VAD (silence_duration_ms 500). jfk, goforward and the
AMI clip are left out: noise or fillers hide where their speech starts or ends. Streaming WER (the
completed transcripts of a stream joined, vs the joined references) is compared with offline WER
(the same clips through the same ASR engine in this process, one call per clip). Whisper's
English normaliser + jiwer, word-weighted over all streams. Each N stops itself after --limit s.
Without --port a ``voxloop serve`` is started with session caps raised to the largest N and
``--server-args`` appended. Writes bench/results/dictation.md and dictation.json beside it.

Definitions (all client-side, time.monotonic()):
- the mic: each 100 ms append is sent at the end of the 100 ms it holds, as a live microphone
  delivers audio; "spoken" times below are mic start + stream time, when the sound was said.
- speech start / end of a clip: when its first / last non-silent sample was spoken (energy
  trim: 20 ms frames under max(loudest - 35 dB, noise floor + 10 dB) are silence).
- first partial: speech start -> first ...input_audio_transcription.delta of the clip's items
  (items are matched to clips by the audio_start_ms of their speech_started event).
- partial lag: for each delta, arrival - when the audio where its last word ends was spoken. The
  server does not say where that is: a delta that brings the clip's streamed text to c words is
  taken to end where word c of the offline transcript of the clip ends (Whisper word timestamps,
  same engine; streamed and offline words are matched by position, not aligned).
- final: speech end of the clip -> ...input_audio_transcription.completed of its last item.
- real time: every clip of every stream got its final < 1.5 s after speech end, no server_busy.
- VAD lag: speech_stopped received - when audio_end_ms + 500 ms was spoken (silence_duration_ms).
- client CPU and append lag (in the notes): this process's CPU % of one core, and how far its 100 ms
  appends slipped behind their slots at worst; a slip of more than ~100 ms means the client, not
  the server, was the bottleneck at that N.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import sys
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jiwer
import websockets
from whisper_normalizer.english import EnglishTextNormalizer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import (  # noqa: E402
    CHUNK,
    Clip,
    Mic,
    Playback,
    ProcSampler,
    Recorder,
    flat,
    load,
    load_clips,
    ms,
    ms_or_none,
    pct,
    ratio,
    server_flags,
    session_caps,
    start_server,
    table,
    times,
    wait_idle,
    write_json,
    write_report,
)

RESULTS = Path(__file__).resolve().parent / "results" / "dictation.md"
FINAL_LIMIT = 1.5
UPDATE = {"type": "session.update", "session": {"type": "transcription", "audio": {"input": {
    "transcription": {"model": "whisper-1"}, "turn_detection": {"type": "server_vad", "silence_duration_ms": 500}}}}}


@dataclass
class DStats:
    first_partial: list[float] = field(default_factory=list)
    lags: list[float] = field(default_factory=list)
    finals: list[float] = field(default_factory=list)
    vad_lags: list[float] = field(default_factory=list)
    clips: list[Clip] = field(default_factory=list)  # clips fully sent and waited for
    hyp: str = ""
    problems: Counter[str] = field(default_factory=Counter)
    realtime: bool = True
    send_lag: float = 0.0  # worst delay of this client's appends behind their slot (client overload)


def analyse(rec: Recorder, mic: Mic, pbs: list[Playback], st: DStats) -> None:
    start = {e["item_id"]: e["audio_start_ms"] / 1000 for _, e in rec.of("input_audio_buffer.speech_started")}
    stop = {e["item_id"]: (t, e["audio_end_ms"] / 1000) for t, e in rec.of("input_audio_buffer.speech_stopped")}
    done = {e["item_id"]: (t, e["transcript"]) for t, e in rec.of("conversation.item.input_audio_transcription.completed")}
    deltas: dict[str, list[tuple[float, str]]] = {}
    for t, e in rec.of("conversation.item.input_audio_transcription.delta"):
        deltas.setdefault(e["item_id"], []).append((t, e["delta"]))
    for t, end in stop.values():
        sent = mic.time_of(end + 0.5)
        if sent is not None:
            st.vad_lags.append(t - sent)
    owner: dict[int, list[str]] = {}
    for item, a in sorted(start.items(), key=lambda kv: kv[1]):
        k = next((i for i, pb in enumerate(pbs) if pb.onset_stream - 0.6 <= a <= pb.end_stream + 0.3), None)
        if k is None:
            st.problems["speech_started outside any clip"] += 1
        else:
            owner.setdefault(k, []).append(item)
    for k, pb in enumerate(pbs):
        items = owner.get(k, [])
        onset, end = mic.spoken_at(pb.onset_stream), mic.spoken_at(pb.end_stream)
        said = 0  # words of the clip's earlier items
        for i in items:  # partial lag: where does the c-th word of the clip end?
            a, b = start[i], stop.get(i, (0.0, pb.end_stream))[1]
            total = max(1, len(done.get(i, (0, ""))[1].split()), sum(len(d.split()) for _, d in deltas.get(i, [])))
            c = 0
            for t, d in deltas.get(i, []):
                c += len(d.split())
                ends = pb.clip.word_ends
                at = pb.first * CHUNK + ends[min(said + c, len(ends)) - 1] if ends else a + (b - a) * c / total
                if (sent := mic.time_of(at)) is not None:
                    st.lags.append(t - sent)
            said += max(c, len(done.get(i, (0, ""))[1].split()))
        firsts = [deltas[i][0][0] for i in items if deltas.get(i)]
        if firsts:
            st.first_partial.append(min(firsts) - onset)
        else:
            st.problems["clip without any partial"] += 1
        if items and items[-1] in done:
            st.finals.append(done[items[-1]][0] - end)
            st.realtime &= st.finals[-1] < FINAL_LIMIT
        else:
            st.problems["clip without a final"] += 1
            st.realtime = False
    st.hyp = " ".join(done[i][1] for i in sorted(done, key=lambda i: start.get(i, 1e9)))
    for _, e in rec.of("error"):
        st.problems[f"error {e['error'].get('code')}"] += 1
        st.realtime &= e["error"].get("code") != "server_busy"
    for _, e in rec.of("conversation.item.input_audio_transcription.failed"):
        st.problems[f"transcription failed {e.get('error', {}).get('code')}"] += 1


async def dictate(sid: int, n: int, base: str, clips: list[Clip], args: argparse.Namespace, deadline: float) -> DStats:
    st = DStats()
    await asyncio.sleep(sid * min(0.5, 3.0 / n))
    url = base.replace("http", "ws") + "/v1/realtime?intent=transcription"
    async with websockets.connect(url, max_size=None, open_timeout=20) as ws:
        rec, mic = Recorder(ws), Mic(ws)
        tasks = [asyncio.create_task(rec.run())]
        pbs: list[Playback] = []
        try:
            first = rec.events[await rec.wait(lambda e: e["type"] in ("session.created", "error"), 0, 20)][1]
            if first["type"] == "error":
                code = first["error"].get("code")
                st.problems[f"connect refused: {code}"] += 1
                st.realtime = code != "server_busy"
                return st
            await ws.send(json.dumps(UPDATE))
            await rec.wait(lambda e: e["type"].endswith("session.updated"), 0, 20)
            tasks.append(asyncio.create_task(mic.run()))
            turns = turns_for(n, args)
            for k in range(turns):
                clip = clips[(sid * 7 + k) % len(clips)]
                if deadline - time.monotonic() < clip.duration + 6:
                    st.problems["clips skipped (time limit)"] += turns - k
                    break
                pbs.append(mic.play(clip))
                mic.pause(1.0)
                await mic.sent(pbs[-1].end_idx)
            if pbs:  # the last final: its speech_stopped, then completed (or time out)
                last = pbs[-1]
                with_end = lambda e: (e["type"] == "input_audio_buffer.speech_stopped"  # noqa: E731
                                      and e["audio_end_ms"] >= 1000 * last.end_stream - 800)
                try:
                    i = await rec.wait(with_end, 0, 10)
                    item = rec.events[i][1]["item_id"]
                    await rec.wait(lambda e: e["type"] == "conversation.item.input_audio_transcription.completed"
                                   and e["item_id"] == item, i, 10)
                except TimeoutError:
                    st.problems["last final timed out"] += 1
        except ConnectionError as e:
            st.problems[f"connection lost: {e}"] += 1
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        st.clips = [pb.clip for pb in pbs]
        st.send_lag = mic.max_lag
        analyse(rec, mic, pbs, st)
    return st


def turns_for(n: int, args: argparse.Namespace) -> int:
    """Clips per stream so that N streams give at least ``--clips`` finals."""
    return max(args.turns, -(-args.clips // n))


def limit_for(n: int, args: argparse.Namespace) -> float:
    return max(args.limit, 30.0 + 9.0 * turns_for(n, args))


async def run_n(n: int, base: str, clips: list[Clip], args: argparse.Namespace) -> list[DStats]:
    limit = limit_for(n, args)
    deadline = time.monotonic() + limit

    async def one(sid: int) -> DStats:
        try:
            return await asyncio.wait_for(dictate(sid, n, base, clips, args, deadline), limit + 20)
        except Exception as e:  # noqa: BLE001 - a crashed client is a result too
            st = DStats(realtime=False)
            st.problems[f"client failed: {type(e).__name__}"] += 1
            traceback.print_exc()
            return st
    return list(await asyncio.gather(*(one(i) for i in range(n))))


def offline_transcripts(clips: list[Clip]) -> dict[str, str]:
    from voxloop.audio import Audio
    from voxloop.engines import create_engine
    from voxloop.engines.base import ASREngine, TranscribeOptions

    asr = create_engine("asr")
    assert isinstance(asr, ASREngine)
    asr.prewarm()
    out = {c.name: asr.transcribe_sync(Audio(c.audio16, 16000)).text for c in clips}
    for c in clips:  # word end times, for the partial lag
        t = asr.transcribe_sync(Audio(c.audio16, 16000), TranscribeOptions(word_timestamps=True))
        c.word_ends = [w.end for seg in t.segments for w in seg.words]
    asr.close()
    return out


def wer(refs: list[str], hyps: list[str]) -> str:
    norm = EnglishTextNormalizer()
    pairs = [(norm(r), norm(h)) for r, h in zip(refs, hyps, strict=True) if norm(r).strip()]
    if not pairs:
        return "-"
    return f"{100 * jiwer.wer([r for r, _ in pairs], [h for _, h in pairs]):.1f} %"


def summary(n: int, res: list[DStats], cpu: ProcSampler, client_cpu: float, wall: float,
            lag_p50_1: float | None) -> dict[str, Any]:
    """The JSON row of one N (ms; CPU % of one core; MiB); ``lag_p50_1``: partial lag p50 at N=1 (s)."""
    fp, lags, finals, vad = (flat(res, a) for a in ("first_partial", "lags", "finals", "vad_lags"))
    problems: Counter[str] = sum((s.problems for s in res), Counter())
    rt = sum(s.realtime for s in res)
    p95 = pct(lags, 95)
    return {
        "n": n, "clips": len(flat(res, "clips")),
        "first_partial_p50_ms": ms_or_none(pct(fp, 50)), "first_partial_p95_ms": ms_or_none(pct(fp, 95)),
        "partial_lag_p50_ms": ms_or_none(pct(lags, 50)), "partial_lag_p95_ms": ms_or_none(p95),
        "p95_over_p50_1": None if (r := ratio(p95, lag_p50_1)) is None else round(r, 2),
        "final_p50_ms": ms_or_none(pct(finals, 50)), "final_p95_ms": ms_or_none(pct(finals, 95)),
        "final_max_ms": ms_or_none(max(finals, default=None)), "vad_lag_p95_ms": ms_or_none(pct(vad, 95)),
        "server_busy": problems.get("error server_busy", 0) + problems.get("connect refused: server_busy", 0),
        "streams_real_time": rt, "real_time": rt == n,
        "server_cpu_percent": None if cpu.cpu_percent is None else round(cpu.cpu_percent, 1),
        "server_rss_peak_mib": round(max(cpu.rss), 1) if cpu.rss else None,
        "server_rss_start_mib": round(cpu.rss[0], 1) if cpu.rss else None,
        "client_cpu_percent": round(client_cpu, 1), "wall_s": round(wall, 1),
        "client_send_lag_max_ms": ms_or_none(max((s.send_lag for s in res), default=None)),
        "others_cpu_percent": None if cpu.others_percent is None else round(cpu.others_percent, 1),
    }


async def main_async(args: argparse.Namespace) -> None:
    clips = load_clips(lambda r: 1.5 <= r["duration_s"] <= 12.0 and "8k" not in r["audio"] and "concat" not in r["audio"])
    clips = [c for c in clips if c.trimmable]
    ns = [int(x) for x in args.sessions.split(",")]
    used = {clips[(s * 7 + k) % len(clips)].name for n in ns for s in range(n) for k in range(turns_for(n, args))}
    print(f"offline transcription of {len(used)} clips ...", flush=True)
    t0 = time.monotonic()
    offline = offline_transcripts([c for c in clips if c.name in used])
    print(f"done in {time.monotonic() - t0:.0f} s", flush=True)
    rows, notes, data, load_before = [], [], [], load()
    largest_rt, still_rt = 0, True
    lag_p50_1: float | None = None
    flags = server_flags(args.server_args)
    with start_server(args.port, [*session_caps(max(ns)), *flags]) as srv:
        engines = srv.engines()
        if args.warmup:  # one short unrecorded session: a cold server's first replies are slow
            print("warm-up (not recorded) ...", flush=True)
            await run_n(1, srv.base, clips, argparse.Namespace(**{**vars(args), "turns": 2, "clips": 2, "limit": 45.0}))
        for n in ns:
            h0 = await wait_idle(srv.base)
            print(f"N={n} ...", flush=True)
            t0, c0 = time.monotonic(), time.process_time()
            with ProcSampler(srv.pid) as cpu:
                res = await run_n(n, srv.base, clips, args)
            wall = time.monotonic() - t0
            client_cpu = 100 * (time.process_time() - c0) / wall
            h1 = await wait_idle(srv.base)
            if n == 1:
                lag_p50_1 = pct(flat(res, "lags"), 50)
            d = summary(n, res, cpu, client_cpu, wall, lag_p50_1)
            data.append(d)
            fp, lags, finals, vad = (flat(res, a) for a in ("first_partial", "lags", "finals", "vad_lags"))
            refs = [" ".join(c.text for c in s.clips) for s in res]
            rt = sum(s.realtime for s in res)
            if rt == n and still_rt:
                largest_rt = n
            still_rt &= rt == n
            problems: Counter[str] = sum((s.problems for s in res), Counter())
            rows.append([str(n), str(d["clips"]), f"{ms(pct(fp, 50))} / {ms(pct(fp, 95))}",
                         f"{ms(pct(lags, 50))} / {ms(pct(lags, 95))}", times(d["p95_over_p50_1"]),
                         f"{ms(pct(finals, 50))} / {ms(pct(finals, 95))} / {ms(max(finals, default=None))}",
                         ms(pct(vad, 95)), wer(refs, [s.hyp for s in res]),
                         wer(refs, [" ".join(offline[c.name] for c in s.clips) for s in res]),
                         str(d["server_busy"]), f"{rt}/{n} ({'yes' if rt == n else 'no'})",
                         "-" if cpu.cpu_percent is None else f"{cpu.cpu_percent:.0f}",
                         f"{max(cpu.rss):.0f}" if cpu.rss else "-"])
            notes.append(f"- N={n}: " + (", ".join(f"{k} x{v}" for k, v in sorted(problems.items())) or "no problems")
                         + f"; /healthz tasks {h0.get('tasks')} before, {h1.get('tasks')} after, sessions after "
                         f"{h1.get('sessions')}; RSS at start {cpu.rss[0] if cpu.rss else 0:.0f} MiB; bench client CPU {client_cpu:.0f} %, "
                         f"its appends at most {ms(max((s.send_lag for s in res), default=None))} ms behind their slot"
                         + ("" if cpu.others_percent is None else
                            f"; other processes on the machine {cpu.others_percent:.0f} % (of {100 * (os.cpu_count() or 1)} %)"))
            print(table(HEADER, rows[-1:]) + "\n" + notes[-1], flush=True)
    load_after = load()
    body = "\n\n".join([
        "## Results (latencies in ms)", table(HEADER, rows),
        f"Largest N with every stream in real time (all finals < {FINAL_LIMIT} s after end of speech, no "
        f"server_busy), counting up from the smallest N tested: **{largest_rt or 'none'}** (of {', '.join(map(str, ns))}).",
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
             f"- per stream: max({args.turns}, ceil({args.clips} / N)) clips with 1 s silence between; each N stops "
             f"after max({args.limit:.0f} s, 30 s + 9 s x clips)",
             "- CPU and RSS are the server process tree's, sampled over each N alone; p95/p50(1) is each N's "
             "partial-lag p95 over the N=1 partial-lag p50 of the same run"]
    out = Path(args.out)
    write_report(out, "Dictation (streaming transcription) load benchmark", intro, body)
    write_json(out.with_suffix(".json"), "dictation", data, server={"engines": engines, "flags": list(srv.args)},
               warmup=args.warmup, largest_real_time=largest_rt)


HEADER = ["N streams", "clips", "first partial p50 / p95", "partial lag p50 / p95", "lag p95 / p50 at N=1",
          "final p50 / p95 / max", "VAD lag p95", "streaming WER", "offline WER", "server_busy",
          "streams real time", "server CPU % avg", "server peak RSS MiB"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sessions", default="1,2,4,8,16,32", help="comma-separated concurrent stream counts")
    p.add_argument("--turns", type=int, default=6, help="at least this many clips per stream")
    p.add_argument("--clips", type=int, default=30, help="at least this many clips (finals) per N")
    p.add_argument("--limit", type=float, default=90.0, help="seconds per N run")
    p.add_argument("--port", type=int, default=None, help="use the voxloop server already on this port")
    p.add_argument("--server-args", default="", metavar="FLAGS",
                   help="extra flags for the `voxloop serve` this starts, e.g. \"--asr whisper:base --asr-workers 2\"")
    p.add_argument("--out", default=str(RESULTS), help="results file (markdown; a .json is written beside it)")
    p.add_argument("--no-warmup", dest="warmup", action="store_false", help="skip the unrecorded warm-up session")
    asyncio.run(main_async(p.parse_args()))


if __name__ == "__main__":
    main()
