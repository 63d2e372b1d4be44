"""API keys for ``openai:`` backends, resolved once in the CLI for every command.

A stage's key comes from, in order: its ``api_key`` (config file or ``VOXLOOP_<STAGE>_API_KEY``),
the variable its ``api_key_env`` names, or ``OPENAI_API_KEY``. Only ``openai:`` backends get
one: a local backend never sees it. The engine is told where the key came from (never the key)
so a 401/403 can say so.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from voxloop.cli.settings import ENV_PREFIX, SettingsError, StageSettings
from voxloop.engines.registry import DEFAULTS, parse_spec

__all__ = ["DEFAULT_KEY_ENV", "api_key_options", "stage_from_env"]

DEFAULT_KEY_ENV = "OPENAI_API_KEY"
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def stage_from_env(stage: str, spec: str | None, environ: Mapping[str, str]) -> StageSettings:
    """A stage's key settings from ``VOXLOOP_<STAGE>_API_KEY[_ENV]`` (commands without a config)."""
    prefix = f"{ENV_PREFIX}{stage.upper()}_API_KEY"
    return StageSettings(backend=spec or DEFAULTS[stage], api_key=environ.get(prefix) or None,
                         api_key_env=environ.get(f"{prefix}_ENV") or None, api_key_origin=f"${prefix}")


def api_key_options(stage: str, settings: StageSettings, environ: Mapping[str, str]) -> dict[str, Any]:
    """``api_key`` and ``api_key_source`` keywords for an ``openai:`` backend; ``{}`` otherwise."""
    if parse_spec(settings.backend)[0] != "openai":
        return {}
    if settings.api_key:
        origin = settings.api_key_origin
        source = f"the key from {origin}" if origin.startswith("$") else f"{stage}.api_key from {origin}"
        return {"api_key": settings.api_key, "api_key_source": source}
    env = settings.api_key_env or DEFAULT_KEY_ENV
    if not _ENV_NAME.fullmatch(env):
        raise SettingsError(f"'{stage}.api_key_env' must name an environment variable, got {env!r}")
    key = environ.get(env)
    if key:
        return {"api_key": key, "api_key_source": f"the key from ${env}"}
    if settings.api_key_env:  # asked for a variable that is not there: a mistake, say so now
        raise SettingsError(f"'{stage}.api_key_env' names ${env}, which is not set")
    return {"api_key_source": f"set {DEFAULT_KEY_ENV} or {stage}.api_key_env"}
