"""voxloop's public Python API: a thin, stable face over the engine, session and server
layers (docs/python-api.md). Everything here is re-exported from ``voxloop``."""

from voxloop.api.agent import Agent
from voxloop.api.contract import ContractError, check_engine
from voxloop.api.conversation import AudioSink, AudioSource, Conversation, converse
from voxloop.api.devices import BufferSink, BufferSource
from voxloop.api.pipeline import Pipeline
from voxloop.api.schema import ToolDefinitionError
from voxloop.api.serve import create_app, serve
from voxloop.api.tool import Tool, tool

__all__ = ["Agent", "AudioSink", "AudioSource", "BufferSink", "BufferSource", "ContractError", "Conversation", "check_engine", "converse",
           "Pipeline", "Tool", "ToolDefinitionError", "create_app", "serve", "tool"]
