"""Shared helpers for the load benchmarks (bench/realtime.py, bench/dictation.py).

Eval clips (read in place from ../shared/eval-speech), a real-time microphone that streams
100 ms appends on a fixed clock, a WebSocket event recorder, server start-up / discovery,
server CPU and RSS sampling from /proc (the process and its children), and report helpers.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import json
import os
import shlex
import sys
import tempfile
import threading
import time
import urllib.request
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.sysinfo import cpu_model  # noqa: E402
from voxloop.audio import float_to_pcm16, read_wav, resample  # noqa: E402

EVAL = Path(os.environ.get("VOXLOOP_EVAL_SPEECH", REPO.parent / "shared" / "eval-speech"))
RATE, CHUNK = 24000, 0.1  # wire rate, seconds per append
STEP = int(RATE * CHUNK)
Event = dict[str, Any]


@dataclass
class Clip:
    name: str
    text: str
    audio16: np.ndarray  # float32 16 kHz, as in the file
    chunks: list[str]  # base64 PCM16 24 kHz, 100 ms each (last one zero-padded)
    onset: float  # seconds into the clip of the first non-silent sample
    end: float  # seconds into the clip after the last non-silent sample
    gap: float  # longest silence inside the speech (s)
    word_ends: list[float] = field(default_factory=list)  # offline Whisper word end times, if known

    @property
    def duration(self) -> float:
        return len(self.chunks) * CHUNK

    @property
    def trimmable(self) -> bool:
        """The energy trim finds where the speech ends. Not so in jfk (crowd noise to the last
        sample), goforward (noise bursts 0.5 s past the last word) nor the AMI clip (a filler
        before the speech, a click 0.8 s after it): checked against Whisper word timestamps."""
        return (self.name not in ("goforward", "ES2011a.Headset-0-40s-46s")
                and len(self.audio16) / 16000 - self.end >= 0.08)


def speech_bounds(x: np.ndarray, rate: int, frame: float = 0.02, rel_db: float = -35.0) -> tuple[float, float, float]:
    """(onset, end, longest inner gap) in seconds: 20 ms frames whose RMS is over ``rel_db`` under the
    loudest frame, over 10 dB above the 5th-percentile frame (noise floor) and over -60 dBFS are speech."""
    n = int(rate * frame)
    frames = x[: len(x) // n * n].reshape(-1, n)
    rms = np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=1))
    floor = np.percentile(rms, 5) * 10 ** (10 / 20)  # 10 dB over the noise floor (noisy clips)
    loud = np.flatnonzero(rms > max(1e-3, floor, rms.max() * 10 ** (rel_db / 20)))
    if not len(loud):
        return 0.0, 0.0, 0.0
    gaps = np.diff(loud) - 1
    return loud[0] * frame, (loud[-1] + 1) * frame, float(gaps.max() * frame) if len(gaps) else 0.0


def load_clips(pred: Callable[[dict[str, Any]], bool]) -> list[Clip]:
    """English eval clips matching ``pred`` (a manifest row), resampled 16 -> 24 kHz, chunked."""
    clips = []
    for line in (EVAL / "manifest.jsonl").read_text().splitlines():
        row = json.loads(line)
        if row["lang"] != "en" or not pred(row):
            continue
        a16 = read_wav(EVAL / row["audio"]).samples
        x = resample(a16, 16000, RATE)
        x = np.concatenate([x, np.zeros(-len(x) % STEP, np.float32)])
        chunks = [base64.b64encode(float_to_pcm16(x[i : i + STEP])).decode() for i in range(0, len(x), STEP)]
        onset, end, gap = speech_bounds(a16, 16000)
        clips.append(Clip(Path(row["audio"]).stem, row["text"], a16, chunks, onset, end, gap))
    return clips


SILENCE = base64.b64encode(bytes(2 * STEP)).decode()


@dataclass
class Playback:
    """Where a queued clip lands in the outgoing stream (chunk indices and stream seconds)."""

    clip: Clip
    first: int  # chunk index of the clip's first chunk
    onset_idx: int
    end_idx: int

    @property
    def onset_stream(self) -> float:
        return self.first * CHUNK + self.clip.onset

    @property
    def end_stream(self) -> float:
        return self.first * CHUNK + self.clip.end


class Mic:
    """Streams 100 ms appends on a fixed clock, as a live microphone delivers them: each chunk is
    sent at the *end* of the 100 ms it holds (a microphone cannot hand over audio not yet spoken);
    queued clips, else silence. ``spoken_at`` is when a stream second was said, the clock every
    latency starts from (so the chunking delay counts against us, as a user would feel it)."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.queue: deque[str] = deque()
        self.sent_at: list[float] = []  # monotonic time each chunk's send returned
        self.max_lag = 0.0  # worst delay of a send behind its slot
        self.t0: float | None = None  # when stream second 0 was spoken
        self._cond = asyncio.Condition()

    def play(self, clip: Clip) -> Playback:
        first = len(self.sent_at) + len(self.queue)
        self.queue.extend(clip.chunks)
        last = len(clip.chunks) - 1
        return Playback(clip, first, first + min(last, int(clip.onset / CHUNK)),
                        first + min(last, int(max(0.0, clip.end - 1e-6) / CHUNK)))

    def pause(self, seconds: float) -> None:
        self.queue.extend([SILENCE] * round(seconds / CHUNK))

    async def run(self) -> None:
        t0 = self.t0 = time.monotonic()
        k = 0
        while True:
            slot = t0 + (k + 1) * CHUNK  # chunk k holds [k, k+1) * CHUNK: ready at its end
            if (wait := slot - time.monotonic()) > 0:
                await asyncio.sleep(wait)
            chunk = self.queue.popleft() if self.queue else SILENCE
            await self.ws.send('{"type":"input_audio_buffer.append","audio":"' + chunk + '"}')
            now = time.monotonic()
            self.max_lag = max(self.max_lag, now - slot)
            self.sent_at.append(now)
            k += 1
            async with self._cond:
                self._cond.notify_all()

    async def sent(self, idx: int) -> float:
        """Wait until chunk ``idx`` has been sent; its send time."""
        async with self._cond:
            await self._cond.wait_for(lambda: len(self.sent_at) > idx)
        return self.sent_at[idx]

    def spoken_at(self, stream_s: float) -> float:
        """When stream second ``stream_s`` was spoken (the mic's clock, not the send)."""
        assert self.t0 is not None, "the mic has not started"
        return self.t0 + stream_s

    def time_of(self, stream_s: float) -> float | None:
        """When stream second ``stream_s`` was spoken, once its chunk has been sent (else None)."""
        i = max(0, int(stream_s / CHUNK + 1e-9))
        return self.spoken_at(stream_s) if i < len(self.sent_at) else None


