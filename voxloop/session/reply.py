"""One assistant reply as a handle: LLM stream → clause chunker → TTS stream → output channel.

A :class:`Reply` owns its task tree (started with :meth:`Reply.start`) and its output channel
(its share of the session's outbox). A speculative reply runs (LLM, TTS) before the user's turn
is confirmed with its *gate* closed, holding its events; ``open_gate`` releases them in order.
:meth:`Reply.interrupt` closes the channel first — nothing more of the reply leaves, queued
audio is dropped — then cancels the task tree, and returns the text the user heard (the reply
keeps the audio offset of every clause it sent). Every ``response.created`` that leaves is
followed by exactly one ``response.done``: completed, cancelled, or failed with the reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from voxloop.aio import cancel_and_wait, create_named_task, now
from voxloop.dialogue.tools import check_arguments
from voxloop.engines.base import LLMEngine, TTSEngine
from voxloop.engines.streams import LLMStream
from voxloop.engines.types import ChatMessage, LLMOptions, ToolCall, TTSOptions
from voxloop.errors import BackendError, InvalidRequest, VoxloopError
from voxloop.session.events import (
    AudioOut,
    Error,
    FunctionCallAdded,
    FunctionCallArguments,
    FunctionCallDone,
    ItemTruncated,
    Message,
    MessageDone,
    MessageStarted,
    Output,
    OutputCleared,
    ReplyEvent,
    ResponseCreated,
    ResponseDone,
    ResponseInfo,
    TextDelta,
    new_id,
)
from voxloop.session.metrics import ReplyMetrics

__all__ = ["Reply", "ReplyMetrics"]

logger = logging.getLogger(__name__)

DELTA_SECONDS = 0.1  # audio per AudioOut event (one response.output_audio.delta on the wire)


@dataclass(slots=True)
class _Clause:
    start: float  # seconds into this reply's audio
    text: str


@dataclass
class Reply:
    output: Output
    llm: LLMEngine
    tts: TTSEngine
    messages: Sequence[ChatMessage]
    llm_options: LLMOptions
    tts_options: TTSOptions
    audio_out: bool = True
    output_rate: int = 24000
    id: str = field(default_factory=lambda: new_id("resp"))
    item_id: str = field(default_factory=lambda: new_id("item"))
    metrics: ReplyMetrics = field(default_factory=ReplyMetrics)
    on_gate_open: Callable[[Reply], None] | None = None
    on_end: Callable[[Reply], None] | None = None  # the pipeline ended (completed, failed or cancelled)
    # an output item passes the gate: it enters the conversation; returns the item before it
    on_item: Callable[[Message], str | None] | None = None
    on_item_done: Callable[[Message], None] | None = None  # a function call item is complete
    # the model asked for these calls (checked): the session starts the ones it runs itself
    on_calls: Callable[[Reply, list[ToolCall]], None] | None = None
    filler: Callable[[list[ToolCall]], str] | None = None  # said while those calls run, if no text

    def __post_init__(self) -> None:
        self.gate_open = False
        self._held: list[ReplyEvent] = []
        self.text = ""  # everything the LLM produced
        self.clauses: list[_Clause] = []
        self.queued_audio = 0.0  # seconds handed to the output (or held)
        self.sent_audio = 0.0  # seconds actually sent to the client
        self.first_sent: float | None = None
        self.last_sent: float | None = None
        self.finished = False  # the pipeline ended (all events queued)
        self.status: str = "in_progress"
        self.llm_tokens = 0
        self.created_sent = False  # response.created went out to the client
        self.done_sent = False  # response.done went out to the client
        self.played_seconds = 0.0  # after an interrupt: how much of the audio the listener heard
        self.closed = False  # the output channel is closed: nothing more of this reply leaves
        self.ended = asyncio.Event()  # the pipeline ended; all its events are queued (or dropped)
        self._task: asyncio.Task[None] | None = None
        self.previous_item_id: str | None = None  # set when the reply's item enters the conversation
        self._failure: VoxloopError | None = None
        self.message_started = False  # its message item began (the first text or audio)
        self.message_closed = False  # ... and ended (function calls follow)
        self.calls: list[Message] = []  # its function_call items, complete
        self.sent_items: set[str] = set()  # ids of items whose start reached the listener
        self.closed_items: set[str] = set()  # ... and whose end did
        self.response_sent = asyncio.Event()  # its response.done left (or it will never)

    # -- output channel ----------------------------------------------------------------
    def _emit(self, ev: ReplyEvent) -> None:
        if self.closed:
            return
        if self.gate_open:
            self.output.media(self._release(ev))
        else:
            self._held.append(ev)

    def _release(self, ev: ReplyEvent) -> ReplyEvent:
        """An event passes the gate: items it starts enter the conversation now, in order."""
        if isinstance(ev, ResponseCreated):  # made before the reply had a place in the conversation
            return ResponseCreated(self.info())
        if isinstance(ev, MessageStarted):
            if self.on_item is not None:
                self.previous_item_id = self.on_item(Message(self.item_id, "assistant", "", "in_progress",
                                                             audio=self.audio_out))
            return MessageStarted(self.info())
        if isinstance(ev, FunctionCallAdded):
            previous = self.on_item(ev.item) if self.on_item is not None else None
            return replace(ev, previous_item_id=previous)
        if isinstance(ev, FunctionCallDone) and self.on_item_done is not None:
            self.on_item_done(ev.item)
        return ev

    def open_gate(self) -> None:
        if self.gate_open or self.closed:
            return
        self.gate_open = True
        for ev in self._held:
            self.output.media(self._release(ev))
        self._held.clear()
        if self.on_gate_open is not None:
            self.on_gate_open(self)
        if self._failure is not None:  # it failed while speculative: say why, now that it is seen
            self.output.control(Error(self._failure.message, self._failure.code, server=True))

    def on_media_sent(self, ev: ReplyEvent, at: float) -> None:
        """The transport calls this as each of the reply's events leaves."""
        if isinstance(ev, ResponseCreated):
            self.created_sent = True
        elif isinstance(ev, ResponseDone):
            self.done_sent = True
            self.response_sent.set()
        elif isinstance(ev, MessageStarted):
            self.sent_items.add(self.item_id)
        elif isinstance(ev, MessageDone):
            self.closed_items.add(self.item_id)
        elif isinstance(ev, FunctionCallAdded):
            self.sent_items.add(ev.item.id)
        elif isinstance(ev, FunctionCallDone):
            self.closed_items.add(ev.item.id)
        elif isinstance(ev, AudioOut):
            if self.first_sent is None:
                self.first_sent = at
                if self.metrics.speech_end_wall is not None:
                    self.metrics.voice_to_voice_ms = 1000 * (at - self.metrics.speech_end_wall)
            self.last_sent = at
            self.sent_audio += ev.seconds

    def prompt_tokens(self) -> int | None:
        """Tokens of the messages this reply was started with, by the LLM's ``count_tokens``,
        plus 4 a message for the chat template's role markers (as the history budget counts
        them); a tool list the backend adds to the prompt is not counted. ``None`` if the LLM
        cannot count (its model failed to load)."""
        try:
            return sum(self.llm.count_tokens(m.content + "".join(c.arguments for c in m.tool_calls)) + 4
                       for m in self.messages)
        except VoxloopError:
            return None

    def heard_text(self, unplayed_seconds: float) -> str:
        """The text of the audio the client has played (sent minus still buffered)."""
        if not self.audio_out:
            return self.text
        played = max(0.0, self.sent_audio - max(0.0, unplayed_seconds))
        parts: list[str] = []
        for i, clause in enumerate(self.clauses):
            if clause.start >= played:
                break
            end = self.clauses[i + 1].start if i + 1 < len(self.clauses) else self.sent_audio
            if end <= played or end <= clause.start:
                parts.append(clause.text)
            else:  # cut inside this clause: keep the share of words already spoken
                words = clause.text.split()
                keep = max(1, int(len(words) * (played - clause.start) / (end - clause.start)))
                parts.append(" ".join(words[:keep]))
        return " ".join(p.strip() for p in parts if p.strip())

    def info(self, status: str | None = None, text: str = "", error: VoxloopError | None = None,
             heard_ms: int | None = None, *, sent: bool = False) -> ResponseInfo:
        """The response as it stands; ``sent``: as the listener knows it (what has left), for
        events that overtake the queue (cancel, failure); else as produced (queued in order)."""
        if sent:
            message, closed = self.item_id in self.sent_items, self.item_id in self.closed_items
            calls = tuple(c for c in self.calls if c.id in self.closed_items)
        else:
            message, closed, calls = self.message_started, self.message_closed, tuple(self.calls)
        return ResponseInfo(id=self.id, item_id=self.item_id, audio=self.audio_out,
                            status=status or "in_progress",  # type: ignore[arg-type]
                            text=text, previous_item_id=self.previous_item_id, output_tokens=self.llm_tokens,
                            error_code=error.code if error else None, error_message=error.message if error else None,
                            heard_ms=heard_ms, message=message, message_open=message and not closed, calls=calls)

    # -- lifecycle -------------------------------------------------------------------
    def start(self, spawn: Callable[[Any, str], asyncio.Task[None]]) -> None:
        """Run the pipeline in a task made by ``spawn(coro, name)`` (the session's task set)."""
        self._task = spawn(self._main(), f"reply-{self.id}")

    async def _main(self) -> None:
        try:
            await self.run()
        except asyncio.CancelledError:
            raise
        except Exception as e:  # a failing backend or a bug: the response fails, the session goes on
            if not isinstance(e, VoxloopError):
                logger.exception("reply %s crashed", self.id)
                e = VoxloopError(f"internal error in the reply: {type(e).__name__}", code="internal_error")
            self._fail(e)
        finally:
            self.ended.set()
            if self.on_end is not None:
                self.on_end(self)

    def discard(self) -> None:
        """Drop a reply nobody saw (a speculative reply whose turn went on): close and cancel."""
        self.closed = True
        self._held.clear()
        self.response_sent.set()
        if self._task is not None:
            self._task.cancel()

    async def interrupt(self, at: float | None = None) -> str:
        """Stop speaking now: close the output channel (queued audio is dropped and nothing more
        leaves), send the events that close the response, then cancel the task tree. Returns the
        text the user heard, which is all that should stay in the conversation."""
        at = now() if at is None else at
        self.closed = True
        self._held.clear()
        self.output.drop_media(self.id)
        unplayed = max(0.0, self.output.play_until - at)
        self.played_seconds = max(0.0, self.sent_audio - unplayed)
        heard = self.heard_text(unplayed)
        self.output.reset_playback()
        self.status = "cancelled"
        if self.created_sent:  # else the client never heard of this response: nothing to close
            self.output.control(OutputCleared(self.id))
            heard_ms = int(1000 * self.played_seconds)
            if not self.done_sent:
                self.output.control(ResponseDone(self.info("cancelled", heard, heard_ms=heard_ms, sent=True)))
            elif self.audio_out:  # it had finished but was still playing: only cut the item
                self.output.control(ItemTruncated(self.item_id, heard_ms))
        self.response_sent.set()  # nothing more of it will leave
        await cancel_and_wait(self._task)
        return heard

    @property
    def speaking(self) -> bool:
        """Its gate is open and it still produces, or audio of it is queued or still playing."""
        if not self.gate_open or self.closed:
            return False
        return (not self.ended.is_set() or self.output.has_media(self.id)
                or (self.audio_out and self.output.client_playing))

    # -- the pipeline ----------------------------------------------------------------
    async def run(self) -> None:
        """Produce the whole reply. Cancel the task to interrupt it."""
        self._emit(ResponseCreated(self.info()))
        calls = await (self._run_audio() if self.audio_out else self._run_text())
        if not self.message_started and not calls:  # nothing at all: an empty message, as ever
            self._start_message()
        if self.message_started:
            self.message_closed = True
            self._emit(MessageDone(self.info("completed", self.transcript())))
        first = 1 if self.message_started else 0
        for i, call in enumerate(calls):
            self._emit_call(first + i, call)
        self.status = "completed"
        self._emit(ResponseDone(self.info("completed", self.transcript())))
        self.finished = True

    def _start_message(self) -> None:
        if not self.message_started:
            self.message_started = True
            self._emit(MessageStarted(self.info()))

    def _emit_call(self, index: int, call: ToolCall) -> None:
        item = Message(new_id("item"), "assistant", "", "in_progress", type="function_call", call_id=call.call_id,
                       name=call.name)
        self._emit(FunctionCallAdded(self.id, index, item))
        self._emit(FunctionCallArguments(self.id, index, item.id, call.call_id, call.arguments))
        done = replace(item, status="completed", arguments=call.arguments)
        self.calls.append(done)
        self._emit(FunctionCallDone(self.id, index, done))

    def _checked_calls(self, stream: LLMStream) -> list[ToolCall]:
        """The calls the model made, each naming an offered tool with arguments its schema
        accepts; a malformed call fails the response (the model's fault, not the client's)."""
        calls = stream.tool_calls
        if not calls:
            return []
        specs = {t.name: t for t in self.llm_options.tools}
        for call in calls:
            spec = specs.get(call.name)
            if spec is None:
                raise BackendError(f"the model called {call.name!r}, which is not one of the session's tools",
                                   code="invalid_tool_call", retryable=True)
            try:
                check_arguments(spec, call.arguments)
            except InvalidRequest as e:
                raise BackendError(f"the model's call is malformed: {e.message}", code="invalid_tool_call",
                                   retryable=True) from e
        calls = [c if c.call_id else replace(c, call_id=new_id("call")) for c in calls]
        if self.on_calls is not None:
            self.on_calls(self, calls)
        return calls

    def _filler(self, calls: list[ToolCall]) -> str:
        return self.filler(calls) if calls and self.filler is not None and not self.text.strip() else ""

    async def _run_text(self) -> list[ToolCall]:
        t0 = now()
        stream = self.llm.chat(self.messages, self.llm_options)
        try:
            async for delta in stream:
                if self.metrics.llm_first_token_ms is None:
                    self.metrics.llm_first_token_ms = 1000 * (now() - t0)
                if isinstance(delta, str) and delta:
                    self._text(delta)
            calls = self._checked_calls(stream)
            if filler := self._filler(calls):
                self._text(filler)
            return calls
        finally:
            stream.stop()
            self.llm_tokens = stream.tokens
            await stream.aclose()

    def _text(self, delta: str) -> None:
        self._start_message()
        self.text += delta
        self._emit(TextDelta(self.id, self.item_id, delta, audio=False))

    async def _run_audio(self) -> list[ToolCall]:
        from voxloop.engines.tts.stream import tts_stream

        t0 = now()
        llm = self.llm.chat(self.messages, self.llm_options)
        tts = tts_stream(self.tts, self.tts_options, sample_rate=self.output_rate)
        calls: list[ToolCall] = []

        async def pump() -> None:
            nonlocal calls
            try:
                async for delta in llm:
                    if self.metrics.llm_first_token_ms is None:
                        self.metrics.llm_first_token_ms = 1000 * (now() - t0)
                    if isinstance(delta, str):
                        self.text += delta
                        tts.push(delta)
                calls = self._checked_calls(llm)
                if filler := self._filler(calls):
                    self.text += filler
                    tts.push(filler)
            finally:
                self.llm_tokens = llm.tokens
                tts.end_input()

        pump_task = create_named_task(pump(), f"reply-{self.id}:llm")  # part of this reply's task tree
        try:
            async for chunk in tts:
                if self.metrics.tts_first_chunk_ms is None and self.metrics.llm_first_token_ms is not None:
                    self.metrics.tts_first_chunk_ms = 1000 * (now() - t0) - self.metrics.llm_first_token_ms
                    if tts.first_clause_at is not None:  # of which the LLM wrote the first clause
                        self.metrics.first_clause_ms = 1000 * (tts.first_clause_at - t0) - self.metrics.llm_first_token_ms
                self._start_message()
                if chunk.text.strip():
                    self.clauses.append(_Clause(self.queued_audio, chunk.text.strip()))
                    spoken = (" " if len(self.clauses) > 1 else "") + chunk.text.strip()
                    self._emit(TextDelta(self.id, self.item_id, spoken, audio=True))
                self._emit_audio(chunk.audio.samples, chunk.audio.sample_rate)
            await pump_task  # surfaces LLM errors
            return calls
        finally:
            llm.stop()  # first, before any await: generation stops even if we are cancelled again
            if not pump_task.done():
                pump_task.cancel()
                with contextlib.suppress(BaseException):
                    await pump_task
            await tts.aclose()
            await llm.aclose()

    def _emit_audio(self, samples: Any, rate: int) -> None:
        step = int(DELTA_SECONDS * rate)
        for i in range(0, len(samples), step):
            piece = samples[i : i + step]
            self.queued_audio += len(piece) / rate
            self._emit(AudioOut(self.id, self.item_id, piece, rate))

    def transcript(self) -> str:
        return " ".join(c.text for c in self.clauses) if self.audio_out else self.text

    def _fail(self, err: VoxloopError) -> None:
        """Close the response as failed (through the gate: a speculative reply nobody saw
        fails silently with its turn)."""
        self.status = "failed"
        self._failure = err
        if self.gate_open and not self.closed:
            self.output.control(Error(err.message, err.code, server=True))
        self._emit(ResponseDone(self.info("failed", self.transcript(), error=err)))
        self.finished = True
        if self.closed:
            self.response_sent.set()
