"""Builders for server events (OpenAI Realtime GA shapes). Plain dicts, ready for JSON."""

from __future__ import annotations

import itertools
from typing import Any

__all__ = ["error_event", "event", "new_id"]

_counter = itertools.count(1)

Event = dict[str, Any]


def new_id(prefix: str) -> str:
    return f"{prefix}_{next(_counter):08d}"


def event(type_: str, **fields: Any) -> Event:
    return {"type": type_, "event_id": new_id("event"), **fields}


def error_event(message: str, *, code: str = "invalid_request_error", type_: str = "invalid_request_error",
                param: str | None = None, event_id: str | None = None) -> Event:
    return event("error", error={"type": type_, "code": code, "message": message, "param": param,
                                 "event_id": event_id})


def message_item(item_id: str, role: str, text: str, *, status: str = "completed", audio: bool = False) -> Event:
    if role == "assistant":
        part = {"type": "output_audio" if audio else "output_text", ("transcript" if audio else "text"): text}
    else:
        part = {"type": "input_audio" if audio else "input_text", ("transcript" if audio else "text"): text}
    return {"id": item_id, "object": "realtime.item", "type": "message", "role": role, "status": status,
            "content": [part]}
