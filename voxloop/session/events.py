"""Typed, transport-neutral session events, and the output a session writes them to.

The session says *what happened* (speech started, a reply's audio, a response ended with what
the user heard…); a transport renders it for its wire and paces it — the OpenAI Realtime
WebSocket renders these as JSON events with base64 audio (``voxloop.server.wire``). Observers
(metrics, recorders) can consume the same events.

Two classes of events: *control* events (everything not bound to a reply) overtake queued
audio; *reply* events (:class:`ReplyEvent`) leave in order with the reply's audio.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from voxloop.audio.pcm import Float32Array

__all__ = [
    "AudioOut",
    "Error",
    "FunctionCallAdded",
    "FunctionCallArguments",
    "FunctionCallDone",
    "InputCleared",
    "InputCommitted",
    "InputTimeout",
    "ItemAdded",
    "ItemDeleted",
    "ItemDone",
    "ItemRetrieved",
    "ItemTruncated",
    "Message",
    "MessageDone",
    "MessageStarted",
    "Metrics",
    "Output",
    "OutputCleared",
    "ReplyEvent",
    "ResponseCreated",
    "ResponseDone",
    "ResponseInfo",
    "SessionEvent",
    "SpeechStarted",
    "SpeechStopped",
    "TextDelta",
    "TranscriptCompleted",
    "TranscriptDelta",
    "TranscriptFailed",
    "UserEmotion",
    "new_id",
]

Role = Literal["user", "assistant", "system"]
Status = Literal["in_progress", "completed", "incomplete"]
Kind = Literal["message", "function_call", "function_call_output"]


def new_id(prefix: str, nbytes: int = 10) -> str:
    """A random id (``item_3f9c…``): unguessable, and unique across restarts and server
    instances, so items restored from the store never collide with new ones."""
    return f"{prefix}_{secrets.token_hex(nbytes)}"


@dataclass(frozen=True, slots=True)
class Message:
    """A snapshot of a conversation item as it is when the event is made."""

    id: str
    role: Role
    text: str
    status: Status = "completed"
    audio: bool = False  # spoken (input audio / output audio) rather than typed text
    type: Kind = "message"
    call_id: str = ""  # function_call / function_call_output
    name: str = ""  # function_call: the function
    arguments: str = ""  # function_call: JSON text (a function_call_output's output is ``text``)


# ----------------------------------------------------------------------- control events


@dataclass(frozen=True, slots=True)
class SpeechStarted:
    item_id: str
    audio_start_ms: int


@dataclass(frozen=True, slots=True)
class SpeechStopped:
    item_id: str
    audio_end_ms: int


@dataclass(frozen=True, slots=True)
class InputCommitted:
    item_id: str
    previous_item_id: str | None


@dataclass(frozen=True, slots=True)
class InputCleared:
    pass


@dataclass(frozen=True, slots=True)
class InputTimeout:
    """No speech for ``idle_timeout_ms`` since the last reply played."""

    item_id: str
    audio_start_ms: int
    audio_end_ms: int


@dataclass(frozen=True, slots=True)
class ItemAdded:
    item: Message
    previous_item_id: str | None


@dataclass(frozen=True, slots=True)
class ItemDone:
    item: Message


@dataclass(frozen=True, slots=True)
class ItemRetrieved:
    item: Message


@dataclass(frozen=True, slots=True)
class ItemDeleted:
    item_id: str


@dataclass(frozen=True, slots=True)
class ItemTruncated:
    item_id: str
    audio_end_ms: int


@dataclass(frozen=True, slots=True)
class TranscriptDelta:
    """Live partial text of a user turn (append-only)."""

    item_id: str
    delta: str


@dataclass(frozen=True, slots=True)
class TranscriptCompleted:
    item_id: str
    transcript: str
    seconds: float


@dataclass(frozen=True, slots=True)
class TranscriptFailed:
    item_id: str
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class Error:
    message: str
    code: str
    param: str | None = None
    server: bool = False  # our fault (server_error), not the client's (invalid_request_error)
    event_id: str | None = None  # the client event that caused it


@dataclass(frozen=True, slots=True)
class OutputCleared:
    """The listener must drop any audio of this response it still buffers (barge-in, cancel)."""

    response_id: str


@dataclass(frozen=True, slots=True)
class Metrics:
    """Per-reply latencies (a voxloop extension; transports send it only when asked to)."""

    response_id: str
    metrics: dict[str, Any] = field(hash=False)


@dataclass(frozen=True, slots=True)
class UserEmotion:
    """The emotion estimated for a user turn (a voxloop extension, like :class:`Metrics`):
    ``emotion`` as ``voxloop.dialogue.emotion.Emotion.as_dict``, ``voice`` the prosody
    features (or ``None`` for a turn without audio)."""

    item_id: str
    emotion: dict[str, Any] = field(hash=False)
    voice: dict[str, float | None] | None = field(default=None, hash=False)


# ----------------------------------------------------------------------- reply events


@dataclass(frozen=True, slots=True)
class ResponseInfo:
    """One response as it stands: what it said (or what was heard of it) and how it ended."""

    id: str
    item_id: str
    audio: bool
    status: Literal["in_progress", "completed", "cancelled", "failed"] = "in_progress"
    text: str = ""
    previous_item_id: str | None = None
    output_tokens: int = 0
    error_code: str | None = None
    error_message: str | None = None
    heard_ms: int | None = None  # cancelled: the audio the listener had played
    message: bool = True  # the response has a message item (announced by MessageStarted)
    message_open: bool = True  # ... not yet closed by MessageDone: ResponseDone closes it
    calls: tuple[Message, ...] = ()  # its function_call items the listener got, in order

    @property
    def first_call_index(self) -> int:
        return 1 if self.message else 0


@dataclass(frozen=True, slots=True)
class ResponseCreated:
    response: ResponseInfo

    @property
    def response_id(self) -> str:
        return self.response.id


@dataclass(frozen=True, slots=True)
class MessageStarted:
    """The response's message item begins (before its first text or audio)."""

    response: ResponseInfo

    @property
    def response_id(self) -> str:
        return self.response.id


