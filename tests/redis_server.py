"""Test support: Debian's ``redis-server`` on a free loopback port, nothing saved to disk."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator

from tests.support import free_port

MISSING = "redis-server is not installed (make redis-deps installs Debian's)"


def _pong(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
        s.sendall(b"PING\r\n")
        return s.recv(64).startswith(b"+PONG")
    return False


@contextlib.contextmanager
def redis_server(timeout: float = 10.0) -> Iterator[str | None]:
    """Yield ``redis://127.0.0.1:PORT/0`` once the server answers PING (``None`` if there is no
    ``redis-server`` on PATH); kill it afterwards."""
    binary = shutil.which("redis-server")
    if binary is None:
        yield None
        return
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + timeout
        while not _pong(port):
            if proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with {proc.returncode}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not answer PING on port {port}")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.kill()
        proc.wait(10)
