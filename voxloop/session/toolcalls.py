"""Server-side tools in a session: when the model calls one of the deployment's webhooks, run
it beside the reply (which speaks the tool's filler line), then — once the response that made
the call has reached the listener — put the result in the conversation and answer: the model
speaks about the result, or the tool's apology is said when the webhook failed."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from voxloop.aio import cancel_and_wait
from voxloop.dialogue.tools import ServerTool
from voxloop.engines.types import ToolCall
from voxloop.errors import InvalidRequest
from voxloop.session.events import new_id
from voxloop.session.pytools import call_python
from voxloop.session.webhooks import ToolResult, call_webhook

if TYPE_CHECKING:
    from voxloop.session.reply import Reply
    from voxloop.session.session import Session

__all__ = ["ServerTools"]


class ServerTools:
    def __init__(self, session: Session) -> None:
        self._session = session
        self._running: dict[str, asyncio.Task[None]] = {}  # reply id -> its calls at work

    def _tool(self, name: str) -> ServerTool | None:
        return next((t for t in self._session.config.server_tools if t.spec.name == name), None)

    def filler(self, calls: list[ToolCall]) -> str:
        """What to say while the server runs these calls (the first tool's filler line)."""
        return next((t.filler for c in calls if (t := self._tool(c.name)) is not None and t.filler), "")

    def on_calls(self, reply: Reply, calls: list[ToolCall]) -> None:
        """The model asked for calls: the server's own tools start at once (beside the filler)."""
        mine = [(c, t) for c in calls if (t := self._tool(c.name)) is not None]
        if mine:
            self._session.spawn(self._run(reply, mine, answer=len(mine) == len(calls)), f"tools-{reply.id}")

    def cancel(self, reply: Reply) -> None:
        """Barge-in on ``reply``: the calls it made stop (an async Python tool is cancelled; a
        webhook's request is dropped) and their results never enter the conversation."""
        task = self._running.pop(reply.id, None)
        if task is not None:
            task.cancel()

    async def _results(self, calls: list[tuple[ToolCall, ServerTool]], into: list[ToolResult]) -> None:
        into.extend(await asyncio.gather(*(call_python(t, c.arguments) if t.handler is not None else
                                           call_webhook(t, c.arguments, call_id=c.call_id) for c, t in calls)))

    async def _run(self, reply: Reply, calls: list[tuple[ToolCall, ServerTool]], answer: bool) -> None:
        results: list[ToolResult] = []
        work = self._session.spawn(self._results(calls, results), f"tools-call-{reply.id}")
        self._running[reply.id] = work
        try:
            await asyncio.wait([work])
            await reply.response_sent.wait()
        finally:
            self._running.pop(reply.id, None)
            await cancel_and_wait(work)
        sent = {m.call_id for m in reply.calls if m.id in reply.closed_items}
        if reply.status != "completed" or not sent or work.cancelled():
            return  # interrupted before the calls reached the listener, or while they ran: they never happened
        session = self._session
        for (call, _), result in zip(calls, results, strict=True):
            if call.call_id in sent:
                session.log.tool_output(call.call_id, result.output, new_id("item"))
        if not answer:
            return  # the client runs the other calls and asks for the next response
        # a failed webhook says its apology; a Python tool's error is the model's to speak about
        failed = next((t for (_, t), r in zip(calls, results, strict=True)
                       if not r.ok and (t.handler is None or t.error_message)), None)
        try:
            if failed is not None:
                session.say(failed.apology)
            else:  # answer in words: a forced choice would only call again
                session.create_response(tool_choice="none" if session.config.tool_choice == "none" else "auto")
        except InvalidRequest:  # another response holds the floor: the client drives from here
            pass
