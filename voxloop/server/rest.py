"""OpenAI-compatible REST endpoints (filled in by the dictation work)."""

from __future__ import annotations

from starlette.routing import BaseRoute

__all__ = ["routes"]


def routes() -> list[BaseRoute]:
    return []
