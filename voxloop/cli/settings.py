"""``voxloop serve``'s settings: defaults < config file < environment < flags.

Every key of the TOML file (``docs/configuration.md``) is described once in :data:`KEYS`, with
its type, default, flag and ``VOXLOOP_*`` variable. :func:`load_settings` merges the four
layers and validates everything (unknown keys, types, ranges, backend names, settings a
backend does not take) before anything is built; a mistake is one :class:`SettingsError`
naming the file, variable or flag and the key.
"""

from __future__ import annotations

import argparse
import difflib
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from voxloop.cli.memory_keys import memory_keys, memory_server_fields
from voxloop.cli.security_keys import security_keys, security_server_fields
from voxloop.dialogue.tools import ServerTool, parse_server_tool
from voxloop.engines.llm.weights import WEIGHTS as LLM_WEIGHTS
from voxloop.engines.registry import BACKENDS, DEFAULTS, parse_spec
from voxloop.engines.tts.cache import TTSCacheSettings
from voxloop.engines.tuning import TuningError, engine_options
from voxloop.errors import InvalidRequest
from voxloop.server.config import ServerConfig

__all__ = ["KEYS", "STAGES", "Key", "Settings", "SettingsError", "StageSettings",
           "add_serve_arguments", "flag_values", "load_settings"]

ENV_PREFIX = "VOXLOOP_"
STAGES = ("vad", "asr", "llm", "tts", "turn")
REMOTE_STAGES = ("asr", "llm", "tts")  # stages with an openai: backend (API keys)
Value = str | int | float | bool
_TYPE_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "a boolean"}


class SettingsError(InvalidRequest):
    """A bad config file, variable or flag; the message names where and which key."""


@dataclass(frozen=True, slots=True)
class Key:
    name: str  # dotted path in the file: "limits.max_sessions"
    kind: type[Value]
    default: Value | None
    help: str
    flag: str | None = None  # "--max-sessions"; None: file and environment only
    secret: bool = False
    low: float | None = None  # inclusive range for numbers
    high: float | None = None
    repeat: bool = False  # the flag may be given several times (values joined with commas)

    @property
    def env(self) -> str:
        """``limits.max_sessions`` -> ``VOXLOOP_MAX_SESSIONS``; ``llm.backend`` -> ``VOXLOOP_LLM``."""
        table, _, leaf = self.name.rpartition(".")
        parts = [p for p in (table if table != "limits" else "", leaf if leaf != "backend" else "") if p]
        return ENV_PREFIX + "_".join(parts).upper()


