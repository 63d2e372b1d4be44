"""Session events → OpenAI Realtime (GA) server events: JSON-ready dicts, base64 PCM16 audio.

One typed session event may become several wire events (a ``ResponseDone`` closes the audio,
the transcript, the content part and the item before ``response.done``), in the order the
OpenAI API sends them. docs/realtime-protocol.md is the spec.
"""

from __future__ import annotations

import base64
from typing import Any

from voxloop.audio.pcm import float_to_pcm16
from voxloop.session import events as ev
from voxloop.session.events import new_id

__all__ = ["error_event", "event", "function_call_item", "message_item", "render"]

Wire = dict[str, Any]


def event(type_: str, **fields: Any) -> Wire:
    return {"type": type_, "event_id": new_id("event"), **fields}


def error_event(message: str, *, code: str = "invalid_request_error", type_: str = "invalid_request_error",
                param: str | None = None, event_id: str | None = None) -> Wire:
    return event("error", error={"type": type_, "code": code, "message": message, "param": param,
                                 "event_id": event_id})


def message_item(item_id: str, role: str, text: str, *, status: str = "completed", audio: bool = False) -> Wire:
    if role == "assistant":
        part = {"type": "output_audio" if audio else "output_text", ("transcript" if audio else "text"): text}
    else:
        part = {"type": "input_audio" if audio else "input_text", ("transcript" if audio else "text"): text}
    return {"id": item_id, "object": "realtime.item", "type": "message", "role": role, "status": status,
            "content": [part]}


def function_call_item(item_id: str, call_id: str, name: str, arguments: str, *, status: str = "completed") -> Wire:
    return {"id": item_id, "object": "realtime.item", "type": "function_call", "status": status,
            "call_id": call_id, "name": name, "arguments": arguments}


def _item(m: ev.Message) -> Wire:
    if m.type == "function_call":
        return function_call_item(m.id, m.call_id, m.name, m.arguments, status=m.status)
    if m.type == "function_call_output":
        return {"id": m.id, "object": "realtime.item", "type": "function_call_output", "status": m.status,
                "call_id": m.call_id, "output": m.text}
    return message_item(m.id, m.role, m.text, status=m.status, audio=m.audio)


def _message_status(r: ev.ResponseInfo) -> str:
    return "completed" if r.status == "completed" or not r.message_open else "incomplete"


def response_object(r: ev.ResponseInfo, *, with_output: bool) -> Wire:
    output: list[Wire] = []
    if with_output:
        if r.message:
            output.append(message_item(r.item_id, "assistant", r.text, status=_message_status(r), audio=r.audio))
        output += [_item(c) for c in r.calls]
    details: Wire | None = None
    if r.status == "cancelled":
        details = {"type": "cancelled", "reason": "turn_detected"}
    elif r.status == "failed":
        details = {"type": "failed", "error": {"type": "server_error", "code": r.error_code or "internal_error",
                                               "message": r.error_message or "the response failed"}}
    return {
        "id": r.id, "object": "realtime.response", "status": r.status, "status_details": details,
        "output": output, "output_modalities": ["audio" if r.audio else "text"],
        "conversation_id": "conv_default",
        "usage": {"output_tokens": r.output_tokens, "input_tokens": 0, "total_tokens": r.output_tokens},
    }


def _part_ids(r: ev.ResponseInfo) -> Wire:
    return {"response_id": r.id, "item_id": r.item_id, "output_index": 0, "content_index": 0}


def _message_started(r: ev.ResponseInfo) -> list[Wire]:
    item = message_item(r.item_id, "assistant", "", status="in_progress", audio=r.audio)
    part = {"type": "audio", "transcript": ""} if r.audio else {"type": "text", "text": ""}
    return [
        event("response.output_item.added", response_id=r.id, output_index=0, item=item),
        event("conversation.item.added", item=item, previous_item_id=r.previous_item_id),
        event("response.content_part.added", **_part_ids(r), part=part),
    ]


def _message_done(r: ev.ResponseInfo) -> list[Wire]:
    ids = _part_ids(r)
    out: list[Wire] = []
    if r.audio:
        out += [event("response.output_audio.done", **ids),
                event("response.output_audio_transcript.done", **ids, transcript=r.text)]
    else:
        out.append(event("response.output_text.done", **ids, text=r.text))
    if r.status == "cancelled" and r.audio:
        out.append(event("conversation.item.truncated", item_id=r.item_id, content_index=0,
                         audio_end_ms=r.heard_ms or 0))
    part = {"type": "audio", "transcript": r.text} if r.audio else {"type": "text", "text": r.text}
    item = message_item(r.item_id, "assistant", r.text, status=_message_status(r), audio=r.audio)
    return [*out, event("response.content_part.done", **ids, part=part),
            event("response.output_item.done", response_id=r.id, output_index=0, item=item),
            event("conversation.item.done", item=item)]


