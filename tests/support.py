"""Test support: a real voxloop server in a subprocess, and speech made by Piper."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def server_process(*extra: str, log_path: Path | None = None,
                   timeout: float = 180.0) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Start ``voxloop serve`` on a free loopback port; yield (base URL, process) once healthy."""
    port = free_port()
    log = open(log_path, "w") if log_path is not None else None  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-m", "voxloop.cli.main", "-v", "serve", "--port", str(port), *extra],
        cwd=ROOT, stdout=log or subprocess.DEVNULL, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"voxloop serve exited with {proc.returncode}; log: {log_path}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"voxloop serve did not become healthy; log: {log_path}")
            time.sleep(0.3)
        yield base, proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        if log:
            log.close()


@contextlib.contextmanager
def running_server(*extra: str, timeout: float = 120.0) -> Iterator[str]:
    """A real server for a test module; its log goes to .pytest_cache/ when that exists."""
    cache = ROOT / ".pytest_cache"
    log_path = cache / f"server-{os.getpid()}-{time.monotonic_ns()}.log" if cache.exists() else None
    with server_process(*extra, log_path=log_path, timeout=timeout) as (base, _):
        yield base


@functools.lru_cache(maxsize=1)
def _tts():  # type: ignore[no-untyped-def]
    from voxloop.engines import create_engine

    engine = create_engine("tts")
    engine.prewarm()
    return engine


@functools.lru_cache(maxsize=32)
def speak(text: str, rate: int = 24000) -> np.ndarray:
    """Piper speaks ``text``; float32 mono at ``rate``. Deterministic (no sampled noise): the same
    words are the same audio in every run, so a test cannot pass on one run and fail on the next
    (a rendering Whisper heard as "Ade" instead of "Ada" once in a while)."""
    from voxloop.audio.pcm import Audio
    from voxloop.engines.types import TTSOptions

    tts = _tts()
    still = TTSOptions(noise_scale=0.0, noise_w_scale=0.0)
    samples = np.concatenate(list(tts.synthesize_sync(text, still))).astype(np.float32)
    return Audio(samples, tts.sample_rate).to(rate).samples


def silence(seconds: float, rate: int = 24000) -> np.ndarray:
    return np.zeros(int(seconds * rate), np.float32)


def music(seconds: float = 6.0, rate: int = 16000, seed: int = 0) -> np.ndarray:
    """Synthetic music: plucked notes with harmonics on a beat, plus a noise drum."""
    rng = np.random.default_rng(seed)
    notes = [220, 247, 262, 294, 330, 349, 392, 440]
    out = np.zeros(int(seconds * rate), np.float32)
    step = int(0.25 * rate)
    t = np.arange(step) / rate
    for i in range(0, len(out) - step, step):
        f = float(rng.choice(notes))
        tone = sum(np.sin(2 * np.pi * f * k * t) / k for k in (1, 2, 3)) + 0.5 * np.sin(2 * np.pi * f * 1.5 * t)
        out[i : i + step] += (0.2 * np.exp(-3 * t) * tone).astype(np.float32)
    for i in range(0, len(out) - 800, int(0.5 * rate)):
        out[i : i + 800] += (0.3 * rng.standard_normal(800) * np.exp(-np.arange(800) / 150)).astype(np.float32)
    return out


async def sdk_until(conn: Any, seen: list[Any], pred: Callable[[Any], bool], timeout: float = 90.0) -> Any:
    """The next event of an ``openai`` SDK realtime connection that matches ``pred``; every event
    read is appended to ``seen``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        event = await asyncio.wait_for(conn.recv(), deadline - time.monotonic())
        seen.append(event)
        if pred(event):
            return event
    raise AssertionError(f"timed out; saw {[e.type for e in seen[-10:]]}")


class FlakyProxy:
    """A TCP proxy on a free loopback port in front of ``target`` (host, port) that can fail on
    cue: ``blip(seconds)`` cuts every live connection and refuses new ones (nothing listens on
    the port) for ``seconds``, then accepts again. ``requests`` keeps the first line each client
    sent (the HTTP request line), in order. Its event loop runs on a thread of its own."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self.requests: list[str] = []
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._live: set[asyncio.StreamWriter] = set()
        self._thread: Any = None
        self._reopen: asyncio.Future[None] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> FlakyProxy:
        import threading

        self._thread = threading.Thread(target=self._loop.run_forever, name="flaky-proxy", daemon=True)
        self._thread.start()
        self._call(self._listen())
        return self

    def __exit__(self, *exc: object) -> None:
        self._call(self._stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    def blip(self, seconds: float) -> None:
        """Cut every connection now; refuse new ones for ``seconds`` (returns at once)."""
        self._call(self._cut(seconds))

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)

    async def _cut(self, seconds: float) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._live):
            writer.transport.abort()
        self._live.clear()

        async def reopen() -> None:
            await asyncio.sleep(seconds)
            await self._listen()

        self._reopen = asyncio.ensure_future(reopen())

    async def _stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._live):
            writer.transport.abort()

    async def _handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            server_r, server_w = await asyncio.open_connection(*self.target)
        except OSError:
            client_w.transport.abort()
            return
        self._live |= {client_w, server_w}
        first = True

        async def pipe(r: asyncio.StreamReader, w: asyncio.StreamWriter, client: bool) -> None:
            nonlocal first
            try:
                while data := await r.read(65536):
                    if client and first:
                        first = False
                        self.requests.append(data.split(b"\r\n", 1)[0].decode("latin-1"))
                    w.write(data)
                    await w.drain()
            except (OSError, asyncio.CancelledError):
                pass
            finally:
                w.close()

        try:
            await asyncio.gather(pipe(client_r, server_w, True), pipe(server_r, client_w, False))
        finally:
            self._live -= {client_w, server_w}
