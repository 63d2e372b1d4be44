"""Personas: Character Card V2 (and V1) JSON → system instructions and a greeting.

A card is ``{"spec": "chara_card_v2", "spec_version": "2.0", "data": {...}}`` (V2) or the
same fields flat at the top level (V1). ``data.extensions`` is kept untouched; voxloop reads
its own settings from ``extensions.voxloop`` (``voice``, ``speed``, ``style``). Macros are
substituted as SillyTavern does: ``{{char}}``/``<BOT>`` → the character's name,
``{{user}}``/``<USER>`` → the user's name ("User" unless given), case-insensitively.
See docs/presets-and-personas.md.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from voxloop.dialogue.emotion import EmotionSettings
from voxloop.errors import InvalidRequest

__all__ = ["DEFAULT_USER", "Persona", "load_card", "loads_card", "parse_card", "substitute"]

DEFAULT_USER = "User"
_TEXT_FIELDS = ("description", "personality", "scenario", "first_mes", "mes_example", "creator_notes",
                "system_prompt", "post_history_instructions", "creator", "character_version")
_V1_FIELDS = ("name", "description", "personality", "scenario", "first_mes", "mes_example")
_CHAR = re.compile(r"\{\{\s*char\s*\}\}|<bot>", re.IGNORECASE)
_USER = re.compile(r"\{\{\s*user\s*\}\}|<user>", re.IGNORECASE)
_ORIGINAL = re.compile(r"\{\{\s*original\s*\}\}", re.IGNORECASE)
_START = re.compile(r"^\s*<start>\s*$", re.IGNORECASE | re.MULTILINE)


def substitute(text: str, char: str, user: str = DEFAULT_USER) -> str:
    """``{{char}}``/``<BOT>`` → ``char``, ``{{user}}``/``<USER>`` → ``user`` (any case)."""
    text = _CHAR.sub(lambda _: char, text)
    return _USER.sub(lambda _: user, text)


@dataclass(frozen=True, slots=True)
class Persona:
    """A character card's fields (V1 cards leave the V2-only ones empty)."""

    name: str
    description: str = ""
    personality: str = ""
    scenario: str = ""
    first_mes: str = ""
    mes_example: str = ""
    creator_notes: str = ""
    system_prompt: str = ""
    post_history_instructions: str = ""
    alternate_greetings: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    creator: str = ""
    character_version: str = ""
    extensions: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    spec: str = "chara_card_v2"  # or "v1" for a flat card

    # -- voxloop's own settings (extensions.voxloop) ---------------------------------------
    @property
    def _ours(self) -> dict[str, Any]:
        ours = self.extensions.get("voxloop")
        return ours if isinstance(ours, dict) else {}

    @property
    def voice(self) -> str | None:
        v = self._ours.get("voice")
        return v if isinstance(v, str) and v else None

    @property
    def speed(self) -> float | None:
        v = self._ours.get("speed")
        return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None

    @property
    def emotion(self) -> dict[str, Any] | None:
        """Its delivery per user emotion (``extensions.voxloop.emotion``: label -> {speed, noise_scale})."""
        v = self._ours.get("emotion")
        return v if isinstance(v, dict) and v else None

    @property
    def style(self) -> str | None:
        v = self._ours.get("style")
        return v if isinstance(v, str) and v.strip() else None

    # -- what the session uses -----------------------------------------------------------
    def default_prompt(self) -> str:
        """The template used when the card has no ``system_prompt`` (and for ``{{original}}``)."""
        lines = ["You are {{char}}, talking with {{user}} by voice. Stay in character."]
        if self.description.strip():
            lines.append(self.description.strip())
        if self.personality.strip():
            lines.append(f"{{{{char}}}}'s personality: {self.personality.strip()}")
        if self.scenario.strip():
            lines.append(f"Scenario: {self.scenario.strip()}")
        return "\n".join(lines)

    def instructions(self, user: str = DEFAULT_USER) -> str:
        """System instructions: ``system_prompt`` (its ``{{original}}`` is the default template)
        or the default template; then the style, the example dialogue (``<START>`` lines
        dropped) and ``post_history_instructions``; macros substituted."""
        if self.system_prompt.strip():
            base = _ORIGINAL.sub(lambda _: self.default_prompt(), self.system_prompt.strip())
        else:
            base = self.default_prompt()
        parts = [base]
        if self.style:
            parts.append(f"Speaking style: {self.style.strip()}")
        example = _START.sub("", self.mes_example).strip()
        if example:
            parts.append(f"Example of how {{{{char}}}} talks:\n{example}")
        if self.post_history_instructions.strip():
            parts.append(self.post_history_instructions.strip())
        return substitute("\n\n".join(parts), self.name, user)

    def greeting(self, user: str = DEFAULT_USER) -> str | None:
        """``first_mes`` with macros substituted; ``None`` when the card has none."""
        text = substitute(self.first_mes, self.name, user).strip()
        return text or None


