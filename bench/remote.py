"""Remote-inference overhead: N conversations through a voxloop front whose engines are all remote.

    .venv/bin/python bench/remote.py [--sessions 1,2,4,8,16] [--turns 4] [--front-args FLAGS]

Starts three processes on 127.0.0.1, all on this machine:

- an LLM server: llama-cpp-python's own OpenAI-compatible server (``python -m llama_cpp.server``)
  on the embedded SmolLM2-135M GGUF (it needs ``fastapi``, ``sse-starlette``,
  ``starlette-context`` and ``pydantic-settings``: the ``dev`` extra installs them). It runs one
  completion at a time; concurrent ones queue;
- a speech server: a second ``voxloop serve``, used only for its OpenAI-compatible
  ``/v1/audio/transcriptions`` (Whisper tiny.en) and ``/v1/audio/speech`` (Piper), its REST job
  limit raised so that every session's requests run at once;
- the front: ``voxloop serve --asr openai:... --llm openai:... --tts openai:...``. It keeps only
  the VAD (Silero, ~1 ms per 32 ms frame; ``--front-args "--vad energy"`` takes that away too),
  the sessions, turn-taking, the clause chunker, pacing and the WebSocket protocol.

Then the realtime benchmark's client (bench/realtime.py: the same clips, turns, barge-ins and
definitions) holds N conversations with the front. What is reported per N:

- front CPU per second of conversation per session: the front process's CPU seconds (user +
  system, /proc/PID/stat of that pid alone, not its children) over the run, divided by the
  session-seconds of conversation (each session's session.created -> close, summed), in ms.
  The issue 11 target is <= 5 ms. The front's idle CPU (no session, measured first) is in it.
  Split into the main thread (the asyncio event loop: protocol, JSON, base64, resampling,
  sessions) and all other threads (the Silero VAD, the remote engines' executor threads that
  encode WAV and make the HTTP calls, ONNX Runtime's own threads). A session waiting for a
  queued reply still streams its microphone (VAD, appends) but costs less than one talking, so
  the figure is most telling at the N whose replies come back promptly (see voice-to-voice and
  "behind"); front CPU per reply (the same CPU over the replies) does not depend on waiting.
- voice-to-voice p50/p95 and its ratio to the N=1 p50, as in bench/realtime.py; CPU % of the
  front and of the two inference servers; the front's peak RSS.

On one 2-core machine the inference servers take the CPU the front does not, so voice-to-voice
here is no better than embedded; the point is the front's own cost per conversation.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shlex
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import (  # noqa: E402
    ProcSampler,
    load,
    ms,
    pct,
    server_flags,
    session_caps,
    start_server,
    table,
    times,
    wait_idle,
    write_json,
    write_report,
)
from bench.realtime import (  # noqa: E402
    add_client_arguments,
    clips_for_conversation,
    measure,
    problems_note,
    summary,
    warm_up,
)

RESULTS = Path(__file__).resolve().parent / "results" / "remote.md"
TARGET_MS = 5.0  # front CPU ms per second of conversation per session (issue 11)


def free_port() -> int:
    from tests.support import free_port as free

    return free()


@contextlib.contextmanager
def llm_server(flags: list[str], timeout: float = 120.0) -> Iterator[tuple[str, int]]:
    """llama-cpp-python's OpenAI server on the embedded GGUF; yields (base URL with /v1, pid)."""
    from voxloop.engines.models import embedded_llm_path

    port = free_port()
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(embedded_llm_path()),
           "--host", "127.0.0.1", "--port", str(port), "--n_threads", "1", "--n_ctx", "2048",
           # its default cancels a running completion when the next request arrives: sessions' replies
           # would cut each other off; without it they queue (one completion at a time)
           "--interrupt_requests", "False", *flags]
    with tempfile.NamedTemporaryFile("w", prefix="llama-server-bench-", suffix=".log", delete=False) as log:
        log_path = Path(log.name)
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                tail = log_path.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"llama_cpp.server exited with {proc.returncode} (log {log_path}):\n{tail}")
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(f"{base}/models", timeout=1) as r:
                    if r.status == 200:
                        break
            if time.monotonic() > deadline:
                raise RuntimeError(f"llama_cpp.server did not answer in {timeout:.0f} s; log {log_path}")
            time.sleep(0.3)
        print(f"started llama_cpp.server pid {proc.pid} on {base}, log {log_path}", flush=True)
        yield base, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def main_thread_seconds(pid: int | None) -> float:
    """CPU seconds of the process's main thread: the front's event loop (uvicorn runs it there);
    the rest of its CPU is other threads (VAD and the remote engines' executor threads, ONNX Runtime)."""
    if not pid:
        return 0.0
    f = Path(f"/proc/{pid}/task/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


async def idle_cpu(pid: int | None, seconds: float) -> float | None:
    """The front's CPU % (100 = one core) with no session open."""
    with ProcSampler(pid, tree=False) as s:
        await asyncio.sleep(seconds)
    return s.cpu_percent


def fmt(x: float | None, digits: int = 1) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


async def main_async(args: argparse.Namespace) -> None:
    clips = clips_for_conversation()
    ns = [int(x) for x in args.sessions.split(",")]
    caps = session_caps(max(ns))
    rows, notes, data = [], [], []
    load_before = load()
    p50_1: float | None = None
    with contextlib.ExitStack() as stack:
        llm_base, llm_pid = stack.enter_context(llm_server(server_flags(args.llm_server_args)))
        speech = stack.enter_context(start_server(None, [
            "--llm", f"openai:{llm_base}", "--rest-jobs", str(max(4, 2 * max(ns))), *caps,
            *server_flags(args.speech_args)], name="speech"))
        front_flags = ["--asr", f"openai:{speech.base}/v1", "--llm", f"openai:{llm_base}",
                       "--tts", f"openai:{speech.base}/v1", *caps, *server_flags(args.front_args)]
        front = stack.enter_context(start_server(None, front_flags, name="front"))
        engines = front.engines()
        if args.warmup:
            await warm_up(front, clips, args)
        await wait_idle(front.base)
        idle = await idle_cpu(front.pid, args.idle)
        print(f"front idle CPU {fmt(idle, 2)} % over {args.idle:.0f} s", flush=True)
        for n in ns:
            print(f"N={n} ...", flush=True)
            loop0 = main_thread_seconds(front.pid)
            with ProcSampler(speech.pid) as sp, ProcSampler(llm_pid) as lp:
                m = await measure(n, front, clips, args, tree=False)
            loop_s = main_thread_seconds(front.pid) - loop0
            if n == 1:
                p50_1 = pct(m.v2v, 50)
            d: dict[str, Any] = summary(m, p50_1)
            cpu_s = m.cpu.cpu_seconds
            per = None if cpu_s is None or not m.session_seconds else 1000 * cpu_s / m.session_seconds
            loop_per = 1000 * loop_s / m.session_seconds if m.session_seconds else None
            per_reply = None if cpu_s is None or not d["replies"] else 1000 * cpu_s / d["replies"]
            d.update(front_cpu_ms_per_conversation_second=None if per is None else round(per, 2),
                     front_event_loop_ms_per_conversation_second=None if loop_per is None else round(loop_per, 2),
                     front_cpu_ms_per_reply=None if per_reply is None else round(per_reply, 1),
                     speech_server_cpu_percent=None if sp.cpu_percent is None else round(sp.cpu_percent, 1),
                     llm_server_cpu_percent=None if lp.cpu_percent is None else round(lp.cpu_percent, 1))
            data.append(d)
            rows.append([str(n), str(d["replies"]), fmt(per, 2),
                         f"{fmt(loop_per, 2)} / {fmt(None if per is None or loop_per is None else per - loop_per, 2)}",
                         fmt(per_reply, 0), fmt(cpu_s), f"{m.session_seconds:.0f}",
                         fmt(m.cpu.cpu_percent, 0), f"{max(m.cpu.rss):.0f}" if m.cpu.rss else "-",
                         ms(pct(m.v2v, 50)), ms(pct(m.v2v, 95)), times(d["p95_over_p50_1"]),
                         f"{d['sessions_behind']}/{n}", fmt(sp.cpu_percent, 0), fmt(lp.cpu_percent, 0)])
            notes.append(problems_note(m))
            print(table(HEADER, rows[-1:]) + "\n" + notes[-1], flush=True)
    worst = max((d["front_cpu_ms_per_conversation_second"] for d in data
                 if d["front_cpu_ms_per_conversation_second"] is not None), default=None)
    verdict = ("not measured" if worst is None else
               f"worst {worst:.2f} ms over N = {', '.join(map(str, ns))}: **{'met' if worst <= TARGET_MS else 'not met'}**")
    target = f"Target (front CPU <= {TARGET_MS:.0f} ms per second of conversation per session): {verdict}."
    print(target, flush=True)
    body = "\n\n".join([
        "## Front CPU per conversation, latency, and the inference servers' load",
        table(HEADER, rows), target,
        f"Front idle CPU (no session, {args.idle:.0f} s before the first N): {fmt(idle, 2)} % of one core "
        "(included in the per-conversation figure).",
        "## Problems seen (client-side checks)", "\n".join(notes),
        "## What runs where, and definitions", __doc__.split("\n\n", 2)[2].strip(),
    ])
    intro = [f"- load average (1, 5, 15 min) before: {load_before}; after: {load()}",
             "- the machine is shared: other engineers' processes (tests, servers) may have been running",
             "- " + ("one unrecorded warm-up session ran first" if args.warmup else "no warm-up"),
             f"- front: `voxloop serve {shlex.join(front_flags)}`; engines: {engines}",
             f"- speech server: `voxloop serve {shlex.join(speech.args)}`",
             "- LLM server: `python -m llama_cpp.server` on the embedded SmolLM2-135M GGUF, 1 thread"
             + (f", `{args.llm_server_args}`" if args.llm_server_args else ""),
             f"- per session: max({args.turns}, ceil({args.replies} / N)) turns, barge-in every "
             f"{args.barge_every} turns, max_output_tokens {args.max_tokens} (bench/realtime.py's client)"]
    out = Path(args.out)
    write_report(out, "Remote-inference overhead benchmark", intro, body)
    write_json(out.with_suffix(".json"), "remote", data, front={"engines": engines, "flags": front_flags},
               speech_server={"flags": list(speech.args)}, front_idle_cpu_percent=idle, target_ms=TARGET_MS)


HEADER = ["N sessions", "replies", "front CPU ms per conversation-second",
          "of which event-loop thread / other threads", "front CPU ms per reply", "front CPU s", "session-seconds",
          "front CPU % avg", "front peak RSS MiB", "voice-to-voice p50", "voice-to-voice p95",
          "p95 / p50 at N=1", "sessions behind real time", "speech server CPU %", "LLM server CPU %"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sessions", default="1,2,4,8,16", help="comma-separated concurrent session counts")
    add_client_arguments(p)
    p.add_argument("--front-args", default="", metavar="FLAGS", help="extra flags for the front `voxloop serve`")
    p.add_argument("--speech-args", default="", metavar="FLAGS",
                   help="extra flags for the speech `voxloop serve` (ASR and TTS over REST)")
    p.add_argument("--llm-server-args", default="", metavar="FLAGS",
                   help="extra flags for `python -m llama_cpp.server`, e.g. \"--n_threads 2\"")
    p.add_argument("--idle", type=float, default=10.0, help="seconds of front idle CPU measured before the runs")
    p.add_argument("--out", default=str(RESULTS), help="results file (markdown; a .json is written beside it)")
    asyncio.run(main_async(p.parse_args()))


if __name__ == "__main__":
    main()
