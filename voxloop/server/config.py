"""Server-wide settings (built by the CLI; typed and frozen)."""

from __future__ import annotations

from dataclasses import dataclass, field

from voxloop.dialogue.tools import ServerTool
from voxloop.engines.tts.cache import TTSCacheSettings
from voxloop.session.memory import MemorySettings

__all__ = ["ServerConfig"]


@dataclass(frozen=True, slots=True)
class ServerConfig:
    # Small instruct models follow plain, short instructions best (SmolLM2-135M answered
    # "Est-Cambes-de-Lille" for France's capital when told it was "voxloop, a voice assistant").
    instructions: str = "You are a helpful voice assistant. Keep answers short, one or two sentences."
    max_sessions: int = 16
    max_message_bytes: int = 1 << 20  # one WebSocket message
    max_upload_bytes: int = 25 << 20  # one uploaded audio file (OpenAI's limit)
    max_upload_seconds: float = 2 * 3600.0
    max_speech_chars: int = 4096
    history_tokens: int = 1200
    server_tools: tuple[ServerTool, ...] = ()  # webhooks voxloop runs for the model ([[tools]] in the config)
    # conversations and memory (docs/memory.md): where they are kept ("memory": nowhere on disk;
    # the CLI's default is a SQLite file under the user's data directory), for how long
    store: str = "memory"
    resume_ttl_s: float = 24 * 3600.0  # a resume token lives this long after its last connection
    anonymous_ttl_s: float = 24 * 3600.0  # a conversation without a user id is deleted this long after its last change
    memory: MemorySettings = field(default_factory=MemorySettings)
    # the speech cache (memory LRU; a disk level once a directory is set: the CLI sets one)
    tts_cache: TTSCacheSettings = field(default_factory=TTSCacheSettings)