def _fail(source: str, message: str) -> InvalidRequest:
    return InvalidRequest(f"{source}: {message}", param="persona", code="invalid_persona")


def _text(d: dict[str, Any], key: str, source: str, where: str) -> str:
    v = d.get(key, "")
    if v is None:
        return ""
    if not isinstance(v, str):
        raise _fail(source, f"'{where}{key}' must be a string, got {type(v).__name__}")
    return v


def _strings(d: dict[str, Any], key: str, source: str, where: str) -> tuple[str, ...]:
    v = d.get(key) or []
    if not isinstance(v, list) or not all(isinstance(s, str) for s in v):
        raise _fail(source, f"'{where}{key}' must be a list of strings")
    return tuple(v)


def parse_card(card: Any, source: str = "persona card") -> Persona:
    """A card object (already parsed JSON) → :class:`Persona`; ``InvalidRequest`` naming the
    field for anything else."""
    if not isinstance(card, dict):
        raise _fail(source, f"a character card must be a JSON object, got {type(card).__name__}")
    if "spec" in card or "data" in card:
        spec = card.get("spec")
        if spec != "chara_card_v2":
            raise _fail(source, f"'spec' must be 'chara_card_v2' (or a flat V1 card), got {spec!r}")
        version = card.get("spec_version", "2.0")
        if not isinstance(version, str) or not version.startswith("2"):
            raise _fail(source, f"'spec_version' must be '2.0', got {version!r}")
        data = card.get("data")
        if not isinstance(data, dict):
            raise _fail(source, "'data' must be an object")
        where, kind = "data.", "chara_card_v2"
    else:
        data, where, kind = card, "", "v1"
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise _fail(source, f"'{where}name' is required (a non-empty string)")
    values = {k: _text(data, k, source, where) for k in _TEXT_FIELDS if kind != "v1" or k in _V1_FIELDS}
    extensions = data.get("extensions") or {}
    if not isinstance(extensions, dict):
        raise _fail(source, f"'{where}extensions' must be an object")
    ours = extensions.get("voxloop", {})
    if not isinstance(ours, dict):
        raise _fail(source, f"'{where}extensions.voxloop' must be an object")
    if "voice" in ours and not isinstance(ours["voice"], str):
        raise _fail(source, f"'{where}extensions.voxloop.voice' must be a string")
    if "style" in ours and not isinstance(ours["style"], str):
        raise _fail(source, f"'{where}extensions.voxloop.style' must be a string")
    speed = ours.get("speed")
    if speed is not None and (isinstance(speed, bool) or not isinstance(speed, int | float)
                              or not 0.25 <= speed <= 4.0):
        raise _fail(source, f"'{where}extensions.voxloop.speed' must be a number between 0.25 and 4.0")
    if "emotion" in ours:
        try:
            EmotionSettings().with_deliveries(ours["emotion"])
        except (ValueError, TypeError, AttributeError) as e:
            raise _fail(source, f"'{where}extensions.voxloop.emotion': {e}") from e
    return Persona(
        name=name.strip(), **values,
        alternate_greetings=_strings(data, "alternate_greetings", source, where) if kind != "v1" else (),
        tags=_strings(data, "tags", source, where) if kind != "v1" else (),
        extensions=extensions, spec=kind,
    )


def loads_card(text: str, source: str = "persona card") -> Persona:
    try:
        card = json.loads(text)
    except json.JSONDecodeError as e:
        raise _fail(source, f"not valid JSON: {e.msg} (line {e.lineno}, column {e.colno})") from e
    return parse_card(card, source)


def load_card(path: str | Path) -> Persona:
    """Read a card file (``.json``); errors name the file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError as e:
        raise _fail(str(path), "no such persona card") from e
    except UnicodeDecodeError as e:
        raise _fail(str(path), "not UTF-8 text (PNG cards are not supported: export the JSON)") from e
    except OSError as e:
        raise _fail(str(path), f"cannot read persona card ({e.strerror or e})") from e
    return loads_card(text, str(path))