def _response_done(r: ev.ResponseInfo) -> list[Wire]:
    closing = _message_done(r) if r.message and r.message_open else []
    return [*closing, event("response.done", response=response_object(r, with_output=True))]


def render(e: ev.SessionEvent, *, extensions: bool = False) -> list[Wire]:
    """The wire events for one session event (``extensions``: also ``voxloop.*`` events)."""
    match e:
        case ev.AudioOut():
            pcm = float_to_pcm16(e.samples)
            return [event("response.output_audio.delta", response_id=e.response_id, item_id=e.item_id,
                          output_index=0, content_index=0, delta=base64.b64encode(pcm).decode("ascii"))]
        case ev.TextDelta():
            kind = "response.output_audio_transcript.delta" if e.audio else "response.output_text.delta"
            return [event(kind, response_id=e.response_id, item_id=e.item_id, output_index=0, content_index=0,
                          delta=e.delta)]
        case ev.ResponseCreated():
            return [event("response.created", response=response_object(e.response, with_output=False))]
        case ev.MessageStarted():
            return _message_started(e.response)
        case ev.MessageDone():
            return _message_done(e.response)
        case ev.FunctionCallAdded():
            item = _item(e.item)
            return [event("response.output_item.added", response_id=e.response_id, output_index=e.output_index,
                          item=item),
                    event("conversation.item.added", item=item, previous_item_id=e.previous_item_id)]
        case ev.FunctionCallArguments():
            return [event("response.function_call_arguments.delta", response_id=e.response_id, item_id=e.item_id,
                          output_index=e.output_index, call_id=e.call_id, delta=e.delta)]
        case ev.FunctionCallDone():
            item = _item(e.item)
            return [event("response.function_call_arguments.done", response_id=e.response_id, item_id=e.item.id,
                          output_index=e.output_index, call_id=e.item.call_id, name=e.item.name,
                          arguments=e.item.arguments),
                    event("response.output_item.done", response_id=e.response_id, output_index=e.output_index,
                          item=item),
                    event("conversation.item.done", item=item)]
        case ev.ResponseDone():
            return _response_done(e.response)
        case ev.SpeechStarted():
            return [event("input_audio_buffer.speech_started", audio_start_ms=e.audio_start_ms, item_id=e.item_id)]
        case ev.SpeechStopped():
            return [event("input_audio_buffer.speech_stopped", audio_end_ms=e.audio_end_ms, item_id=e.item_id)]
        case ev.InputCommitted():
            return [event("input_audio_buffer.committed", item_id=e.item_id, previous_item_id=e.previous_item_id)]
        case ev.InputCleared():
            return [event("input_audio_buffer.cleared")]
        case ev.InputTimeout():
            return [event("input_audio_buffer.timeout_triggered", item_id=e.item_id,
                          audio_start_ms=e.audio_start_ms, audio_end_ms=e.audio_end_ms)]
        case ev.ItemAdded():
            return [event("conversation.item.added", item=_item(e.item), previous_item_id=e.previous_item_id)]
        case ev.ItemDone():
            return [event("conversation.item.done", item=_item(e.item))]
        case ev.ItemRetrieved():
            return [event("conversation.item.retrieved", item=_item(e.item))]
        case ev.ItemDeleted():
            return [event("conversation.item.deleted", item_id=e.item_id)]
        case ev.ItemTruncated():
            return [event("conversation.item.truncated", item_id=e.item_id, content_index=0,
                          audio_end_ms=e.audio_end_ms)]
        case ev.TranscriptDelta():
            return [event("conversation.item.input_audio_transcription.delta", item_id=e.item_id, content_index=0,
                          delta=e.delta)]
        case ev.TranscriptCompleted():
            return [event("conversation.item.input_audio_transcription.completed", item_id=e.item_id,
                          content_index=0, transcript=e.transcript,
                          usage={"type": "duration", "seconds": round(e.seconds, 2)})]
        case ev.TranscriptFailed():
            return [event("conversation.item.input_audio_transcription.failed", item_id=e.item_id, content_index=0,
                          error={"type": "transcription_error", "code": e.code, "message": e.message})]
        case ev.Error():
            return [error_event(e.message, code=e.code, param=e.param, event_id=e.event_id,
                                type_="server_error" if e.server else "invalid_request_error")]
        case ev.OutputCleared():
            return [event("output_audio_buffer.cleared", response_id=e.response_id)]
        case ev.Metrics():
            return [event("voxloop.metrics", response_id=e.response_id, metrics=e.metrics)] if extensions else []
        case ev.UserEmotion():
            return [event("voxloop.input_emotion", item_id=e.item_id, emotion=e.emotion, voice=e.voice)] \
                if extensions else []
    raise TypeError(f"no wire form for {type(e).__name__}")
