"""One conversation with an :class:`Agent`, in this process, over any audio source and sink:
for tests, embedding and ``voxloop talk``. The session is the server's own (same turn-taking,
barge-in, tools); its events are the OpenAI Realtime wire events a WebSocket client would get
(docs/realtime-protocol.md), as dicts, and its audio is paced to the sink at real time.

    async with voxloop.Conversation(agent) as conv:
        conv.send_text("Where is my order 12345?")
        async for event in conv.events():
            ...

or :func:`converse` to play a whole :class:`AudioSource` into an agent and its replies into an
:class:`AudioSink`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any, Protocol

from voxloop.api.agent import Agent
from voxloop.api.pipeline import Pipeline
from voxloop.api.serve import scenes, server_config

if TYPE_CHECKING:
    from voxloop.engines.stack import EngineStack
    from voxloop.session.session import Session

__all__ = ["AudioSink", "AudioSource", "Conversation", "converse"]

Event = dict[str, Any]


class AudioSource(Protocol):
    """Where the user's voice comes from: PCM16 mono chunks at ``sample_rate``, in real time
    (a microphone) or as fast as a file can be read (``converse(realtime=False)`` paces it)."""

    sample_rate: int

    def chunks(self) -> AsyncIterator[bytes]: ...


class AudioSink(Protocol):
    """Where the agent's voice goes: PCM16 mono at ``sample_rate``. ``write`` queues audio to
    play; ``clear`` drops what is queued and not yet played (barge-in)."""

    sample_rate: int

    def write(self, pcm: bytes) -> None: ...

    def clear(self) -> None: ...


async def _loop_turns(pending: Callable[[], bool], most: int = 100_000) -> None:
    """Let the event loop run other tasks while ``pending()`` (bounded, never a clock)."""
    for _ in range(most):
        if not pending():
            return
        await asyncio.sleep(0)


class Conversation:
    """One session with ``agent``. Use as ``async with``; engines come from ``pipeline``
    (or a ``stack`` shared between conversations). ``input_rate``/``output_rate`` are the
    sample rates of the audio sent and received. ``dictation=True``: a transcription session
    (turns are transcribed, never answered: the Realtime API's ``transcription`` type)."""

    def __init__(self, agent: Agent | None = None, pipeline: Pipeline | None = None, *,
                 stack: EngineStack | None = None, input_rate: int = 24000, output_rate: int = 24000,
                 sink: AudioSink | None = None, dictation: bool = False) -> None:
        self.agent = agent if agent is not None else Agent()
        self.dictation = dictation
        self._stack = stack if stack is not None else (pipeline or Pipeline()).stack()
        self._owns_stack = stack is None
        self.input_rate, self.output_rate = input_rate, output_rate
        self.sink = sink
        self._queue: asyncio.Queue[Event] = asyncio.Queue()
        self._session: Session | None = None
        self._task: asyncio.Task[None] | None = None
        self.listeners: list[Callable[[Event], None]] = []

    @property
    def session(self) -> Session:
        if self._session is None:
            raise RuntimeError("the conversation is not running: use 'async with Conversation(...)'")
        return self._session

    async def _send(self, wire: Event) -> None:
        kind = wire.get("type")
        if self.sink is not None:
            if kind == "response.output_audio.delta":
                self.sink.write(base64.b64decode(wire["delta"]))
            elif kind == "output_audio_buffer.cleared":
                self.sink.clear()
        for listener in self.listeners:
            listener(wire)
        self._queue.put_nowait(wire)

    async def __aenter__(self) -> Conversation:
        from voxloop.server.pacer import Pacer
        from voxloop.server.scenes import base_session_config
        from voxloop.session.session import Session
        from voxloop.session.transcriber import ASRScheduler

        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self._stack.prewarm)
        config = scenes(self.agent).initial(base_session_config(server_config(self.agent), False))
        config = config.with_(input_rate=self.input_rate, output_rate=self.output_rate,
                              type="transcription" if self.dictation else "realtime")
        output = Pacer(self._send)
        self._session = session = Session(self._stack, ASRScheduler(self._stack.asr), output, config)

        async def run() -> None:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(output.run(), name=f"{session.id}:local-sender")
                tg.create_task(session.run(), name=f"{session.id}:local-session")

        self._task = loop.create_task(run(), name=f"{session.id}:conversation")
        await session.running.wait()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._owns_stack:
            self._stack.close()

    def send_audio(self, pcm: bytes) -> None:
        """PCM16 mono at ``input_rate``: the user speaking (VAD ends turns and replies start)."""
        self.session.append_audio(pcm)

    async def drain(self) -> None:
        """Wait until the audio sent so far has been through the VAD and the events it made
        (speech started/stopped) have reached the listeners: after a finite source, what is
        still to come is only the transcription (and replies) of turns already announced."""
        vad = self.session.listener._vad
        if vad is not None:
            await vad.drained()
            await _loop_turns(lambda: not vad._out.empty())  # the session's VAD loop handles them in order
            await asyncio.sleep(0)  # ... the last one's handler
        output = self.session.output
        await _loop_turns(lambda: bool(getattr(output, "_control", None)))  # the pacer sends control events first

    def send_text(self, text: str, respond: bool = True) -> None:
        """A typed user message, and (by default) a reply to it."""
        from voxloop.session.events import new_id

        self.session.log.create("user", text, new_id("item"), None)
        if respond:
            self.session.create_response()

    async def events(self) -> AsyncIterator[Event]:
        """Every wire event from now on, as a Realtime client would get them (until closed)."""
        while True:
            yield await self._queue.get()

    async def until(self, predicate: Callable[[Event], bool]) -> Event:
        """The next event that matches ``predicate`` (earlier ones are skipped)."""
        async for event in self.events():
            if predicate(event):
                return event
        raise AssertionError("unreachable")

    def transcript(self) -> list[tuple[str, str]]:
        """(role, text) of the conversation's messages so far, in order."""
        return [(m.role, m.content) for m in self.session.conversation.messages(1 << 30, lambda t: 1)
                if m.role in ("user", "assistant") and m.content]


