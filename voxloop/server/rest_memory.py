"""What voxloop remembers, over REST (docs/memory.md): list and delete a user's facts, forget a
user, revoke a resume token.

* ``GET /v1/voxloop/users/{user}/memory`` — the user's facts, oldest first
* ``DELETE /v1/voxloop/users/{user}/memory/{fact_id}`` — one fact
* ``DELETE /v1/voxloop/users/{user}`` — every fact and conversation of the user
* ``POST /v1/voxloop/resume/revoke`` with ``{"token": "..."}`` — the token stops working
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from voxloop.errors import InvalidRequest
from voxloop.server.jsonlimits import loads
from voxloop.server.rest_common import api, read_body, require_json, server_state
from voxloop.store.base import Fact

__all__ = ["fact_object", "routes"]


class NotFound(InvalidRequest):
    code = "not_found"
    http_status = 404


def fact_object(f: Fact) -> dict[str, Any]:
    return {"id": f.id, "object": "voxloop.fact", "user": f.user, "text": f.text, "key": f.key,
            "source_item_id": f.source_item, "conversation_id": f.conversation, "created_at": int(f.created_at)}


def _user(request: Request) -> str:
    user = str(request.path_params["user"])
    if not 1 <= len(user) <= 128:
        raise InvalidRequest("a user id has 1 to 128 characters", param="user")
    return user


@api
async def list_memory(request: Request) -> Response:
    store = server_state(request).conversations.store
    facts = await store.facts(_user(request))
    return JSONResponse({"object": "list", "data": [fact_object(f) for f in facts]})


@api
async def delete_fact(request: Request) -> Response:
    store = server_state(request).conversations.store
    fact_id = str(request.path_params["fact_id"])
    if not await store.delete_fact(_user(request), fact_id):
        raise NotFound(f"no fact {fact_id!r} for this user", param="fact_id")
    return JSONResponse({"id": fact_id, "object": "voxloop.fact.deleted", "deleted": True})


@api
async def forget_user(request: Request) -> Response:
    user = _user(request)
    gone = await server_state(request).conversations.store.forget_user(user)
    return JSONResponse({"user": user, "object": "voxloop.user.deleted", "deleted": True, "records": gone})


@api
async def revoke(request: Request) -> Response:
    raw = await read_body(request, 64 << 10) if require_json(request, optional=True) else b""
    body = loads(raw or b"{}", max_depth=server_state(request).config.max_json_depth, what="the body")
    token = body.get("token") if isinstance(body, dict) else None
    if not isinstance(token, str) or not token:
        raise InvalidRequest("'token' must be the resume token to revoke", param="token")
    if not await server_state(request).conversations.revoke(token):
        raise NotFound("no such resume token", param="token")
    return JSONResponse({"object": "voxloop.resume_token.revoked", "revoked": True})


def routes() -> list[BaseRoute]:
    return [
        Route("/v1/voxloop/users/{user}/memory", list_memory, methods=["GET"]),
        Route("/v1/voxloop/users/{user}/memory/{fact_id}", delete_fact, methods=["DELETE"]),
        Route("/v1/voxloop/users/{user}", forget_user, methods=["DELETE"]),
        Route("/v1/voxloop/resume/revoke", revoke, methods=["POST"]),
    ]