def _keys() -> tuple[Key, ...]:
    base = ServerConfig()
    keys = [
        Key("host", str, "127.0.0.1", "address to listen on", "--host"),
        Key("port", int, 8000, "port to listen on", "--port", low=1, high=65535),
        Key("instructions", str, base.instructions, "default system prompt", "--instructions"),
        Key("vocabulary", str, None, "domain vocabulary file, one term per line: biases recognition "
            "and corrects near-miss spellings (relative to the config file)", "--vocabulary"),
        Key("persona", str, None, "persona: a Character Card V2 JSON file; its first_mes greets, its "
            "fields make the instructions (relative to the config file)", "--persona"),
        Key("personas", str, None, "directory of character cards (*.json) that sessions may pick by name "
            "(session.voxloop.persona)", "--personas"),
        Key("preset", str, None, "scene preset: a built-in name (voxloop presets) or a .toml file",
            "--preset"),
        Key("voices", str, None, "named TTS voices, NAME=SPEC,... (a Piper .onnx path or espeak:VOICE; "
            "in the file, a [voices] table); 'joe' is the embedded voice", "--voices"),
        Key("prewarm", bool, True, "load and warm every model before accepting connections", "--prewarm"),
        Key("threads", int, 0, "default threads per worker for every engine (0 = auto)", "--threads", low=0),
        Key("ws_compression", bool, True, "compress realtime WebSocket messages (permessage-deflate) for "
            "clients that offer it; off saves CPU, costs bandwidth", "--ws-compression"),
    ]
    keys.extend(security_keys(Key))  # (top-level keys come before any table)
    limit_help = {
        "max_sessions": "concurrent sessions (WebSocket connections)",
        "max_message_bytes": "largest WebSocket message",
        "max_upload_bytes": "largest uploaded audio file",
        "max_upload_seconds": "longest uploaded audio, in seconds",
        "max_speech_chars": "longest text for /v1/audio/speech",
        "history_tokens": "conversation history sent to the LLM, in tokens",
        "idle_timeout_s": "a realtime socket with no audio and no events for this long is closed, in seconds",
        "max_session_seconds": "longest realtime session, in seconds",
        "max_sessions_per_ip": "concurrent sessions from one client address",
        "max_sessions_per_key": "concurrent sessions per API key",
        "send_timeout_s": "a client that reads nothing for this long is dropped, in seconds",
        "max_send_backlog": "events queued for a client that does not read before it is dropped",
        "max_json_depth": "deepest nesting of objects and arrays in a client's JSON",
        "rest_jobs": "REST transcriptions and speech synthesised at once (live sessions go first)",
        "asr_batch": "ASR decodes of different streams run as one batch, at most (1 = each alone)",
    }
    for f in fields(ServerConfig):
        if f.name in limit_help:
            default = getattr(base, f.name)
            keys.append(Key(f"limits.{f.name}", type(default), default, limit_help[f.name],
                            "--" + f.name.replace("_", "-"), low=1))
    helps = {
        "vad": "VAD backend: silero, silero:PATH.onnx, energy, pysilero",
        "asr": "ASR backend: whisper, whisper:base|small|PATH, openai:URL",
        "llm": "LLM backend: llama, llama:PATH.gguf, openai:URL[?model=NAME]",
        "tts": "TTS backend: piper, piper:VOICE.onnx, espeak, openai:URL",
        "turn": "semantic end-of-turn model: smart-turn, smart-turn:PATH.onnx",
    }
    for stage in STAGES:
        keys.append(Key(f"{stage}.backend", str, DEFAULTS[stage], helps[stage], f"--{stage}"))
        keys.append(Key(f"{stage}.workers", int, 0, f"{stage} workers: parallel inferences (0 = auto)",
                        f"--{stage}-workers", low=0, high=256))
        if stage in REMOTE_STAGES:
            keys.append(Key(f"{stage}.threads", int, 0, f"threads per {stage} worker (0 = auto)",
                            f"--{stage}-threads", low=0, high=1024))
            keys.append(Key(f"{stage}.api_key", str, None, "API key for an openai: backend", secret=True))
            keys.append(Key(f"{stage}.api_key_env", str, None,
                            "environment variable holding the API key (default OPENAI_API_KEY)"))
        if stage == "llm":
            keys.append(Key("llm.parallel", int, 0, "replies decoded together in one batched llama.cpp "
                            "context (0 = auto: the embedded model min(max_sessions, 4 x cores), a GGUF "
                            "by path 1; 1 = separate instances)", "--llm-parallel", low=0, high=256))
            keys.append(Key("llm.weights", str, "auto", "llama backend: run the GGUF as-is, or a local q8_0 copy "
                            "(made once in the cache directory; prompts read ~2x faster than Q4_1); auto = "
                            "the embedded model as q8_0, a GGUF by path as it is", "--llm-weights"))
            keys.append(Key("llm.prompt_cache_mb", int, 256, "llama backend, batched: host memory (MiB) for "
                            "conversations' KV caches while their sequence serves another, so a returning "
                            "conversation reads only its new message (0 = off)", "--llm-prompt-cache-mb",
                            low=0, high=1 << 20))
        if stage == "tts":  # the speech cache
            keys += _tts_cache_keys()
    keys.extend(memory_keys(Key))
    return tuple(keys)


def _tts_cache_keys() -> list[Key]:
    cache = TTSCacheSettings()
    return [
        Key("tts.cache_mb", int, cache.memory_bytes >> 20, "speech cache in memory, in MB (0 = no speech cache)",
            "--tts-cache-mb", low=0, high=1 << 20),
        Key("tts.cache_disk_mb", int, cache.disk_bytes >> 20, "speech cache on disk, in MB (0 = memory only)",
            "--tts-cache-disk-mb", low=0, high=1 << 30),
        Key("tts.cache_dir", str, None, "directory of the speech cache on disk (default: tts-cache in the "
            "user's data directory)", "--tts-cache-dir"),
        Key("tts.cache_max_chars", int, cache.max_chars, "longest text the speech cache keeps", low=1, high=100000),
    ]


