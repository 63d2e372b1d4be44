"""OpenAI-compatible REST endpoints.

* ``POST /v1/audio/transcriptions`` — see :mod:`voxloop.server.rest_transcribe`
* ``POST /v1/audio/speech`` — see :mod:`voxloop.server.rest_speech`
* ``GET /v1/models`` and ``GET /v1/models/{id}`` — the ASR, TTS and LLM models this server
  runs, plus the OpenAI names it answers to (``whisper-1``, ``tts-1``).

Errors have OpenAI's shape, ``{"error": {"message", "type", "param", "code"}}``, with the
status of the :class:`~voxloop.errors.VoxloopError` behind them.
"""

from __future__ import annotations

import functools
import logging
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from voxloop.engines.stack import EngineStack
from voxloop.errors import InvalidRequest, VoxloopError
from voxloop.server.rest_common import api, server_state
from voxloop.server.rest_speech import speech
from voxloop.server.rest_transcribe import transcriptions

__all__ = ["ModelNotFound", "list_models", "routes"]

logger = logging.getLogger(__name__)

# Names OpenAI clients ask for; each means this server's engine for that stage.
ALIASES: dict[str, tuple[str, ...]] = {"asr": ("whisper-1",), "tts": ("tts-1",), "llm": ()}


class ModelNotFound(InvalidRequest):
    code = "model_not_found"
    http_status = 404


def routes() -> list[BaseRoute]:
    return [
        Route("/v1/audio/transcriptions", transcriptions, methods=["POST"]),
        Route("/v1/audio/speech", speech, methods=["POST"]),
        Route("/v1/models", models, methods=["GET"]),
        Route("/v1/models/{model_id:path}", model, methods=["GET"]),
    ]


@functools.cache
def _created() -> int:
    return int(time.time())


def list_models(stack: EngineStack) -> list[dict[str, Any]]:
    """One entry per model the stack runs (engines are created, not loaded)."""
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for stage in ("asr", "tts", "llm"):
        try:
            engine = stack.get(stage)
            info = engine.describe()
        except (VoxloopError, ImportError) as e:  # backend not installed: not offered
            logger.debug("no %s model to list: %s", stage, e)
            continue
        name = info.get("model") or info.get("voice") or engine.name
        for model_id in (name, *ALIASES[stage]):
            if model_id in seen:
                continue
            seen.add(model_id)
            out.append({"id": model_id, "object": "model", "created": _created(), "owned_by": "voxloop"})
    return out


@api
async def models(request: Request) -> Response:
    return JSONResponse({"object": "list", "data": list_models(server_state(request).stack)})


@api
async def model(request: Request) -> Response:
    model_id = request.path_params["model_id"]
    for entry in list_models(server_state(request).stack):
        if entry["id"] == model_id:
            return JSONResponse(entry)
    raise ModelNotFound(f"The model {model_id!r} does not exist on this server", param="model")
