"""The duplex session: audio in → VAD → partials → end of turn → reply → events out.

One ``Session`` per conversation, driven by one connection. Its tasks (VAD loop, partials,
turns, replies) run in one task group (:meth:`Session.run`). It emits typed, transport-neutral
events (``voxloop.session.events``) to an :class:`~voxloop.session.events.Output` that the
transport implements (renders, paces). Barge-in interrupts the reply handle — its output is
closed before its tasks are cancelled — and truncates history to what was heard.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Coroutine
from dataclasses import dataclass, field, replace
from typing import Any

from voxloop.aio import cancel_and_wait, create_named_task, now
from voxloop.audio.pcm import Audio
from voxloop.dialogue.history import Conversation
from voxloop.engines.stack import EngineStack
from voxloop.engines.types import (
    ChatMessage,
    LLMOptions,
    TranscribeOptions,
    TTSOptions,
)
from voxloop.errors import InvalidRequest, VoxloopError
from voxloop.session.canned import CannedLLM, greet
from voxloop.session.config import SessionConfig
from voxloop.session.conversation import ConversationLog
from voxloop.session.emotion import EmotionTracker
from voxloop.session.events import (
    Error,
    InputCleared,
    InputTimeout,
    ItemTruncated,
    Metrics,
    Output,
    ReplyEvent,
    ResponseDone,
    SessionEvent,
    TranscriptCompleted,
    TranscriptFailed,
    new_id,
)
from voxloop.session.memory import MemorySettings, SessionMemory
from voxloop.session.reply import Reply
from voxloop.session.toolcalls import ServerTools
from voxloop.session.transcriber import ASRScheduler
from voxloop.session.turns import RATE, Listener
from voxloop.store.base import ConversationStore

__all__ = ["Session"]

logger = logging.getLogger(__name__)


@dataclass
class Turn:
    """A user turn being transcribed (and answered): speculative until its end is confirmed."""

    item_id: str
    audio: Audio
    speculative: bool
    confirmed: asyncio.Event = field(default_factory=asyncio.Event)
    speech_end_wall: float | None = None
    task: asyncio.Task[None] | None = None
    reply: Reply | None = None
    create_response: bool = True


class Session:
    def __init__(self, stack: EngineStack, scheduler: ASRScheduler, output: Output, config: SessionConfig, *,
                 session_id: str | None = None, store: ConversationStore | None = None,
                 memory: MemorySettings = MemorySettings()) -> None:
        self.id = session_id or new_id("sess", 16)  # also the id of the conversation in the store
        self.stack = stack
        self.scheduler = scheduler
        self.config = config
        self.output = output  # the transport: renders and paces what the session emits
        self.output.on_media_sent = self._on_media_sent
        self.log = ConversationLog(config.instructions, self.control)
        self.memory = SessionMemory(store, self.id, self.log.items, stack.llm, memory, self.spawn)
        self.log.on_saved, self.log.on_deleted = self.memory.saved, self.memory.deleted
        self.memory.prompt = lambda: self.conversation.messages(self.config.history_tokens, self.stack.llm.count_tokens)
        self.vocabulary: Any = None  # optional voxloop.dialogue.vocabulary.Vocabulary
        self.emotion = EmotionTracker(stack.vad.run_blocking)  # user emotion: LLM hint, delivery, event
        self._tg: asyncio.TaskGroup | None = None  # every task of the session, while it runs
        self.running = asyncio.Event()
        self._run_task: asyncio.Task[None] | None = None
        self.listener = Listener(self)  # turn-taking: input buffer, VAD, partials
        self.server_tools = ServerTools(self)  # the deployment's webhooks, run for the model
        self._turn: Turn | None = None
        self._reply: Reply | None = None  # the reply holding the floor (one speaks at a time)
        self._replies: dict[str, Reply] = {}  # replies whose events may still leave
        self._spoken: collections.OrderedDict[str, Reply] = collections.OrderedDict()  # item id → recent reply
        self._last_final = ""
        self._idle_since: float | None = 0.0  # input time since which nobody spoke or was answered

    @property
    def conversation(self) -> Conversation:
        """The conversation's items (order, texts): what the LLM sees."""
        return self.log.items

    # ------------------------------------------------------------------ lifecycle
    async def run(self) -> None:
        """The session's life. Every task it starts (VAD loop, partials, turns, replies) runs in
        one task group: run this inside the connection's task group and cancel it to end the
        session. An unexpected failure in any task ends the session (raised as an ExceptionGroup);
        expected faults (a backend down, a bad request) are events, and the session goes on."""
        try:
            async with asyncio.TaskGroup() as tg:
                self._tg = tg
                tg.create_task(self.memory.writer(), name=f"{self.id}:store-writer")
                self.listener.restart_vad()
                self.running.set()
                await asyncio.Event().wait()  # until cancelled
        finally:
            self._tg = None
            self._keep_heard()
            await self.listener.aclose()
            await self.memory.flush()  # what was said is in the store before the session is gone

    def _keep_heard(self) -> None:
        """The session ends while a reply speaks (the client went away): the conversation keeps
        what had been sent and played of it."""
        reply = self._reply  # ``ended``: all produced, maybe not all sent: ``speaking`` covers that
        if reply is None or not reply.gate_open or not reply.message_started or not reply.speaking:
            return
        unplayed = max(0.0, self.output.play_until - now())
        self.log.truncate(reply.item_id, reply.heard_text(unplayed))

    def spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        if self._tg is None:
            coro.close()
            raise RuntimeError("the session is not running")
        return self._tg.create_task(coro, name=f"{self.id}:{name}")

    async def start(self) -> None:
        """Run the session in a task of its own (tests, embedding); ``aclose`` ends it."""
        self._run_task = create_named_task(self.run(), f"{self.id}:run")
        await self.running.wait()

    async def aclose(self) -> None:
        await cancel_and_wait(self._run_task)

    def unfinished_responses(self, err: VoxloopError) -> list[ResponseDone]:
        """When the session dies: a failed ``ResponseDone`` for every response the client saw
        start but not end (every response.created gets its response.done)."""
        out = []
        for reply in self._replies.values():
            if reply.created_sent and not reply.done_sent and not reply.closed:
                reply.closed = True
                out.append(ResponseDone(reply.info("failed", reply.transcript(), error=err, sent=True)))
        return out

    def control(self, ev: SessionEvent) -> None:
        self.output.control(ev)

    def error(self, err: VoxloopError, event_id: str | None = None) -> None:
        self.control(Error(err.message, err.code, param=getattr(err, "param", None), server=err.http_status >= 500,
                           event_id=event_id))

    # ------------------------------------------------------------------ configuration
    def apply_config(self, config: SessionConfig) -> None:
        td = config.turn_detection
        if td is not None and td.semantic and not self.stack.has("turn"):
            raise InvalidRequest("turn_detection semantic_vad needs Smart Turn: pip install 'voxloop[smart-turn]'",
                                 param="turn_detection.type", code="missing_dependency")
        old = self.config
        self.config = config
        self.conversation.instructions = config.instructions
        self.listener.reconfigure(old)

    # ------------------------------------------------------------------ input audio
    def append_audio(self, pcm: bytes) -> None:
        self.listener.append(pcm)
        self._check_idle()

    def _check_idle(self) -> None:
        """``idle_timeout_ms``: after that much input with no speech since the last reply ended,
        commit an empty user turn and answer it (the model prompts the user to go on)."""
        td = self.config.turn_detection
        since, end = self._idle_since, self.listener.input.end
        if (td is None or td.idle_timeout_ms is None or since is None or self.listener.utterance is not None
                or self._turn is not None or self.reply_active() or self.config.type != "realtime"
                or end - since < td.idle_timeout_ms / 1000):
            return
        self._idle_since = None  # restarts when the reply has played
        item_id = new_id("item")
        self.control(InputTimeout(item_id, int(1000 * since), int(1000 * end)))
        self._commit_events(item_id)
        self._finish_user_item(item_id, "")
        if td.create_response:
            self.create_response()

    def clear_input(self) -> None:
        self.listener.input.clear()
        self.control(InputCleared())

    def commit(self) -> None:
        """Push-to-talk: the buffered audio is the user's turn."""
        seconds = self.listener.input.seconds
        if seconds < 0.1:
            raise InvalidRequest(f"buffer too small: {1000 * seconds:.0f} ms of audio, need at "
                                 "least 100 ms", code="input_audio_buffer_commit_empty")
        item_id, samples = self.listener.take()
        td = self.config.turn_detection
        self._commit_events(item_id)
        turn = Turn(item_id, Audio(samples, RATE), speculative=False,
                    create_response=td is not None and td.create_response)
        turn.speech_end_wall = now()
        self._start_turn(turn)
        turn.confirmed.set()

    def _commit_events(self, item_id: str) -> None:
        self.log.user_audio_committed(item_id)

    def _finish_user_item(self, item_id: str, text: str) -> None:
        self.log.user_transcribed(item_id, text)

    # ------------------------------------------------------------------ turn-taking (Listener callbacks)
    async def speech_started(self, item_id: str, onset_wall: float) -> None:
        self._idle_since = None
        self.memory.idle(False)
        td = self.config.turn_detection
        if td is not None and td.interrupt_response:
            await self.interrupt(onset_wall)

    def tentative_end(self, item_id: str, audio: Audio) -> None:
        """A pause: transcribe (and answer) speculatively; kept if the turn really ends here."""
        self._cancel_turn()
        self._start_turn(Turn(item_id, audio, speculative=True))

    def resumed(self) -> None:
        self._cancel_turn()

    def turn_ended(self, item_id: str, audio: Audio, end: float, end_wall: float) -> None:
        self._commit_events(item_id)
        pending = self._turn
        if pending is not None and pending.speculative and pending.item_id == item_id:
            turn = pending  # the speculative turn started at the pause: keep its work
        else:
            turn = Turn(item_id, audio, speculative=False)
            self._start_turn(turn)
        turn.speech_end_wall = end_wall
        self._idle_since = end  # a reply (if any) resets it again when it has played
        turn.confirmed.set()

    def _transcription_failed(self, item_id: str, e: VoxloopError) -> None:
        self.control(TranscriptFailed(item_id, e.code, e.message))

    def transcribe_options(self) -> TranscribeOptions:
        tc = self.config.transcription
        hot = self.config.hotwords
        if self.vocabulary is not None:
            hot = hot + tuple(self.vocabulary.hotwords(400))
        prompt = tc.prompt if tc else None
        if self.config.type == "transcription" and self._last_final:
            # dictation: condition on the previous utterance (spelling, casing, punctuation)
            prompt = " ".join(p for p in (prompt, self._last_final[-200:]) if p)
        return TranscribeOptions(language=tc.language if tc else None, prompt=prompt, hotwords=hot)

    # ------------------------------------------------------------------ turns
    def _start_turn(self, turn: Turn) -> None:
        self._turn = turn
        turn.task = self.spawn(self._run_turn(turn), f"turn-{turn.item_id}")

    def _cancel_turn(self) -> None:
        turn, self._turn = self._turn, None
        if turn is None or turn.confirmed.is_set():
            return
        if turn.task is not None:
            turn.task.cancel()
        if turn.reply is not None and not turn.reply.gate_open:
            turn.reply.discard()  # speculative: nobody saw it
            self._replies.pop(turn.reply.id, None)

    async def _run_turn(self, turn: Turn) -> None:
        t0 = now()
        try:
            result = await self.scheduler.transcribe(turn.audio, self.transcribe_options(), final=True)
        except Exception as e:
            if not isinstance(e, VoxloopError):
                logger.exception("transcription of %s crashed", turn.item_id)
                e = VoxloopError("transcription failed", code="internal_error")
            await turn.confirmed.wait()
            self._transcription_failed(turn.item_id, e)
            self._finish_user_item(turn.item_id, "")
            return
        text = result.text.strip()
        if self.vocabulary is not None and text:
            text = self.vocabulary.correct(text)
        asr_ms = 1000 * (now() - t0)
        realtime = self.config.type == "realtime"
        td = self.config.turn_detection
        wants_reply = realtime and text and turn.create_response and (td is None or td.create_response)
        emo = await self.emotion.estimate(self.config.emotion, turn.item_id, text, turn.audio) if realtime else None
        if wants_reply:
            messages = self.conversation.messages(self.config.history_tokens, self.stack.llm.count_tokens)
            reply = self._new_reply([*messages, *self.emotion.messages(self.config.emotion, emo),
                                     *await self.memory.relevant(text), ChatMessage("user", text)],
                                    tts_options=self.emotion.tts_options(self.config.emotion, emo, self.config.speed))
            greet(reply, self.config.greeting, self.conversation)
            reply.metrics.asr_final_ms = asr_ms
            reply.metrics.speculative = turn.speculative
            turn.reply = reply
            self._launch_reply(reply)
        await turn.confirmed.wait()
        if self._turn is turn:
            self._turn = None
        self.control(TranscriptCompleted(turn.item_id, text, turn.audio.duration))
        self.emotion.confirmed(turn.item_id, self.control)
        if text:
            self._last_final = text
        self._finish_user_item(turn.item_id, text)
        if turn.reply is not None:
            turn.reply.metrics.speech_end_wall = turn.speech_end_wall
            await self._take_floor(turn.reply)

    # ------------------------------------------------------------------ replies
    def _new_reply(self, messages: list[ChatMessage], **overrides: Any) -> Reply:
        cfg = self.config
        modalities = overrides.get("output_modalities") or cfg.output_modalities
        tools = overrides.get("tools")
        tools = cfg.tools if tools is None else tools
        names = {t.name for t in tools}
        tools = (*tools, *(t.spec for t in cfg.server_tools if t.spec.name not in names))
        return Reply(
            output=self.output, llm=overrides.get("llm") or self.stack.llm, tts=self.stack.tts, messages=messages,
            llm_options=LLMOptions(max_tokens=overrides.get("max_output_tokens") or cfg.max_output_tokens,
                                   temperature=cfg.temperature, tools=tools,
                                   tool_choice=overrides.get("tool_choice") or cfg.tool_choice),
            tts_options=replace(overrides.get("tts_options") or TTSOptions(speed=cfg.speed), voice=cfg.voice),
            audio_out="audio" in modalities, output_rate=cfg.output_rate,
            on_gate_open=self._on_gate_open, on_end=self._on_reply_end,
            on_item=self.log.output_item_started, on_item_done=self.log.function_call_done,
            on_calls=self.server_tools.on_calls, filler=self.server_tools.filler,
        )

    def _on_gate_open(self, reply: Reply) -> None:
        if reply.ended.is_set():  # a speculative reply can finish before its turn is confirmed
            self._on_reply_end(reply)

    def reply_active(self) -> bool:
        """A reply holds the floor: it still produces, or its audio is queued or playing."""
        return self._reply is not None and self._reply.speaking

    def _launch_reply(self, reply: Reply) -> None:
        """Start the reply's pipeline; its output stays held until it gets the floor."""
        self._replies[reply.id] = reply
        self._spoken[reply.item_id] = reply  # for conversation.item.truncate by the client
        while len(self._spoken) > 8:
            self._spoken.popitem(last=False)
        reply.start(self.spawn)

    async def _take_floor(self, reply: Reply) -> None:
        """One reply speaks at a time: wait until the current one has produced everything (its
        queued audio then plays before this reply's), then open this reply's gate."""
        while ((current := self._reply) is not None and current is not reply and not current.closed
               and not current.ended.is_set()):
            await current.ended.wait()
        if reply.closed:
            return
        self._reply = reply
        reply.open_gate()

    def _on_reply_end(self, reply: Reply) -> None:
        if reply.gate_open and reply.message_started and reply.status not in ("cancelled", "in_progress"):
            self.log.assistant_ended(reply.item_id, reply.transcript(), reply.status == "completed")
        if reply.closed and not reply.gate_open:  # discarded before anyone saw it
            self._replies.pop(reply.id, None)

    def create_response(self, instructions: str | None = None, **overrides: Any) -> None:
        current = self._reply
        if current is not None and current.gate_open and not current.closed and not current.done_sent:
            raise InvalidRequest("Conversation already has an active response in progress",
                                 code="conversation_already_has_active_response")
        pending = self._turn.task if self._turn is not None else None
        self.spawn(self._create_response(pending, instructions, overrides), "response-create")

    async def _create_response(self, pending: asyncio.Task[None] | None, instructions: str | None,
                               overrides: dict[str, Any]) -> None:
        if pending is not None:
            await asyncio.wait([pending])
        messages = self.conversation.messages(self.config.history_tokens, self.stack.llm.count_tokens)
        if messages and messages[-1].role == "user":  # what is remembered about it, just before it
            messages[-1:-1] = await self.memory.relevant(messages[-1].content)
        if instructions:
            messages = [ChatMessage("system", instructions), *[m for m in messages if m.role != "system"]]
        reply = self._new_reply(messages, **overrides)
        greet(reply, self.config.greeting, self.conversation)
        self._launch_reply(reply)
        await self._take_floor(reply)

    def say(self, text: str) -> None:
        """A response with fixed words (no model): a greeting, an apology."""
        self.spawn(self._create_response(None, None, {"llm": CannedLLM(text), "tools": (),
                                                      "tool_choice": "none"}), "response-say")

    async def interrupt(self, onset_wall: float | None = None) -> bool:
        """Barge-in or ``response.cancel``: stop the reply now, keep only what was heard."""
        reply = self._reply
        if reply is None or not reply.speaking:
            return False
        t = now()
        heard = await reply.interrupt(t)  # closes its output first, then cancels its tasks
        self.server_tools.cancel(reply)  # the calls it made stop too
        self.log.truncate(reply.item_id, heard)
        if onset_wall is not None:
            reply.metrics.barge_in_stop_ms = 1000 * (t - onset_wall)
        self._send_metrics(reply)
        self._replies.pop(reply.id, None)
        if self._reply is reply:
            self._reply = None
        if self.listener.utterance is None:
            self._idle_since = self.listener.input.end
        return True

    def truncate_item(self, item_id: str, audio_end_ms: int) -> None:
        """Client says it played only ``audio_end_ms`` of an assistant item."""
        item = self.log.get(item_id)
        if item.role != "assistant":
            raise InvalidRequest("only assistant items can be truncated", param="item_id")
        if not item.audio:
            raise InvalidRequest("this item has no audio to truncate (a text reply)", param="item_id")
        reply = self._spoken.get(item_id)
        if reply is not None:
            played = audio_end_ms / 1000
            if played > reply.sent_audio + 0.05:
                raise InvalidRequest(f"audio_end_ms {audio_end_ms} is beyond the audio sent "
                                     f"({int(1000 * reply.sent_audio)} ms)", param="audio_end_ms")
            self.log.truncate(item_id, reply.heard_text(reply.sent_audio - played))
        self.control(ItemTruncated(item_id, audio_end_ms))

    # ------------------------------------------------------------------ bookkeeping
    def _on_media_sent(self, ev: ReplyEvent, at: float) -> None:
        reply = self._replies.get(ev.response_id)
        if reply is None:
            return
        reply.on_media_sent(ev, at)
        if isinstance(ev, ResponseDone):
            unplayed = max(0.0, self.output.play_until - at) if reply.audio_out else 0.0
            if self.listener.utterance is None:
                self._idle_since = self.listener.input.end + unplayed
                self.memory.idle(True)
            self.memory.maybe_summarize()
            self._send_metrics(reply)
            self._replies.pop(reply.id, None)

    def _send_metrics(self, reply: Reply) -> None:
        if reply.metrics.prompt_tokens is None:  # counted once the reply is done: off its critical path
            reply.metrics.prompt_tokens = reply.prompt_tokens()
        metrics = reply.metrics.as_dict()
        logger.info("reply %s metrics %s", reply.id, metrics)
        self.control(Metrics(reply.id, metrics))  # an extension: transports send it on request
