"""``voxloop serve --print-config``: the effective settings as a TOML file one can reuse.

Secrets print as ``"***"``; unset optional keys are left out; a comment says where a value
came from (when not the default) and what ``0 = auto`` resolves to on this machine.
"""

from __future__ import annotations

import json

from voxloop.cli.settings import KEYS, STAGES, Settings, Value
from voxloop.engines.tuning import available_cores, knobs

__all__ = ["render_toml", "toml_value"]


def toml_value(value: Value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(value, ensure_ascii=False)  # a valid TOML basic string


def _auto_notes(settings: Settings, cores: int) -> dict[str, str]:
    notes: dict[str, str] = {}
    if not settings.threads:
        notes["threads"] = "auto (per engine, below)"
    for stage in STAGES:
        resolved = settings.engine_options(stage, cores)
        k = knobs(stage, settings.stages[stage].backend, settings.server.max_sessions)
        for leaf, kw in (("workers", k.workers), ("threads", k.threads)):
            name = f"{stage}.{leaf}"
            if name not in settings.values or settings.values[name]:
                continue
            if kw is None:
                notes[name] = "not used by this backend"
            else:
                notes[name] = f"auto: {resolved[kw]}" if kw in resolved else "auto: backend default"
    return notes


def render_toml(settings: Settings, cores: int | None = None) -> str:
    cores = cores or available_cores()
    notes = _auto_notes(settings, cores)
    lines = [f"# voxloop effective configuration ({cores} cores): defaults < config file < "
             "VOXLOOP_* environment < flags", ""]
    table = ""
    for key in KEYS:
        prefix, _, leaf = key.name.rpartition(".")
        if prefix != table:
            table = prefix
            lines += ["", f"[{table}]"]
        value = settings.values[key.name]
        if value is None:
            continue
        comments = [f"from {origin}" for origin in (settings.origins[key.name],) if origin != "default"]
        if key.name in notes:
            comments.append(notes[key.name])
        text = '"***"' if key.secret else toml_value(value)
        lines.append(f"{leaf} = {text}" + (f"  # {'; '.join(comments)}" if comments else ""))
    for tool in settings.server.server_tools:  # [[tools]]: the webhooks voxloop runs
        lines += ["", "[[tools]]", f"name = {toml_value(tool.spec.name)}",
                  f"description = {toml_value(tool.spec.description)}", f"url = {toml_value(tool.url)}",
                  f"timeout_s = {toml_value(tool.timeout_s)}"]
        lines += [f"{k} = {toml_value(v)}" for k, v in (("filler", tool.filler), ("error_message", tool.error_message))
                  if v]
        lines.append(f"parameters = {_inline(tool.spec.parameters)}")
    return "\n".join(lines) + "\n"


def _inline(value: object) -> str:
    """A JSON value as a TOML inline value (tables inline, on one line)."""
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {_inline(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(_inline(v) for v in value) + "]"
    if value is None:
        return '""'
    return toml_value(value)  # type: ignore[arg-type]