KEYS: tuple[Key, ...] = _keys()
_BY_NAME = {k.name: k for k in KEYS}
_TABLES = {"limits", "memory", *STAGES}


@dataclass(frozen=True, slots=True)
class StageSettings:
    backend: str
    workers: int = 0
    threads: int = 0
    parallel: int = 0
    api_key: str | None = None
    api_key_env: str | None = None
    api_key_origin: str = ""  # where api_key came from, for error messages


@dataclass(frozen=True, slots=True)
class Settings:
    """The merged, validated settings; ``values``/``origins`` per dotted key (for printing)."""

    host: str
    port: int
    vocabulary: str | None
    prewarm: bool
    threads: int
    server: ServerConfig
    stages: Mapping[str, StageSettings]
    values: Mapping[str, Value | None]
    origins: Mapping[str, str]  # "default", the config file's path, "$VOXLOOP_X" or "--flag"

    def engine_options(self, stage: str, cores: int | None = None) -> dict[str, Any]:
        """Workers/threads keywords for ``stage``'s engine, auto values resolved for ``cores``."""
        s = self.stages[stage]
        return engine_options(stage, s.backend, workers=s.workers, threads=s.threads,
                              default_threads=self.threads, cores=cores,
                              max_sessions=self.server.max_sessions, parallel=s.parallel)


# --------------------------------------------------------------------------- flags


def add_serve_arguments(p: argparse.ArgumentParser) -> None:
    """``serve``'s flags: ``--config``, ``--print-config`` and one per key (default: not given)."""
    p.add_argument("--config", metavar="FILE", default=None,
                   help=f"TOML configuration file (env {ENV_PREFIX}CONFIG); see docs/configuration.md")
    p.add_argument("--print-config", action="store_true",
                   help="print the effective configuration as TOML and exit (loads no model)")
    groups = {"": p.add_argument_group("server"), "limits": p.add_argument_group("limits"),
              "memory": p.add_argument_group("conversations and memory (docs/memory.md)")}
    engines = p.add_argument_group("engines (0 = auto: scaled to this machine's cores)")
    for key in KEYS:
        if key.flag is None:
            continue
        group = groups.get(key.name.rpartition(".")[0], engines)
        text = f"{key.help} (env {key.env}; file: {key.name})"
        if key.repeat:
            group.add_argument(key.flag, dest=key.name, default=None, action="append", metavar="VALUE", help=text)
        elif key.kind is bool:
            group.add_argument(key.flag, dest=key.name, default=None, action=argparse.BooleanOptionalAction,
                               help=text)
        else:
            metavar = ("SPEC" if key.name.endswith(".backend") else "N" if key.kind in (int, float)
                       else {"instructions": "TEXT", "vocabulary": "FILE", "persona": "CARD.json",
                             "personas": "DIR", "preset": "NAME|FILE", "voices": "NAME=SPEC,...",
                             "memory.store": "URL"}.get(key.name))
            group.add_argument(key.flag, dest=key.name, default=None, type=key.kind, metavar=metavar, help=text)
    groups["memory"].add_argument("--no-store", dest="memory.store", action="store_const", const="memory",
                            help="keep conversations and memory in this process only: nothing written to disk "
                            "(same as --store memory)")


def flag_values(args: argparse.Namespace) -> dict[str, Value | None]:
    given = vars(args)
    values = {k.name: given.get(k.name) for k in KEYS if k.flag is not None}
    return {name: ",".join(v) if isinstance(v, list) else v for name, v in values.items()}


# --------------------------------------------------------------------------- loading


def _toml_type(value: object) -> str:
    return {bool: "boolean", int: "integer", float: "float", str: "string", dict: "table",
            list: "array"}.get(type(value), type(value).__name__)


def _check_type(key: Key, value: object, where: str) -> Value:
    ok = isinstance(value, key.kind) and not (key.kind is not bool and isinstance(value, bool))
    if key.kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not ok:
        raise SettingsError(f"{where}: '{key.name}' must be {_TYPE_NAMES[key.kind]}, got {_toml_type(value)}")
    return value  # type: ignore[return-value]


