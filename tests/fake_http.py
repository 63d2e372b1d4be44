"""A loopback HTTP server for fake OpenAI-compatible backends in unit tests."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FakeServer(ThreadingHTTPServer):
    """Serves ``handler`` on 127.0.0.1; the handler reads ``server.behaviour``."""

    daemon_threads = True

    def __init__(self, handler: type[BaseHTTPRequestHandler], behaviour: Any) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.behaviour = behaviour
        self.requests: list[tuple[str, dict[str, str], dict[str, Any]]] = []
        self.sent = 0
        self.disconnected = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


def start(handler: type[BaseHTTPRequestHandler], behaviour: Any = None) -> FakeServer:
    """Serve ``handler`` on a free loopback port, in a daemon thread, until :func:`stop`."""
    server = FakeServer(handler, behaviour)
    threading.Thread(target=server.serve_forever, args=(0.02,), name="fake-http", daemon=True).start()
    return server


def stop(server: FakeServer) -> None:
    server.shutdown()
    server.server_close()


def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[Callable[[Any], FakeServer]]:
    """Body of a fixture: yields ``start(behaviour)``; shuts every started server down after."""
    servers: list[FakeServer] = []

    def started(behaviour: Any) -> FakeServer:
        servers.append(start(handler, behaviour))
        return servers[-1]

    yield started
    for server in servers:
        stop(server)
