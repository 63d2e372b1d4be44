"""The ``[memory]`` table of the config file: where conversations and user facts are kept, and
how long conversations are summarised and resumed (docs/memory.md)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from voxloop.session.memory import MemorySettings

__all__ = ["MODES", "memory_keys", "memory_server_fields"]

MODES = ("auto", "rules", "llm", "off")


def memory_keys(key: Callable[..., Any]) -> list[Any]:
    """The keys (``key`` is :class:`voxloop.cli.settings.Key`)."""
    m = MemorySettings()
    return [
        key("memory.store", str, None, "where conversations and user facts are kept: sqlite:PATH, redis://HOST:PORT/DB "
            "or memory (nothing on disk; --no-store); default: a SQLite file in the user's data directory",
            "--store"),
        key("memory.resume_ttl_s", float, 86400.0, "a resume token expires this long after its conversation's last "
            "connection, in seconds", low=1),
        key("memory.anonymous_ttl_s", float, 86400.0, "a conversation without a user id is deleted this long after "
            "its last change, in seconds", low=1),
        key("memory.summary", str, m.summary, "rolling summaries of long conversations: auto (the model if remote, "
            "else rules), rules, llm, off"),
        key("memory.summary_after_turns", int, m.summary_after_turns, "user turns before older ones are summarised",
            low=2, high=1000),
        key("memory.keep_turns", int, m.keep_turns, "last user turns that always stay verbatim", low=1, high=100),
        key("memory.facts", str, m.facts, "long-term facts users state, with a user id: auto, rules, llm, off"),
        key("memory.facts_in_prompt", int, m.facts_in_prompt, "remembered facts put before a conversation", low=0,
            high=100),
    ]


def memory_server_fields(get: Callable[[str], Any], where: Callable[[str], str]) -> dict[str, Any]:
    """ServerConfig fields from the keys' values (``where`` names a key's origin for errors)."""
    from voxloop.cli.settings import SettingsError

    for name in ("memory.summary", "memory.facts"):
        if get(name) not in MODES:
            raise SettingsError(f"{where(name)}: '{name}' must be one of {', '.join(MODES)}, got {get(name)!r}")
    settings = MemorySettings(summary=get("memory.summary"), summary_after_turns=get("memory.summary_after_turns"),
                              keep_turns=get("memory.keep_turns"), facts=get("memory.facts"),
                              facts_in_prompt=get("memory.facts_in_prompt"))
    return {"memory": settings, "resume_ttl_s": get("memory.resume_ttl_s"),
            "anonymous_ttl_s": get("memory.anonymous_ttl_s")}


def store_url(value: str | None, environ: Mapping[str, str]) -> str:
    """The store to open: the configured one (checked), or the default SQLite file."""
    from voxloop.store.open import check_store_url, default_store_path

    if value:
        check_store_url(value)
        return value
    return f"sqlite:{default_store_path(environ)}"