def _unknown(name: str, where: str) -> SettingsError:
    """Names the key; suggests a near miss from the same table (``llm.wokers`` -> ``llm.workers``)."""
    table, _, leaf = name.rpartition(".")
    known = [k.rpartition(".")[2] for k in _BY_NAME if k.rpartition(".")[0] == table]
    close = difflib.get_close_matches(leaf, known + ([] if table else sorted(_TABLES)), n=1, cutoff=0.7)
    hint = f" (did you mean '{table + '.' if table else ''}{close[0]}'?)" if close else ""
    return SettingsError(f"{where}: unknown key '{name}'{hint}")


def _read_toml(path: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as f:
            doc = tomllib.load(f)
    except FileNotFoundError as e:
        raise SettingsError(f"{path}: no such config file") from e
    except OSError as e:
        raise SettingsError(f"{path}: cannot read config file ({e.strerror or e})") from e
    except tomllib.TOMLDecodeError as e:
        raise SettingsError(f"{path}: invalid TOML: {e}") from e
    except UnicodeDecodeError as e:
        raise SettingsError(f"{path}: invalid TOML: not UTF-8 text") from e
    return doc


def read_config_tools(path: str) -> tuple[ServerTool, ...]:
    """The file's ``[[tools]]``: webhooks voxloop runs for the model (docs/configuration.md)."""
    tools = _read_toml(path).get("tools", [])
    if not isinstance(tools, list):
        raise SettingsError(f"{path}: 'tools' must be an array of tables ([[tools]]), got {_toml_type(tools)}")
    out = []
    for i, decl in enumerate(tools):
        try:
            out.append(parse_server_tool(decl, f"tools[{i}]"))
        except InvalidRequest as e:
            raise SettingsError(f"{path}: {e.message}") from e
    names = [t.spec.name for t in out]
    if dup := next((n for n in names if names.count(n) > 1), None):
        raise SettingsError(f"{path}: tool {dup!r} is declared twice")
    return tuple(out)


def read_config_file(path: str) -> dict[str, Value]:
    """The file's keys, flattened (``{"limits.max_sessions": 4}``) and type-checked."""
    doc = _read_toml(path)
    flat: dict[str, object] = {}
    for name, value in doc.items():
        if name == "tools":  # [[tools]]: read_config_tools
            continue
        if name == "voices" and isinstance(value, dict):  # [voices] name = "spec": the flag's form
            flat[name] = ",".join(f"{k}={_relative(path, v) if isinstance(v, str) else v}"
                                  for k, v in value.items())
        elif name in STAGES and isinstance(value, str):
            flat[f"{name}.backend"] = value  # llm = "openai:..." is short for [llm] backend = ...
        elif name in _TABLES:
            if not isinstance(value, dict):
                raise SettingsError(f"{path}: '{name}' must be a table, got {_toml_type(value)}")
            flat.update({f"{name}.{sub}": v for sub, v in value.items()})
        else:
            flat[name] = value
    out: dict[str, Value] = {}
    for name, value in flat.items():
        if name not in _BY_NAME:
            raise _unknown(name, path)
        out[name] = _check_type(_BY_NAME[name], value, path)
    for name in ("vocabulary", "persona", "personas", "preset"):  # relative to the file, not the cwd
        value = out.get(name)
        if isinstance(value, str) and (name != "preset" or value.endswith(".toml")):
            out[name] = str(Path(path).parent / Path(value).expanduser())
    return out


def _relative(path: str, spec: str) -> str:
    """A ``[voices]`` entry's .onnx path, relative to the config file."""
    head, sep, tail = spec.rpartition(":")
    target = tail if sep and head == "piper" else spec if not sep else ""
    if target.endswith(".onnx") and not Path(target).expanduser().is_absolute():
        return (f"{head}:" if sep else "") + str(Path(path).parent / target)
    return spec


def _from_env(key: Key, raw: str) -> Value:
    if key.kind is str:
        return raw
    if key.kind is bool:
        low = raw.strip().lower()
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off"):
            return False
        raise SettingsError(f"${key.env}: must be a boolean (true/false), got {raw!r}")
    try:
        return key.kind(raw.strip())
    except ValueError as e:
        raise SettingsError(f"${key.env}: must be {_TYPE_NAMES[key.kind]}, got {raw!r}") from e


def load_settings(
    *,
    config: str | None = None,
    environ: Mapping[str, str] | None = None,
    flags: Mapping[str, Value | None] | None = None,
) -> Settings:
    """Merge defaults < ``config`` file < ``environ`` (``VOXLOOP_*``) < ``flags``; validate."""
    environ = environ or {}
    values: dict[str, Value | None] = {k.name: k.default for k in KEYS}
    origins = dict.fromkeys(values, "default")
    config = config or environ.get(f"{ENV_PREFIX}CONFIG") or None
    tools: tuple[ServerTool, ...] = ()
    if config:
        for name, value in read_config_file(config).items():
            values[name], origins[name] = value, config
        tools = read_config_tools(config)
    for key in KEYS:
        raw = environ.get(key.env)
        if raw:
            values[key.name], origins[key.name] = _from_env(key, raw), f"${key.env}"
    for name, flag_value in (flags or {}).items():
        if flag_value is not None:
            values[name], origins[name] = flag_value, _BY_NAME[name].flag or name
    return _build(values, origins, tools)


def _validate(values: Mapping[str, Value | None], origins: Mapping[str, str]) -> None:
    from voxloop.engines.http import parse_base_url  # imports httpx: not on every CLI start

    for key in KEYS:
        value = values[key.name]
        if isinstance(value, int | float) and not isinstance(value, bool):
            low, high = key.low, key.high
            if (low is not None and value < low) or (high is not None and value > high):
                span = f"between {low:g} and {high:g}" if high is not None else f">= {low:g}"
                raise SettingsError(f"{origins[key.name]}: '{key.name}' must be {span}, got {value}")
        elif isinstance(value, str) and not value.strip() and key.name != "instructions":
            raise SettingsError(f"{origins[key.name]}: '{key.name}' must not be empty")
    for stage in STAGES:
        name = f"{stage}.backend"
        spec = str(values[name])
        backend, arg = parse_spec(spec)
        try:
            if backend not in BACKENDS[stage]:
                raise InvalidRequest(f"unknown {stage} backend {backend!r}; valid: {', '.join(BACKENDS[stage])}")
            if backend == "openai":
                parse_base_url(arg, f"openai {stage}")
        except InvalidRequest as e:
            raise SettingsError(f"{origins[name]}: '{name}': {e.message}") from e
    if values.get("voices"):
        from voxloop.engines.tts.voices import parse_voices

        try:
            parse_voices(str(values["voices"]))
        except InvalidRequest as e:
            raise SettingsError(f"{origins['voices']}: {e.message}") from e


def _build(values: dict[str, Value | None], origins: dict[str, str], tools: tuple[ServerTool, ...] = ()) -> Settings:
    _validate(values, origins)

    def get(name: str) -> Any:  # the values are type-checked: the dataclasses check the rest
        return values.get(name)

    server = ServerConfig(
        instructions=get("instructions"), server_tools=tools, ws_compression=get("ws_compression"), store=get("memory.store") or "memory",
        **{f.name: get(f"limits.{f.name}") for f in fields(ServerConfig) if f"limits.{f.name}" in values},
        **memory_server_fields(get, lambda name: origins[name]),
        tts_cache=TTSCacheSettings(memory_bytes=get("tts.cache_mb") << 20, disk_bytes=get("tts.cache_disk_mb") << 20,
                                   directory=get("tts.cache_dir"), max_chars=get("tts.cache_max_chars")),
        **security_server_fields(get),
    )
    if get("llm.weights") not in LLM_WEIGHTS:
        raise SettingsError(f"{origins.get('llm.weights', 'default')}: 'llm.weights' must be one of "
                            f"{', '.join(LLM_WEIGHTS)}, got {get('llm.weights')!r}")
    stages = {
        stage: StageSettings(
            backend=get(f"{stage}.backend"),
            workers=get(f"{stage}.workers"),
            threads=get(f"{stage}.threads") or 0,
            parallel=get(f"{stage}.parallel") or 0,
            api_key=get(f"{stage}.api_key"),
            api_key_env=get(f"{stage}.api_key_env"),
            api_key_origin=origins.get(f"{stage}.api_key", ""),
        )
        for stage in STAGES
    }
    settings = Settings(host=get("host"), port=get("port"), vocabulary=get("vocabulary"), prewarm=get("prewarm"),
                        threads=get("threads"), server=server, stages=stages, values=values, origins=origins)
    for stage in STAGES:  # explicit workers/threads the backend has no use for
        try:
            settings.engine_options(stage, cores=1)
        except TuningError as e:
            name = f"{stage}.{e.param}"
            raise SettingsError(f"{origins[name]}: '{name}': {e.message}") from e
    return settings