async def converse(agent: Agent, source: AudioSource, sink: AudioSink, pipeline: Pipeline | None = None, *,
                   stack: EngineStack | None = None, on_event: Callable[[Event], None] | None = None,
                   realtime: bool = False, replies: int | None = None) -> list[tuple[str, str]]:
    """Play ``source`` into a conversation with ``agent``, the replies into ``sink``, until the
    source ends and the agent has answered (or, with ``replies``, after that many complete
    responses). ``realtime=True`` paces the source at real time (for a file; a microphone
    paces itself). Returns the conversation's (role, text) messages."""
    conv = Conversation(agent, pipeline, stack=stack, input_rate=source.sample_rate,
                        output_rate=sink.sample_rate, sink=sink)
    done = created = 0
    finished, settled = asyncio.Event(), asyncio.Event()
    settled.set()

    def watch(event: Event) -> None:
        nonlocal done, created
        if on_event is not None:
            on_event(event)
        kind = event.get("type")
        if kind in ("response.created", "input_audio_buffer.speech_started"):
            created += kind == "response.created"
            settled.clear()
        elif kind in ("conversation.item.input_audio_transcription.completed",
                      "conversation.item.input_audio_transcription.failed"):
            if not str(event.get("transcript", "")).strip() and done >= created:
                settled.set()  # a noise, not words: no reply follows
        elif kind == "response.done":
            done += 1
            if done >= created:
                settled.set()
            if replies is not None and done >= replies:
                finished.set()

    conv.listeners.append(watch)
    async with conv:
        async for chunk in source.chunks():
            conv.send_audio(chunk)
            if realtime:
                await asyncio.sleep(len(chunk) / 2 / source.sample_rate)
            if finished.is_set():
                break
        if replies is None:
            await conv.drain()  # every turn in the source is announced: settled then means answered
        await (finished.wait() if replies is not None else settled.wait())
        return conv.transcript()