@dataclass(frozen=True, slots=True)
class MessageDone:
    """The response's message item is complete (function calls follow it)."""

    response: ResponseInfo

    @property
    def response_id(self) -> str:
        return self.response.id


@dataclass(frozen=True, slots=True)
class FunctionCallAdded:
    response_id: str
    output_index: int
    item: Message  # type function_call, status in_progress, no arguments yet
    previous_item_id: str | None = None


@dataclass(frozen=True, slots=True)
class FunctionCallArguments:
    response_id: str
    output_index: int
    item_id: str
    call_id: str
    delta: str


@dataclass(frozen=True, slots=True)
class FunctionCallDone:
    response_id: str
    output_index: int
    item: Message  # complete, with its arguments


@dataclass(frozen=True, slots=True)
class AudioOut:
    response_id: str
    item_id: str
    samples: Float32Array = field(compare=False, hash=False)
    sample_rate: int

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.sample_rate


@dataclass(frozen=True, slots=True)
class TextDelta:
    """Reply text: the transcript of audio about to play (``audio``) or a text-only reply."""

    response_id: str
    item_id: str
    delta: str
    audio: bool


@dataclass(frozen=True, slots=True)
class ResponseDone:
    """Exactly one per :class:`ResponseCreated`: completed, cancelled (with what was heard) or
    failed (with the reason)."""

    response: ResponseInfo

    @property
    def response_id(self) -> str:
        return self.response.id


ReplyEvent = (ResponseCreated | MessageStarted | AudioOut | TextDelta | MessageDone | FunctionCallAdded
              | FunctionCallArguments | FunctionCallDone | ResponseDone)
SessionEvent = (
    SpeechStarted | SpeechStopped | InputCommitted | InputCleared | InputTimeout | ItemAdded | ItemDone
    | ItemRetrieved | ItemDeleted | ItemTruncated | TranscriptDelta | TranscriptCompleted | TranscriptFailed
    | Error | OutputCleared | Metrics | UserEmotion | ReplyEvent
)


class Output(Protocol):
    """Where a session's events go: implemented by a transport (it renders and paces them).

    Control events overtake queued reply events; reply events leave in order, audio paced so
    the listener holds little unplayed audio. ``play_until`` is the monotonic time at which the
    listener will have played everything sent so far: a barge-in keeps only what was heard.
    """

    play_until: float
    on_media_sent: Callable[[ReplyEvent, float], None] | None

    def control(self, event: SessionEvent) -> None: ...

    def media(self, event: ReplyEvent) -> None: ...

    def drop_media(self, response_id: str | None = None) -> int: ...

    def has_media(self, response_id: str) -> bool: ...

    @property
    def client_playing(self) -> bool: ...

    def reset_playback(self) -> None: ...
