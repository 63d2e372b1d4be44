"""A scene — a preset, a persona, or both — applied to a :class:`SessionConfig`.

The fields a scene sets are recomputed from the server's base config each time the scene
changes, so switching presets never leaves the previous one's settings behind; fields a
client sends in ``session.update`` are applied afterwards and win (precedence:
session.update > preset/persona > server defaults; docs/presets-and-personas.md).
"""

from __future__ import annotations

from dataclasses import replace

from voxloop.dialogue.persona import DEFAULT_USER, Persona
from voxloop.dialogue.preset import Preset
from voxloop.session.config import SessionConfig, TurnDetection

__all__ = ["TURN_KEYS", "apply_scene", "scene_instructions"]

# the TurnDetection fields a preset may set ([turn_detection] in its file)
TURN_KEYS = ("silence_duration_ms", "prefix_padding_ms", "threshold", "idle_timeout_ms", "speculative_ms",
             "min_speech_ms")


def scene_instructions(preset: Preset | None, persona: Persona | None, base: str,
                       user: str = DEFAULT_USER) -> str:
    """Preset instructions, then the persona's, then the preset's safety lines (last: they
    must not be diluted by a character). Without either, ``base`` (the server's)."""
    if preset is None and persona is None:
        return base
    parts = [preset.instructions.strip() if preset else "", persona.instructions(user) if persona else "",
             preset.safety_text() if preset else ""]
    return "\n\n".join(p for p in parts if p)


def _turn(current: TurnDetection | None, base: TurnDetection | None, preset: Preset | None) -> TurnDetection | None:
    if current is None or current.semantic:
        return current  # push-to-talk or semantic_vad: the client's choice, untouched
    reset = {k: getattr(base or TurnDetection(), k) for k in TURN_KEYS}
    ours = dict(preset.turn_detection or {}) if preset else {}
    ints = {k: int(v) for k, v in ours.items() if k != "threshold"}
    floats = {k: float(v) for k, v in ours.items() if k == "threshold"}
    return replace(current, **{**reset, **ints, **floats})


def apply_scene(cfg: SessionConfig, base: SessionConfig, preset: Preset | None,
                persona: Persona | None) -> SessionConfig:
    """``cfg`` with the scene's fields set from ``base`` (the server's defaults), the preset and
    the persona. The persona's voice, speed and greeting win over the preset's."""
    greeting = (persona.greeting() if persona else None) or (preset.greeting if preset else None)
    voice = (persona.voice if persona else None) or (preset.voice if preset else None) or base.voice
    speed = (persona.speed if persona else None) or (preset.speed if preset else None) or base.speed
    deliveries = {**((preset.emotion or {}) if preset else {}), **((persona.emotion or {}) if persona else {})}
    return replace(
        cfg, preset=preset, persona=persona, greeting=greeting, voice=voice, speed=speed,
        instructions=scene_instructions(preset, persona, base.instructions),
        max_output_tokens=(preset.max_output_tokens if preset else None) or base.max_output_tokens,
        temperature=preset.temperature if preset and preset.temperature is not None else base.temperature,
        turn_detection=_turn(cfg.turn_detection, base.turn_detection, preset),
        emotion=base.emotion.with_deliveries(deliveries) if deliveries else base.emotion,
        server_tools=(*base.server_tools, *(t for t in (preset.tools if preset else ())
                                             if all(b.spec.name != t.spec.name for b in base.server_tools))),
    )
