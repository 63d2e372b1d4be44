"""``session.voxloop.emotion`` (wire) ↔ :class:`EmotionSettings` (docs/realtime-protocol.md).

``false`` turns emotion off (no estimate, no hint, no delivery change, no event); ``true`` the
defaults; an object sets ``hint`` / ``delivery`` (booleans), ``min_confidence`` (0..1) and
``deliveries`` (label → ``{speed, noise_scale}``, merged over the default table).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from voxloop.dialogue.emotion import EmotionSettings
from voxloop.errors import InvalidRequest

__all__ = ["emotion_object", "parse_emotion"]

P = "session.voxloop.emotion"


def parse_emotion(value: Any, current: EmotionSettings) -> EmotionSettings:
    if isinstance(value, bool):
        return replace(current, enabled=value)
    if not isinstance(value, dict):
        raise InvalidRequest(f"'{P}' must be a boolean or an object", param=P)
    out = replace(current, enabled=True)
    for key in ("hint", "delivery", "enabled"):
        if key in value:
            if not isinstance(value[key], bool):
                raise InvalidRequest(f"'{P}.{key}' must be a boolean", param=f"{P}.{key}")
            out = replace(out, **{key: value[key]})
    if "min_confidence" in value:
        v = value["min_confidence"]
        if isinstance(v, bool) or not isinstance(v, int | float) or not 0 <= v <= 1:
            raise InvalidRequest(f"'{P}.min_confidence' must be a number between 0 and 1",
                                 param=f"{P}.min_confidence")
        out = replace(out, min_confidence=float(v))
    table = value.get("deliveries")
    if table is not None:
        if not isinstance(table, dict) or not all(isinstance(d, dict) for d in table.values()):
            raise InvalidRequest(f"'{P}.deliveries' must map labels to {{speed, noise_scale}}",
                                 param=f"{P}.deliveries")
        try:
            out = out.with_deliveries(table)
        except (ValueError, TypeError) as e:
            raise InvalidRequest(f"'{P}.deliveries': {e}", param=f"{P}.deliveries") from e
    return out


def emotion_object(s: EmotionSettings) -> dict[str, Any]:
    """``{"emotion": …}`` for the session object when the client changed the defaults, else ``{}``."""
    if s == EmotionSettings():
        return {}
    if not s.enabled:
        return {"emotion": False}
    table = {label: {"speed": d.speed, "noise_scale": d.noise_scale} for label, d in s.deliveries}
    return {"emotion": {"hint": s.hint, "delivery": s.delivery, "min_confidence": s.min_confidence,
                        "deliveries": table}}
