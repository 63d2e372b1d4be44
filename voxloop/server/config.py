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
    # access (docs/security.md): inbound API keys (none: no key is asked for), the web origins and
    # Host names served beyond the defaults ("*": any), the address the server listens on
    api_keys: tuple[str, ...] = ()
    allowed_origins: tuple[str, ...] = ()
    allowed_hosts: tuple[str, ...] = ()
    bind_host: str = "127.0.0.1"
    # limits that keep one client from taking the server (docs/security.md)
    idle_timeout_s: float = 600.0  # a socket with no audio and no events for this long is closed
    max_session_seconds: float = 4 * 3600.0
    max_sessions_per_ip: int = 8
    max_sessions_per_key: int = 16
    send_timeout_s: float = 20.0  # a client that reads nothing for this long is dropped
    max_send_backlog: int = 2000  # events queued for a client that does not read
    max_json_depth: int = 64
    # permessage-deflate on realtime WebSockets, when the client offers it: base64 audio shrinks by
    # about a quarter, at ~0.05 ms of CPU per message each way (~1 ms per second of conversation,
    # several % of a remote-inference front's CPU: bench/remote.py)
    ws_compression: bool = True
    rest_jobs: int = 1  # REST transcriptions and speech running at once (live sessions go first)
    asr_batch: int = 8  # decodes of different streams the ASR scheduler runs as one batch (1 = each alone)
