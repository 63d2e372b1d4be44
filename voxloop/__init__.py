"""voxloop: a self-hosted, real-time voice conversation and dictation engine.

The public Python API (docs/python-api.md)::

    import voxloop

    @voxloop.tool
    def lookup_order(order_id: str) -> dict[str, str]:
        \"\"\"Look up an order by its number.\"\"\"
        ...

    agent = voxloop.Agent("You are a shop's assistant.", tools=[lookup_order])
    voxloop.serve(agent, voxloop.Pipeline(llm="llama"), port=8000)

Names are imported on first use: ``import voxloop`` loads no model and no server.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from voxloop.errors import VoxloopError

if TYPE_CHECKING:
    from voxloop.api.agent import Agent
    from voxloop.api.contract import ContractError, check_engine
    from voxloop.api.conversation import AudioSink, AudioSource, Conversation, converse
    from voxloop.api.devices import BufferSink, BufferSource
    from voxloop.api.pipeline import Pipeline
    from voxloop.api.schema import ToolDefinitionError
    from voxloop.api.serve import create_app, serve
    from voxloop.api.tool import Tool, tool
    from voxloop.engines.base import ASREngine, LLMEngine, TTSEngine, VADEngine

__all__ = [
    "ASREngine",
    "Agent",
    "AudioSink",
    "AudioSource",
    "BufferSink",
    "BufferSource",
    "ContractError",
    "Conversation",
    "LLMEngine",
    "Pipeline",
    "TTSEngine",
    "Tool",
    "ToolDefinitionError",
    "VADEngine",
    "VoxloopError",
    "__version__",
    "check_engine",
    "converse",
    "create_app",
    "serve",
    "tool",
]
__version__ = "0.1.0"

_LAZY = {
    "Agent": "voxloop.api.agent",
    "ContractError": "voxloop.api.contract",
    "check_engine": "voxloop.api.contract",
    "Conversation": "voxloop.api.conversation",
    "converse": "voxloop.api.conversation",
    "AudioSource": "voxloop.api.conversation",
    "AudioSink": "voxloop.api.conversation",
    "BufferSink": "voxloop.api.devices",
    "BufferSource": "voxloop.api.devices",
    "Pipeline": "voxloop.api.pipeline",
    "Tool": "voxloop.api.tool",
    "tool": "voxloop.api.tool",
    "ToolDefinitionError": "voxloop.api.schema",
    "serve": "voxloop.api.serve",
    "create_app": "voxloop.api.serve",
    "ASREngine": "voxloop.engines.base",
    "LLMEngine": "voxloop.engines.base",
    "TTSEngine": "voxloop.engines.base",
    "VADEngine": "voxloop.engines.base",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'voxloop' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
