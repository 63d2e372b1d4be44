"""``voxloop serve``: settings -> engine specs, server config, vocabulary -> the server.

Everything is read and validated here, before a model loads or the app is built.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from voxloop.cli.cache import cache_dir
from voxloop.cli.keys import api_key_options
from voxloop.cli.memory_keys import store_url
from voxloop.cli.printconfig import render_toml
from voxloop.cli.scenes import load_scenes
from voxloop.cli.security_keys import check_exposure
from voxloop.cli.settings import STAGES, Settings, flag_values, load_settings
from voxloop.engines.registry import parse_spec
from voxloop.engines.stack import EngineSpecs
from voxloop.engines.tts.voices import parse_voices
from voxloop.engines.tuning import available_cores
from voxloop.errors import InvalidRequest

__all__ = ["cmd_serve", "engine_specs", "load_vocabulary"]

logger = logging.getLogger(__name__)


def engine_specs(settings: Settings, environ: Mapping[str, str], cores: int | None = None) -> EngineSpecs:
    """Each stage's spec and constructor keywords: workers/threads (auto resolved), API key."""
    options: dict[str, dict[str, Any]] = {}
    for stage in STAGES:
        opts = {**settings.engine_options(stage, cores),
                **api_key_options(stage, settings.stages[stage], environ), **_llama_options(stage, settings)}
        if opts:
            options[stage] = opts
    s = settings.stages
    voices = parse_voices(str(settings.values["voices"])) if settings.values.get("voices") else {}
    return EngineSpecs(vad=s["vad"].backend, asr=s["asr"].backend, llm=s["llm"].backend, tts=s["tts"].backend,
                       turn=s["turn"].backend, options=options, voices=tuple(voices.items()))


def _llama_options(stage: str, settings: Settings) -> dict[str, Any]:
    if stage != "llm" or parse_spec(settings.stages[stage].backend)[0] != "llama":
        return {}
    cache_mb = settings.values["llm.prompt_cache_mb"]  # every key has its default, validated by type
    assert isinstance(cache_mb, int)
    return {"weights": str(settings.values["llm.weights"]), "prompt_cache_mb": cache_mb}


def load_vocabulary(path: str | None) -> object | None:
    if not path:
        return None
    from voxloop.dialogue.vocabulary import Vocabulary

    try:
        return Vocabulary.from_file(path)
    except OSError as e:
        raise InvalidRequest(f"{path}: cannot read vocabulary ({e.strerror or e})") from e


def _describe(specs: EngineSpecs) -> str:
    parts = []
    for stage in STAGES:
        tuning = {k: v for k, v in specs.options.get(stage, {}).items() if not k.startswith("api_key")}
        extra = " ".join(f"{k}={v}" for k, v in tuning.items())
        parts.append(f"{stage}={getattr(specs, stage)}{' (' + extra + ')' if extra else ''}")
    return ", ".join(parts)


def cmd_serve(args: argparse.Namespace) -> int:
    settings = load_settings(config=args.config, environ=os.environ, flags=flag_values(args))
    if args.print_config:
        sys.stdout.write(render_toml(settings))
        return 0
    refusal = check_exposure(settings.host, settings.server.api_keys, bool(settings.values.get("open_access")))
    if refusal is not None:
        raise InvalidRequest(refusal, code="insecure_bind")
    specs = engine_specs(settings, os.environ)
    store = store_url(str(settings.values.get("memory.store") or ""), os.environ)
    # --no-store: nothing on disk, the speech cache's disk level included
    speech_dir = None if store == "memory" else str(cache_dir(settings, os.environ))
    server = replace(settings.server, store=store,
                     tts_cache=replace(settings.server.tts_cache, directory=speech_dir))
    vocabulary = load_vocabulary(settings.vocabulary)
    scenes = load_scenes(settings.values)  # cards and presets are checked before any model loads
    logger.info("%d cores; engines: %s", available_cores(), _describe(specs))
    from voxloop.server.run import serve

    logger.info("conversations and memory: %s; speech cache: %s", server.store, server.tts_cache.directory)
    return serve(specs, server, host=settings.host, port=settings.port,
                 prewarm=settings.prewarm, vocabulary=vocabulary, scenes=scenes)
