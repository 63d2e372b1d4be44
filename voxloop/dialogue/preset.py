"""Scene presets: TOML files bundling instructions, a greeting, turn-taking, vocabulary, tools,
voice and safety lines. The built-in ones live in ``voxloop/dialogue/presets/*.toml``; a file of
your own is loaded by path. Validation is strict: an unknown key or a wrong type is an
``InvalidRequest`` naming the key and the file. Format: docs/presets-and-personas.md.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from voxloop.dialogue.emotion import EmotionSettings
from voxloop.dialogue.tools import ServerTool, parse_server_tool
from voxloop.errors import InvalidRequest

__all__ = ["BUILTIN_DIR", "Preset", "builtin_presets", "load_preset", "parse_preset"]

BUILTIN_DIR = Path(__file__).parent / "presets"

# key -> (type, description of the type); nested tables are listed separately
_TOP: dict[str, tuple[type | tuple[type, ...], str]] = {
    "name": (str, "a string"), "description": (str, "a string"), "instructions": (str, "a string"),
    "greeting": (str, "a string"), "safety": (list, "a list of strings"),
    "max_output_tokens": (int, "an integer"), "temperature": ((int, float), "a number"),
    "voice": (str, "a string"), "speed": ((int, float), "a number"),
    "vocabulary": (list, "a list of strings"), "turn_detection": (dict, "a table"),
    "tools": (list, "an array of tables ([[tools]])"), "emotion": (dict, "a table"),
}
_TURN: dict[str, tuple[type | tuple[type, ...], str, float, float]] = {
    "silence_duration_ms": (int, "an integer", 100, 10000),
    "prefix_padding_ms": (int, "an integer", 0, 5000),
    "threshold": ((int, float), "a number", 0.01, 0.99),
    "idle_timeout_ms": (int, "an integer", 1000, 3_600_000),
    "speculative_ms": (int, "an integer", 0, 5000),
    "min_speech_ms": (int, "an integer", 32, 5000),
}


@dataclass(frozen=True, slots=True)
class Preset:
    name: str
    description: str
    instructions: str = ""
    greeting: str | None = None
    safety: tuple[str, ...] = ()
    max_output_tokens: int | None = None
    temperature: float | None = None
    voice: str | None = None
    speed: float | None = None
    vocabulary: tuple[str, ...] = ()
    turn_detection: Mapping[str, float] | None = None  # TurnDetection field -> value
    tools: tuple[ServerTool, ...] = ()
    # the reply's delivery per user emotion: label -> {speed, noise_scale} ([emotion] in the file)
    emotion: Mapping[str, Mapping[str, float]] | None = None
    source: str = ""  # the file it came from

    def safety_text(self) -> str:
        """The safety lines as one block for the instructions (empty without any)."""
        if not self.safety:
            return ""
        return "Safety rules (always follow):\n" + "\n".join(f"- {line}" for line in self.safety)

    def full_instructions(self) -> str:
        """The instructions, then the safety lines (always last, so they are not diluted)."""
        return "\n\n".join(p for p in (self.instructions.strip(), self.safety_text()) if p)


def _type_ok(value: Any, kind: type | tuple[type, ...]) -> bool:
    return isinstance(value, kind) and not (isinstance(value, bool) and kind is not bool)


def _check(table: Mapping[str, Any], spec: Mapping[str, tuple[Any, ...]], where: str, source: str) -> None:
    for key, value in table.items():
        if key not in spec:
            known = ", ".join(spec)
            raise InvalidRequest(f"{source}: unknown key '{where}{key}' (valid: {known})", param="preset")
        kind, desc = spec[key][0], spec[key][1]
        if not _type_ok(value, kind):
            raise InvalidRequest(f"{source}: '{where}{key}' must be {desc}", param="preset")


def _string_list(doc: Mapping[str, Any], key: str, source: str) -> tuple[str, ...]:
    value = doc.get(key, [])
    if not all(isinstance(v, str) and v.strip() for v in value):
        raise InvalidRequest(f"{source}: '{key}' must be a list of non-empty strings", param="preset")
    return tuple(v.strip() for v in value)


def _tool(t: Any, i: int, source: str) -> ServerTool:
    try:
        return parse_server_tool(t, f"tools[{i}]")
    except InvalidRequest as e:
        raise InvalidRequest(f"{source}: {e.message}", param="preset") from e


def parse_preset(doc: Mapping[str, Any], source: str) -> Preset:
    """A parsed TOML document → :class:`Preset` (strict)."""
    _check(doc, _TOP, "", source)
    for key in ("name", "description"):
        if not str(doc.get(key, "")).strip():
            raise InvalidRequest(f"{source}: '{key}' is required", param="preset")
    if "\n" in doc["description"].strip():
        raise InvalidRequest(f"{source}: 'description' must be one line", param="preset")
    turn = doc.get("turn_detection")
    if turn is not None:
        _check(turn, _TURN, "turn_detection.", source)
        for key, value in turn.items():
            lo, hi = _TURN[key][2], _TURN[key][3]
            if not lo <= value <= hi:
                raise InvalidRequest(f"{source}: 'turn_detection.{key}' must be between {lo:g} and {hi:g}",
                                     param="preset")
    tokens = doc.get("max_output_tokens")
    if tokens is not None and not 1 <= tokens <= 4096:
        raise InvalidRequest(f"{source}: 'max_output_tokens' must be between 1 and 4096", param="preset")
    speed = doc.get("speed")
    if speed is not None and not 0.25 <= speed <= 4.0:
        raise InvalidRequest(f"{source}: 'speed' must be between 0.25 and 4.0", param="preset")
    temperature = doc.get("temperature")
    if temperature is not None and not 0.0 <= temperature <= 2.0:
        raise InvalidRequest(f"{source}: 'temperature' must be between 0 and 2", param="preset")
    emotion = doc.get("emotion")
    if emotion is not None:
        try:
            EmotionSettings().with_deliveries(emotion)
        except (ValueError, TypeError, AttributeError) as e:
            raise InvalidRequest(f"{source}: 'emotion': {e}", param="preset") from e
    tools = tuple(_tool(t, i, source) for i, t in enumerate(doc.get("tools", [])))
    names = [t.spec.name for t in tools]
    if len(set(names)) != len(names):
        raise InvalidRequest(f"{source}: two tools have the same name", param="preset")
    return Preset(
        name=doc["name"].strip(), description=doc["description"].strip(),
        instructions=doc.get("instructions", "").strip(), greeting=doc.get("greeting", "").strip() or None,
        safety=_string_list(doc, "safety", source), max_output_tokens=tokens,
        temperature=None if temperature is None else float(temperature),
        voice=doc.get("voice") or None, speed=None if speed is None else float(speed),
        vocabulary=_string_list(doc, "vocabulary", source),
        turn_detection=dict(turn) if turn else None, tools=tools, emotion=emotion, source=source,
    )


def load_preset(path: str | Path) -> Preset:
    """Read one preset file; every error names the file."""
    source = str(path)
    try:
        with open(path, "rb") as f:
            doc = tomllib.load(f)
    except FileNotFoundError as e:
        raise InvalidRequest(f"{source}: no such preset file", param="preset") from e
    except OSError as e:
        raise InvalidRequest(f"{source}: cannot read preset ({e.strerror or e})", param="preset") from e
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise InvalidRequest(f"{source}: invalid TOML: {e}", param="preset") from e
    return parse_preset(doc, source)


def builtin_presets(directory: Path = BUILTIN_DIR) -> dict[str, Preset]:
    """The presets shipped with voxloop, by name (sorted)."""
    presets = [load_preset(p) for p in sorted(directory.glob("*.toml"))]
    return {p.name: p for p in sorted(presets, key=lambda p: p.name)}
