"""``voxloop.Agent``: what a voice agent is — its instructions, Python tools, persona, preset
and voice — as the server's defaults for every session (clients may still change them)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from voxloop.api.schema import ToolDefinitionError
from voxloop.api.tool import Tool
from voxloop.dialogue.persona import Persona
from voxloop.dialogue.preset import Preset
from voxloop.dialogue.tools import ServerTool

__all__ = ["Agent"]

DEFAULT_INSTRUCTIONS = "You are a helpful voice assistant. Keep answers short, one or two sentences."


def _persona(value: Persona | str | Path | Mapping[str, Any] | None) -> Persona | None:
    if value is None or isinstance(value, Persona):
        return value
    from voxloop.dialogue.persona import load_card, parse_card

    if isinstance(value, Mapping):
        return parse_card(dict(value), "Agent(persona=...)")
    return load_card(value)


def _preset(value: Preset | str | Path | None) -> Preset | None:
    if value is None or isinstance(value, Preset):
        return value
    from voxloop.dialogue.preset import builtin_presets, load_preset

    presets = builtin_presets()
    if isinstance(value, str) and value in presets:
        return presets[value]
    if str(value).endswith(".toml"):
        return load_preset(value)
    raise ToolDefinitionError(f"unknown preset {value!r}; built-in: {', '.join(presets)} (or a .toml file)")


class Agent:
    """A voice agent defined in code.

    ``instructions`` is the system prompt (with a preset or persona, theirs come first and
    these are added); ``tools`` are ``@voxloop.tool`` functions the server runs; ``persona`` a
    Character Card (a :class:`Persona`, a card's dict or a path to its JSON); ``preset`` a
    built-in preset's name, a preset file or a :class:`Preset`; ``voice`` a TTS voice name.
    Duplicate or invalid tools raise :class:`ToolDefinitionError` here.
    """

    def __init__(self, instructions: str | None = None, *, tools: Sequence[Tool[..., Any]] = (),
                 persona: Persona | str | Path | Mapping[str, Any] | None = None,
                 preset: Preset | str | Path | None = None, voice: str | None = None,
                 name: str = "agent") -> None:
        if instructions is not None and not isinstance(instructions, str):
            raise TypeError("instructions must be a string")
        for t in tools:
            if not isinstance(t, Tool):
                raise ToolDefinitionError(f"Agent tools must be @voxloop.tool functions, got {t!r}")
        names = [t.name for t in tools]
        if dup := next((n for n in names if names.count(n) > 1), None):
            raise ToolDefinitionError(f"Agent declares the tool {dup!r} twice")
        self.name = name
        self.instructions = instructions
        self.tools: tuple[Tool[..., Any], ...] = tuple(tools)
        self.persona = _persona(persona)
        self.preset = _preset(preset)
        self.voice = voice
        if self.preset is not None:
            clash = {t.spec.name for t in self.preset.tools} & set(names)
            if clash:
                raise ToolDefinitionError(f"the preset {self.preset.name!r} already has a tool {sorted(clash)[0]!r}")

    def __repr__(self) -> str:
        return f"Agent({self.name!r}, tools={[t.name for t in self.tools]})"

    def server_tools(self) -> tuple[ServerTool, ...]:
        return tuple(t.server_tool() for t in self.tools)

    @property
    def base_instructions(self) -> str:
        """The instructions a session starts with when no preset or persona is set."""
        return self.instructions if self.instructions else DEFAULT_INSTRUCTIONS

    def scene_preset(self) -> Preset | None:
        """The preset sessions start with: the agent's preset, with its own instructions and
        voice added; None when the agent has neither a preset nor a voice."""
        if self.preset is None:
            if self.voice is None and (self.persona is None or not self.instructions):
                return None  # the server's instructions (or the persona's) are the whole prompt
            return Preset(name=self.name, description="an Agent defined in code", voice=self.voice,
                          instructions=self.instructions or ("" if self.persona else self.base_instructions))
        extra = f"{self.preset.instructions.strip()}\n\n{self.instructions}" if self.instructions else None
        return replace(self.preset, instructions=extra or self.preset.instructions,
                       voice=self.voice or self.preset.voice)
