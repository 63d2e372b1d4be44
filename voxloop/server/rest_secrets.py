"""``POST /v1/realtime/client_secrets``: an ephemeral secret a browser opens a session with.

The body is OpenAI's: ``{"expires_after": {"anchor": "created_at", "seconds": N},
"session": {...}}`` (both optional); the answer ``{"value", "expires_at", "session"}``. The
session configuration is checked now and applied to every session the secret opens.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from voxloop.errors import InvalidRequest
from voxloop.server.access import principal
from voxloop.server.jsonlimits import loads
from voxloop.server.protocol import session_object
from voxloop.server.rest_common import api, read_body, require_json, server_state
from voxloop.server.resume import updated_config
from voxloop.server.scenes import base_session_config
from voxloop.server.secrets import DEFAULT_TTL_S, MAX_TTL_S, MIN_TTL_S
from voxloop.session.events import new_id

__all__ = ["routes"]

_MAX_BODY = 256 << 10


def routes() -> list[BaseRoute]:
    return [Route("/v1/realtime/client_secrets", client_secrets, methods=["POST"])]


def _ttl(value: Any) -> int:
    if value is None:
        return DEFAULT_TTL_S
    if not isinstance(value, dict):
        raise InvalidRequest("'expires_after' must be an object", param="expires_after")
    if value.get("anchor", "created_at") != "created_at":
        raise InvalidRequest("'expires_after.anchor' must be 'created_at'", param="expires_after.anchor")
    seconds = value.get("seconds", DEFAULT_TTL_S)
    if isinstance(seconds, bool) or not isinstance(seconds, int) or not MIN_TTL_S <= seconds <= MAX_TTL_S:
        raise InvalidRequest(f"'expires_after.seconds' must be an integer from {MIN_TTL_S} to {MAX_TTL_S}",
                             param="expires_after.seconds")
    return seconds


@api
async def client_secrets(request: Request) -> Response:
    state = server_state(request)
    raw = await read_body(request, _MAX_BODY) if require_json(request, optional=True) else b""
    body = loads(raw, max_depth=state.config.max_json_depth, what="the body") if raw.strip() else {}
    if not isinstance(body, dict):
        raise InvalidRequest("the body must be a JSON object")
    ttl = _ttl(body.get("expires_after"))
    session = body.get("session") or {}
    if not isinstance(session, dict):
        raise InvalidRequest("'session' must be an object", param="session")
    model = session.get("model")
    if model is not None and not isinstance(model, str):
        raise InvalidRequest("'session.model' must be a string", param="session.model")
    update = {k: v for k, v in session.items() if k != "model"}
    transcription = update.get("type") == "transcription"
    base = state.scenes.initial(base_session_config(state.config, transcription))
    cfg = updated_config(state, base, update)  # a mistake is a 400 now, not a failed session later
    secret = state.secrets.mint(principal(request.scope).key, ttl, update, model)
    shown = model or ("voxloop-transcribe" if transcription else "voxloop")
    return JSONResponse({"value": secret.value, "expires_at": int(secret.expires_at),
                         "session": session_object(cfg, new_id("sess", 16), shown)})
