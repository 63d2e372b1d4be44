"""Personas and presets at the CLI: ``voxloop presets`` and what ``voxloop serve`` loads at start
(``--persona``, ``--personas``, ``--preset``; docs/presets-and-personas.md)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from voxloop.dialogue.persona import Persona, load_card
from voxloop.dialogue.preset import Preset, builtin_presets, load_preset
from voxloop.errors import InvalidRequest
from voxloop.server.scenes import Scenes

__all__ = ["cmd_presets", "load_scenes", "resolve_preset"]


def resolve_preset(value: str, presets: Mapping[str, Preset]) -> Preset:
    """A built-in preset's name, or a path to a preset file."""
    if value in presets:
        return presets[value]
    if value.endswith(".toml") or "/" in value:
        return load_preset(value)
    raise InvalidRequest(f"unknown preset {value!r}; built-in: {', '.join(presets)} (or a .toml file)")


def _personas_dir(directory: str) -> dict[str, Persona]:
    path = Path(directory)
    if not path.is_dir():
        raise InvalidRequest(f"{directory}: no such personas directory")
    out: dict[str, Persona] = {}
    for card in sorted(path.glob("*.json")):
        persona = load_card(card)
        if persona.name in out:
            raise InvalidRequest(f"{card}: a persona named {persona.name!r} is already loaded")
        out[persona.name] = persona
    return out


def load_scenes(values: Mapping[str, Any]) -> Scenes:
    """The server's catalogue from its settings (``persona``, ``personas``, ``preset``)."""
    presets = builtin_presets()
    personas = _personas_dir(values["personas"]) if values.get("personas") else {}
    persona = load_card(values["persona"]) if values.get("persona") else None
    if persona is not None:
        personas[persona.name] = persona
    preset = resolve_preset(values["preset"], presets) if values.get("preset") else None
    if preset is not None:
        presets = {**presets, preset.name: preset}
    return Scenes(personas=personas, presets=presets, persona=persona, preset=preset)


def _show(p: Preset) -> str:
    lines = [f"{p.name}: {p.description}", f"  file: {p.source}"]
    if p.greeting:
        lines.append(f"  greeting: {p.greeting}")
    for label, value in (("max_output_tokens", p.max_output_tokens), ("temperature", p.temperature),
                         ("voice", p.voice), ("speed", p.speed)):
        if value is not None:
            lines.append(f"  {label}: {value}")
    for key, value in (p.turn_detection or {}).items():
        lines.append(f"  turn_detection.{key}: {value}")
    if p.vocabulary:
        lines.append(f"  vocabulary: {len(p.vocabulary)} terms ({', '.join(p.vocabulary[:6])}, ...)")
    for tool in p.tools:
        lines.append(f"  tool: {tool.spec.name} -> {tool.url} (timeout {tool.timeout_s:g} s): {tool.spec.description}")
    lines += ["  instructions:", *[f"    {line}".rstrip() for line in p.full_instructions().splitlines()]]
    return "\n".join(lines) + "\n"


def cmd_presets(args: argparse.Namespace) -> int:
    presets = builtin_presets()
    if args.show:
        sys.stdout.write(_show(resolve_preset(args.show, presets)))
        return 0
    width = max(len(name) for name in presets)
    for name, preset in presets.items():
        print(f"{name:<{width}}  {preset.description}")
    return 0
