"""Choosing a store from one string (``--store``), and where the default file lives."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from voxloop.errors import InvalidRequest
from voxloop.store.base import ConversationStore

if TYPE_CHECKING:
    from voxloop.store.presence import RedisPresence

__all__ = ["check_store_url", "default_data_dir", "default_store_path", "open_presence", "open_store"]

FORMS = "'sqlite:PATH', a PATH ending in .db/.sqlite/.sqlite3, 'redis://HOST[:PORT][/DB]' (or rediss://), 'memory'"
_SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")


def check_store_url(url: str) -> None:
    """Raise ``InvalidRequest`` for a string no store backend takes (nothing is opened)."""
    ok = ((url.startswith("sqlite:") and len(url) > len("sqlite:")) or url.startswith(("redis://", "rediss://"))
          or url == "memory" or (url.lower().endswith(_SQLITE_SUFFIXES) and "://" not in url))
    if not ok:
        raise InvalidRequest(f"unknown store {url!r}; valid: {FORMS}", param="store")


def open_store(url: str) -> ConversationStore:
    """The store ``url`` names (nothing is opened or connected before the first call)."""
    if url.startswith("sqlite:") and len(url) > len("sqlite:"):
        from voxloop.store.sqlite import SQLiteStore

        return SQLiteStore(url.removeprefix("sqlite:"))
    if url.startswith(("redis://", "rediss://")):
        from voxloop.store.redis import RedisStore

        return RedisStore(url)
    if url == "memory":
        from voxloop.store.memory import MemoryStore

        return MemoryStore()
    if url.lower().endswith(_SQLITE_SUFFIXES) and "://" not in url:
        from voxloop.store.sqlite import SQLiteStore

        return SQLiteStore(url)
    raise InvalidRequest(f"unknown store {url!r}; valid: {FORMS}", param="store")


def open_presence(url: str) -> RedisPresence | None:
    """Several instances share a Redis store: who holds each live conversation (else ``None``:
    one process knows by itself)."""
    if url.startswith(("redis://", "rediss://")):
        from voxloop.store.presence import RedisPresence

        return RedisPresence(url)
    return None


def default_store_path(env: Mapping[str, str]) -> Path:
    """``$XDG_DATA_HOME/voxloop/voxloop.db``, else ``~/.local/share/voxloop/voxloop.db``
    (``env`` is the environment: only the CLI reads the real one)."""
    return default_data_dir(env) / "voxloop.db"


def default_data_dir(env: Mapping[str, str]) -> Path:
    """``$XDG_DATA_HOME/voxloop``, else ``~/.local/share/voxloop``."""
    data = env.get("XDG_DATA_HOME", "")
    if data and Path(data).is_absolute():  # the XDG spec: a relative value is ignored
        return Path(data) / "voxloop"
    return _home(env) / ".local" / "share" / "voxloop"


def _home(env: Mapping[str, str]) -> Path:
    if env.get("HOME"):
        return Path(env["HOME"])
    import pwd  # POSIX; no HOME in the mapping: the account's home directory

    return Path(pwd.getpwuid(os.getuid()).pw_dir)
