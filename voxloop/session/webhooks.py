"""Server-side tools: voxloop POSTs the model's arguments to the tool's webhook and hands the
answer back to the model as the call's output. Nothing a webhook does can crash a session: a
timeout, a refused connection, an HTTP error or an oversized answer becomes a failed result
whose output says what went wrong (the model, or the tool's apology line, speaks about it)."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

import httpx

from voxloop.dialogue.tools import ServerTool

__all__ = ["MAX_OUTPUT_BYTES", "ToolResult", "call_webhook"]

logger = logging.getLogger(__name__)

MAX_OUTPUT_BYTES = 64 * 1024  # a tool's answer goes into the prompt: keep it small


@dataclass(frozen=True, slots=True)
class ToolResult:
    output: str  # what the model sees (JSON text)
    ok: bool


def _failed(tool: ServerTool, why: str) -> ToolResult:
    logger.warning("server tool %s failed: %s", tool.spec.name, why)
    return ToolResult(json.dumps({"error": why}), ok=False)


async def call_webhook(tool: ServerTool, arguments: str, *, call_id: str = "") -> ToolResult:
    """POST ``{"name", "call_id", "arguments": {...}}`` to the tool's URL within its timeout."""
    try:
        args = json.loads(arguments or "{}")
    except ValueError:
        args = {}
    body = {"name": tool.spec.name, "call_id": call_id, "arguments": args}
    try:
        async with httpx.AsyncClient(timeout=tool.timeout_s, trust_env=False) as client:
            response = await client.post(tool.url, json=body)
            raw = await response.aread()
    except httpx.TimeoutException:
        return _failed(tool, f"{tool.spec.name} did not answer within {tool.timeout_s:g} s")
    except httpx.HTTPError as e:
        return _failed(tool, f"could not reach {tool.spec.name} ({type(e).__name__})")
    if response.status_code >= 400:
        return _failed(tool, f"{tool.spec.name} answered HTTP {response.status_code}")
    if len(raw) > MAX_OUTPUT_BYTES:
        return _failed(tool, f"{tool.spec.name} answered {len(raw)} bytes, more than {MAX_OUTPUT_BYTES}")
    text = raw.decode("utf-8", errors="replace").strip()
    try:
        return ToolResult(json.dumps(json.loads(text), separators=(",", ":")), ok=True)
    except ValueError:
        return ToolResult(json.dumps({"result": text}), ok=True)
