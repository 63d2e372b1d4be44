"""Python tools in a session (``@voxloop.tool``): the model's arguments go to the function,
its result comes back as the call's output. As with webhooks, nothing a tool does can crash a
session: an exception or a timeout becomes a result whose output says what went wrong, which
the model (or the tool's ``error_message``) speaks about. Cancelling the caller (barge-in)
cancels an async tool; a sync tool runs on a worker thread and its answer is then dropped."""

from __future__ import annotations

import asyncio
import json
import logging

from voxloop.dialogue.tools import ServerTool
from voxloop.session.webhooks import MAX_OUTPUT_BYTES, ToolResult

__all__ = ["call_python"]

logger = logging.getLogger(__name__)


async def call_python(tool: ServerTool, arguments: str) -> ToolResult:
    """Run ``tool.handler`` on the JSON ``arguments`` within the tool's timeout."""
    assert tool.handler is not None
    name = tool.spec.name
    try:
        args = json.loads(arguments or "{}")
    except ValueError:
        args = {}
    try:
        async with asyncio.timeout(tool.timeout_s):
            output = await tool.handler(args if isinstance(args, dict) else {})
    except TimeoutError:
        why = f"{name} did not answer within {tool.timeout_s:g} s"
    except Exception as e:  # the tool's own failure: the model hears what it was
        logger.warning("python tool %s raised", name, exc_info=e)
        why = f"{name} failed: {type(e).__name__}: {e}" if str(e) else f"{name} failed: {type(e).__name__}"
    else:
        if len(output.encode()) > MAX_OUTPUT_BYTES:
            why = f"{name} answered {len(output.encode())} bytes, more than {MAX_OUTPUT_BYTES}"
        else:
            return ToolResult(output, ok=True)
    logger.warning("python tool %s failed: %s", name, why)
    return ToolResult(json.dumps({"error": why}), ok=False)

