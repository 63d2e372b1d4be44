"""The server's personas and presets, and ``session.voxloop.persona`` / ``.preset`` handling.

A :class:`Scenes` catalogue is built by the CLI at start (personas loaded from cards, the
built-in presets plus any preset file given) with the server's default persona and preset.
:meth:`Scenes.update` applies a ``session.update``'s scene part; the realtime endpoint then
applies the rest of the update on top (explicit fields win).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from voxloop.dialogue.persona import Persona, parse_card
from voxloop.dialogue.preset import Preset
from voxloop.errors import InvalidRequest
from voxloop.server.config import ServerConfig
from voxloop.session.config import SessionConfig
from voxloop.session.scene import apply_scene

__all__ = ["Scenes", "base_session_config", "scene_echo"]


@dataclass
class Scenes:
    personas: dict[str, Persona] = field(default_factory=dict)
    presets: dict[str, Preset] = field(default_factory=dict)
    persona: Persona | None = None  # the server's default (--persona)
    preset: Preset | None = None  # the server's default (--preset)
    _vocabularies: dict[str, Any] = field(default_factory=dict)

    def initial(self, base: SessionConfig) -> SessionConfig:
        """A new session's config: the server's base with its default scene."""
        if self.persona is None and self.preset is None:
            return base
        return apply_scene(base, base, self.preset, self.persona)

    def _persona(self, value: Any) -> Persona | None:
        if value is None:
            return None
        if isinstance(value, dict):
            return parse_card(value, "session.voxloop.persona")
        if isinstance(value, str):
            found = self.personas.get(value) or next(
                (p for name, p in self.personas.items() if name.lower() == value.lower()), None)
            if found is None:
                known = ", ".join(sorted(self.personas)) or "none loaded"
                raise InvalidRequest(f"unknown persona {value!r} (loaded: {known})",
                                     param="session.voxloop.persona", code="unknown_persona")
            return found
        raise InvalidRequest("'session.voxloop.persona' must be a character card object, a persona name or null",
                             param="session.voxloop.persona")

    def _preset(self, value: Any) -> Preset | None:
        if value is None:
            return None
        if not isinstance(value, str) or value not in self.presets:
            raise InvalidRequest(f"unknown preset {value!r}; valid: {', '.join(sorted(self.presets))}",
                                 param="session.voxloop.preset", code="unknown_preset")
        return self.presets[value]

    def update(self, cfg: SessionConfig, base: SessionConfig, session: Any) -> SessionConfig:
        """Apply ``session.voxloop.persona`` / ``.preset`` (when present) to ``cfg``; ``base`` is
        the server's config for a new session before any scene."""
        ext = session.get("voxloop") if isinstance(session, dict) else None
        if not isinstance(ext, dict) or ("persona" not in ext and "preset" not in ext):
            return cfg
        persona = self._persona(ext["persona"]) if "persona" in ext else cfg.persona
        preset = self._preset(ext["preset"]) if "preset" in ext else cfg.preset
        return apply_scene(cfg, base, preset, persona)

    def vocabulary(self, preset: Preset | None, server: Any) -> Any:
        """The server's vocabulary merged with the preset's terms (cached per preset)."""
        if preset is None or not preset.vocabulary:
            return server
        if preset.name not in self._vocabularies:
            from voxloop.dialogue.vocabulary import Vocabulary

            self._vocabularies[preset.name] = (server.merged(preset.vocabulary) if server is not None
                                               else Vocabulary(preset.vocabulary))
        return self._vocabularies[preset.name]


def base_session_config(server: ServerConfig, transcription: bool) -> SessionConfig:
    """A new session's config from the server's settings, before any scene."""
    return SessionConfig(type="transcription" if transcription else "realtime",
                         instructions=server.instructions, history_tokens=server.history_tokens,
                         server_tools=server.server_tools)


def scene_echo(cfg: SessionConfig) -> dict[str, Any]:
    """What ``session.voxloop`` echoes of the scene: names, only when set."""
    out: dict[str, Any] = {}
    if cfg.persona is not None:
        out["persona"] = cfg.persona.name
    if cfg.preset is not None:
        out["preset"] = cfg.preset.name
    return out
