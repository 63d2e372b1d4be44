"""``voxloop.serve``: the server ``voxloop serve`` runs, with an :class:`Agent` and a
:class:`Pipeline` built in code; :func:`create_app` for embedding it in an ASGI host."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from voxloop.api.agent import Agent
from voxloop.api.pipeline import Pipeline

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from voxloop.server.config import ServerConfig
    from voxloop.server.scenes import Scenes

__all__ = ["create_app", "serve", "server_config"]


def server_config(agent: Agent, config: ServerConfig | None = None) -> ServerConfig:
    """The server's settings with the agent's instructions and tools."""
    from voxloop.server.config import ServerConfig

    base = config or ServerConfig()
    names = {t.name for t in agent.tools}
    others = tuple(t for t in base.server_tools if t.spec.name not in names)
    return dataclasses.replace(base, instructions=agent.base_instructions if agent.instructions else base.instructions,
                               server_tools=(*others, *agent.server_tools()))


def scenes(agent: Agent) -> Scenes:
    """The built-in presets and the agent's persona and preset, as sessions' defaults."""
    from voxloop.dialogue.preset import builtin_presets
    from voxloop.server.scenes import Scenes

    preset = agent.scene_preset()
    presets = {**builtin_presets(), **({preset.name: preset} if preset else {})}
    personas = {agent.persona.name: agent.persona} if agent.persona else {}
    return Scenes(personas=personas, presets=presets, persona=agent.persona, preset=preset)


def create_app(agent: Agent, pipeline: Pipeline | None = None, *, config: ServerConfig | None = None,
               prewarm: bool = True) -> Starlette:
    """The ASGI app (realtime WebSocket, REST, browser client) serving ``agent``."""
    from voxloop.server.app import create_app as make

    app = make((pipeline or Pipeline()).stack(), server_config(agent, config), prewarm=prewarm)
    app.state.voxloop.scenes = scenes(agent)
    return app


def serve(agent: Agent, pipeline: Pipeline | None = None, *, host: str = "127.0.0.1", port: int = 8000,
          config: ServerConfig | None = None, prewarm: bool = True, vocabulary: Any = None) -> int:
    """Serve ``agent`` until interrupted (Ctrl-C): the same server as ``voxloop serve``, at
    ``ws://host:port/v1/realtime`` (OpenAI Realtime protocol), REST under ``/v1`` and the
    browser client at ``/``. ``config`` holds limits and storage (``ServerConfig``)."""
    from voxloop.server.run import serve as run

    pipeline = pipeline or Pipeline()
    return run(pipeline.specs, server_config(agent, config), host=host, port=port, prewarm=prewarm,
               vocabulary=vocabulary, scenes=scenes(agent), stack=pipeline.stack())