class Recorder:
    """Receives every server event with its arrival time; audio deltas keep only their duration."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.events: list[tuple[float, Event]] = []
        self._new = asyncio.Event()
        self.closed: str | None = None

    async def run(self) -> None:
        try:
            async for msg in self.ws:
                t = time.monotonic()
                ev = json.loads(msg)
                if ev.get("type") == "response.output_audio.delta":
                    ev["seconds"] = len(base64.b64decode(ev.pop("delta"))) / 2 / RATE
                self.events.append((t, ev))
                self._new.set()
        except Exception as e:  # noqa: BLE001 - the connection dropped; the report says so
            self.closed = f"{type(e).__name__}: {e}"
        else:
            self.closed = "closed by server"
        self._new.set()

    async def wait(self, pred: Callable[[Event], bool], start: int = 0, within: float = 30.0) -> int:
        """Index of the first event at or after ``start`` matching ``pred``; TimeoutError if none."""
        end = time.monotonic() + within
        i = start
        while True:
            while i < len(self.events):
                if pred(self.events[i][1]):
                    return i
                i += 1
            if self.closed:
                raise ConnectionError(self.closed)
            left = end - time.monotonic()
            if left <= 0:
                raise TimeoutError
            self._new.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new.wait(), left)

    def of(self, type_: str) -> list[tuple[float, Event]]:
        return [(t, e) for t, e in self.events if e.get("type") == type_]


# ---------------------------------------------------------------- the server process
def health(base: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{base}/healthz", timeout=5) as r:
        data: dict[str, Any] = json.loads(r.read())
    return data


def scrape(base: str) -> dict[str, float]:
    """Every sample of the server's ``/metrics`` (name{labels} -> value); {} if it has none."""
    from prometheus_client.parser import text_string_to_metric_families

    try:
        with urllib.request.urlopen(f"{base}/metrics", timeout=5) as r:
            text = r.read().decode()
    except OSError:
        return {}
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            out[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return out


async def wait_idle(base: str, seconds: float = 30) -> dict[str, Any]:
    """/healthz once the server reports no open session (or after ``seconds``)."""
    for _ in range(int(seconds / 0.5)):
        if not (h := health(base))["sessions"]:
            return h
        await asyncio.sleep(0.5)
    return health(base)


def listener_pid(port: int) -> int | None:
    """The pid of the process listening on 127.0.0.1:``port`` (via /proc/net/tcp inodes)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                f = line.split()
                if int(f[1].rsplit(":", 1)[1], 16) == port and f[3] == "0A":
                    inodes.add(f[9])
    for pid in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
                if link.startswith("socket:[") and link[8:-1] in inodes:
                    return int(pid)
    return None


@dataclass
class Server:
    """A voxloop server the benchmark talks to: its URL, pid, start-up log and extra flags."""

    base: str
    pid: int | None
    log: Path | None = None  # None: a server already running (its log is not ours)
    args: tuple[str, ...] = ()

    def engines(self) -> str:
        """The engines the server logged at start-up ("vad=silero, asr=whisper (workers=2 ...), ...")."""
        if self.log is None:
            return "unknown (a server that was already running)"
        with contextlib.suppress(OSError):
            for line in self.log.read_text(errors="replace").splitlines():
                if " engines: " in line:
                    return line.split(" engines: ", 1)[1].strip()
        return "unknown (not in the server's log)"


def session_caps(sessions: int) -> list[str]:
    """``voxloop serve`` flags that let one loopback client open ``sessions`` sessions at once
    (the default caps are 16 sessions, 8 per address and 16 per API key)."""
    m = str(max(16, sessions))
    return ["--max-sessions", m, "--max-sessions-per-ip", m, "--max-sessions-per-key", m]


@contextlib.contextmanager
def start_server(port: int | None, args: Sequence[str] = (), name: str = "voxloop") -> Iterator[Server]:
    """Use the server on ``port``, or start ``voxloop serve *args`` on a free loopback port."""
    if port:
        base = f"http://127.0.0.1:{port}"
        health(base)
        if args:
            print(f"note: the server on port {port} was already running; ignoring {shlex.join(args)}", flush=True)
        yield Server(base, listener_pid(port))
        return
    from tests.support import server_process

    with tempfile.NamedTemporaryFile("w", prefix=f"{name}-bench-", suffix=".log", delete=False) as log:
        log_path = Path(log.name)
    with server_process(*args, log_path=log_path) as (base, proc):
        srv = Server(base, proc.pid, log_path, tuple(args))
        print(f"started voxloop serve {shlex.join(args)} pid {proc.pid} on {base}, log {log_path}", flush=True)
        print(f"  engines: {srv.engines()}", flush=True)
        yield srv
    if proc.returncode not in (0, -15):
        print(f"voxloop serve exited with {proc.returncode}; see {log_path}", flush=True)


@contextlib.contextmanager
def server(port: int | None, max_sessions: int | None = None) -> Iterator[tuple[str, int | None]]:
    """Use the server on ``port``, or start ``voxloop serve`` on a free loopback port. Yields (base, pid)."""
    with start_server(port, session_caps(max_sessions) if max_sessions else []) as srv:
        yield srv.base, srv.pid


class ProcSampler:
    """Samples CPU% (all cores, 100 % = one core) and RSS of a process tree from /proc (of the
    process alone with ``tree=False``)."""

    def __init__(self, pid: int | None, interval: float = 0.5, tree: bool = True) -> None:
        self.pid, self.interval, self.whole_tree = pid, interval, tree
        self.tick = os.sysconf("SC_CLK_TCK")
        self.rss: list[float] = []  # MiB
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._cpu0 = self._t0 = self._cpu1 = self._t1 = 0.0

    def _tree(self) -> list[int]:
        if not self.whole_tree:
            return [self.pid] if self.pid else []
        kids: dict[int, list[int]] = {}
        for name in filter(str.isdigit, os.listdir("/proc")):
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = Path(f"/proc/{name}/stat").read_text()
                kids.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(name))
        out: list[int] = []
        todo = [self.pid] if self.pid else []
        while todo:
            p = todo.pop()
            out.append(p)
            todo.extend(kids.get(p, []))
        return out

    def _read(self) -> tuple[float, float]:
        cpu = rss = 0.0
        for p in self._tree():
            with contextlib.suppress(OSError, IndexError, ValueError):
                f = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
                cpu += (int(f[11]) + int(f[12])) / self.tick
                for line in Path(f"/proc/{p}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        rss += int(line.split()[1]) / 1024
        return cpu, rss

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.rss.append(self._read()[1])

    @staticmethod
    def _machine_busy() -> float:
        """Seconds of CPU the whole machine has spent busy (all cores), from /proc/stat."""
        with contextlib.suppress(OSError, ValueError):
            f = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
            return (sum(f[:8]) - f[3] - f[4]) / os.sysconf("SC_CLK_TCK")  # all but idle and iowait
        return 0.0

    def __enter__(self) -> ProcSampler:
        self._busy0 = self._machine_busy()
        self._me0 = time.process_time()
        if self.pid:
            self._cpu0, rss = self._read()
            self.rss.append(rss)
            self._t0 = time.monotonic()
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._busy1 = self._machine_busy()
        self._me1 = time.process_time()
        if self.pid:
            self._stop.set()
            self._thread.join()
            self._cpu1, rss = self._read()
            self.rss.append(rss)
            self._t1 = time.monotonic()

    @property
    def others_percent(self) -> float | None:
        """CPU % (100 = one core) of everything else on the machine meanwhile: neither the server
        nor this benchmark process. The noise a shared machine adds; ~0 on a quiet one."""
        if not self.pid or self._t1 <= self._t0:
            return None
        others = (self._busy1 - self._busy0) - (self._cpu1 - self._cpu0) - (self._me1 - self._me0)
        return max(0.0, 100 * others / (self._t1 - self._t0))

    @property
    def cpu_seconds(self) -> float | None:
        """CPU seconds (user + system) the process (tree) used while sampled."""
        return self._cpu1 - self._cpu0 if self.pid and self._t1 > self._t0 else None

    @property
    def cpu_percent(self) -> float | None:
        return 100 * (self._cpu1 - self._cpu0) / (self._t1 - self._t0) if self.pid and self._t1 > self._t0 else None


# ---------------------------------------------------------------- reporting
def flat(results: list[Any], attr: str) -> list[Any]:
    """Concatenate a list attribute over per-session results."""
    return [x for r in results for x in getattr(r, attr)]


MIN_P95 = 30  # samples behind any reported p95 (fewer: the p95 is not printed)


def pct(xs: list[float], p: float) -> float | None:
    """The p-th percentile; None without data, and None for a tail (p > 50) of fewer than
    ``MIN_P95`` samples, which would only be the worst one or two."""
    if not xs or (p > 50 and len(xs) < MIN_P95):
        return None
    return float(np.percentile(xs, p))


def ms(x: float | None) -> str:
    return "-" if x is None else f"{1000 * x:.0f}"


def ratio(x: float | None, base: float | None) -> float | None:
    """``x / base`` (e.g. p95 at N over p50 at N=1); None when either is missing."""
    return None if x is None or not base else x / base


def times(r: float | None) -> str:
    return "-" if r is None else f"{r:.1f}x"


def machine() -> str:
    return f"nproc {os.cpu_count()}, {cpu_model()}"


def server_flags(text: str) -> list[str]:
    """``--server-args "--llm-workers 2 --asr whisper:base"`` -> the flag list (shell quoting)."""
    return shlex.split(text or "")


def command_line() -> str:
    return shlex.join([".venv/bin/python", *(os.path.relpath(a, REPO) if a.endswith(".py") else a for a in sys.argv)])


def load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " if i == 0 else " ---: " for i in range(len(header))) + "|"]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def write_report(path: Path, title: str, intro: list[str], body: str) -> None:
    head = [f"# {title}", "", f"- date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC",
            f"- machine: {machine()}", f"- command: `{command_line()}`", *intro, ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(head) + "\n" + body.rstrip() + "\n")
    print(f"wrote {path}")


def _plain(o: Any) -> Any:
    """numpy scalars (a bool from comparing a numpy float, a count summed from them) -> Python."""
    if hasattr(o, "item"):
        return o.item()
    raise TypeError(f"{type(o).__name__} is not JSON serializable")


def write_json(path: Path, benchmark: str, rows: list[dict[str, Any]], **meta: Any) -> None:
    """The machine-readable twin of a report (bench/plot.py reads it): when, on what CPU, with
    which command and server, and one object per N. Latencies in ms, None where not measured."""
    data = {"benchmark": benchmark, "date": f"{dt.datetime.now(dt.UTC):%Y-%m-%dT%H:%M:%SZ}",
            "machine": {"cpus": os.cpu_count(), "cpu": cpu_model(), "load_average": list(os.getloadavg())},
            "command": command_line(), **meta, "rows": rows}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, default=_plain) + "\n")
    print(f"wrote {path}")


def ms_or_none(x: float | None) -> float | None:
    """Seconds -> milliseconds (rounded to 0.1 ms) for JSON; None stays None."""
    return None if x is None else round(1000 * x, 1)
