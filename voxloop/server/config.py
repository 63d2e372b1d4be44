"""Server-wide settings (built by the CLI; typed and frozen)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ServerConfig"]


@dataclass(frozen=True, slots=True)
class ServerConfig:
    instructions: str = (
        "You are voxloop, a friendly voice assistant. Answer in one or two short spoken sentences. "
        "Do not use lists, markdown or emojis."
    )
    max_sessions: int = 16
    max_message_bytes: int = 1 << 20  # one WebSocket message
    max_upload_bytes: int = 25 << 20  # one uploaded audio file (OpenAI's limit)
    max_upload_seconds: float = 2 * 3600.0
    max_speech_chars: int = 4096
    history_tokens: int = 1200
