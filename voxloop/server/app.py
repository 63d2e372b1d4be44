"""The ASGI application: realtime WebSocket, OpenAI-compatible REST, the browser client."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles

from voxloop import __version__
from voxloop.engines.stack import EngineStack
from voxloop.server.config import ServerConfig
from voxloop.server.state import ServerState

__all__ = ["create_app"]

logger = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"


def create_app(stack: EngineStack, config: ServerConfig = ServerConfig(), *, prewarm: bool = True) -> Starlette:
    from voxloop.server import realtime, rest, rest_memory, rest_secrets
    from voxloop.server.access import PUBLIC, AccessMiddleware, is_loopback, principal

    state = ServerState(stack, config)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if prewarm:
            await state.prewarm()
        purge = asyncio.create_task(state.conversations.purge_forever(), name="store-purge")
        try:
            yield
        finally:
            purge.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await purge
            await state.aclose()

    async def index(request: Request) -> Response:
        page = STATIC / "index.html"
        if not page.exists():
            return JSONResponse({"error": {"message": "browser client not installed"}}, status_code=404)
        return FileResponse(page)

    async def healthz(request: Request) -> Response:
        # the details only for a key holder, or a local client of a server without keys
        who = principal(request.scope).key
        if who == PUBLIC or (not config.api_keys and not is_loopback(request.client.host if request.client else "")):
            return JSONResponse({"status": "ok"})
        return JSONResponse({"status": "ok", "version": __version__, "sessions": state.active_sessions,
                             "max_sessions": config.max_sessions, "tasks": len(asyncio.all_tasks())})

    async def metrics(request: Request) -> Response:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return Response(generate_latest(state.telemetry.registry), media_type=CONTENT_TYPE_LATEST)

    routes = [
        Route("/", index),
        Route("/healthz", healthz),
        Route("/metrics", metrics),
        WebSocketRoute("/v1/realtime", realtime.endpoint),
        *rest.routes(),
        *rest_memory.routes(),
        *rest_secrets.routes(),
        Mount("/static", StaticFiles(directory=STATIC, check_dir=False), name="static"),
    ]
    app = Starlette(routes=routes, lifespan=lifespan,
                    middleware=[Middleware(AccessMiddleware, config=config, secrets=state.secrets)])
    app.state.voxloop = state
    return app
