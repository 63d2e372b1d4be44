"""``voxloop serve`` settings: the file, the environment and flags merged and validated."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from voxloop.cli.printconfig import render_toml
from voxloop.cli.settings import KEYS, SettingsError, load_settings
from voxloop.engines.registry import DEFAULTS
from voxloop.server.config import ServerConfig

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "voxloop.example.toml"


def write(tmp_path: Path, text: str, name: str = "voxloop.toml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def error(tmp_path: Path, text: str, **kwargs: object) -> str:
    path = write(tmp_path, text)
    with pytest.raises(SettingsError) as info:
        load_settings(config=path, **kwargs)  # type: ignore[arg-type]
    message = info.value.message
    assert "\n" not in message
    return message.replace(path, "FILE")


def test_defaults_are_the_server_defaults() -> None:
    s = load_settings()
    assert s.server == ServerConfig()
    assert (s.host, s.port, s.prewarm, s.threads, s.vocabulary) == ("127.0.0.1", 8000, True, 0, None)
    assert {stage: st.backend for stage, st in s.stages.items()} == DEFAULTS
    assert set(s.origins.values()) == {"default"}


def test_file_then_environment_then_flags(tmp_path: Path) -> None:
    path = write(tmp_path, 'port = 9000\nhost = "0.0.0.0"\nthreads = 2\n'
                           '[limits]\nmax_sessions = 4\nmax_upload_seconds = 60\n'
                           '[llm]\nbackend = "openai:http://h:1/v1?model=m"\nworkers = 3\n')
    s = load_settings(config=path)
    assert (s.port, s.host, s.threads, s.server.max_sessions) == (9000, "0.0.0.0", 2, 4)
    assert s.server.max_upload_seconds == 60.0 and isinstance(s.server.max_upload_seconds, float)
    assert s.stages["llm"].backend == "openai:http://h:1/v1?model=m" and s.stages["llm"].workers == 3
    env = {"VOXLOOP_PORT": "9100", "VOXLOOP_MAX_SESSIONS": "5", "VOXLOOP_LLM": "llama",
           "VOXLOOP_PREWARM": "false", "VOXLOOP_LLM_WORKERS": ""}  # empty = unset
    s = load_settings(config=path, environ=env)
    assert (s.port, s.server.max_sessions, s.stages["llm"].backend, s.prewarm) == (9100, 5, "llama", False)
    assert s.stages["llm"].workers == 3 and s.host == "0.0.0.0"
    s = load_settings(config=path, environ=env, flags={"port": 9200, "limits.max_sessions": None})
    assert (s.port, s.server.max_sessions) == (9200, 5)
    assert (s.origins["port"], s.origins["limits.max_sessions"], s.origins["host"]) == ("--port", "$VOXLOOP_MAX_SESSIONS", path)
    assert load_settings(environ={"VOXLOOP_CONFIG": path}).port == 9000


def test_ws_compression_is_on_unless_turned_off() -> None:
    assert load_settings().server.ws_compression is True
    assert load_settings(flags={"ws_compression": False}).server.ws_compression is False
    assert load_settings(environ={"VOXLOOP_WS_COMPRESSION": "false"}).server.ws_compression is False


def test_the_example_file_is_valid_and_has_every_key() -> None:
    s = load_settings(config=str(EXAMPLE))
    assert s.server == ServerConfig() and s.port == 8000
    text = EXAMPLE.read_text()
    for key in KEYS:
        table, _, leaf = key.name.rpartition(".")
        assert re.search(rf"^#? ?{leaf} = ", text, re.M), key.name
        assert not table or f"[{table}]" in text


def test_the_docs_describe_every_key() -> None:
    doc = (ROOT / "docs" / "configuration.md").read_text()
    for key in KEYS:
        assert f"`{key.name}`" in doc, key.name
        assert f"`{key.env}`" in doc, key.env
        if key.flag:
            assert f"`{key.flag}" in doc, key.flag


def test_stage_shorthand_and_relative_vocabulary(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    path = write(tmp_path, 'llm = "llama:/m/x.gguf"\nvocabulary = "drugs.txt"\n', "conf/v.toml")
    s = load_settings(config=path)
    assert s.stages["llm"].backend == "llama:/m/x.gguf"
    assert s.vocabulary == str(tmp_path / "conf" / "drugs.txt")
    assert load_settings(config=path, flags={"vocabulary": "other.txt"}).vocabulary == "other.txt"


def test_unknown_keys_are_named_with_their_table(tmp_path: Path) -> None:
    assert error(tmp_path, "[llm]\nwokers = 2\n") == "FILE: unknown key 'llm.wokers' (did you mean 'llm.workers'?)"
    assert error(tmp_path, "prot = 1\n") == "FILE: unknown key 'prot' (did you mean 'port'?)"
    assert error(tmp_path, "[limit]\nmax_sessions = 1\n").startswith("FILE: unknown key 'limit")
    assert error(tmp_path, "[vad]\nthreads = 1\n") == "FILE: unknown key 'vad.threads'"
    assert error(tmp_path, "[llm.extra]\nx = 1\n") == "FILE: unknown key 'llm.extra'"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[limits]\nmax_sessions = "4"\n', "FILE: 'limits.max_sessions' must be an integer, got string"),
        ("[limits]\nmax_sessions = true\n", "FILE: 'limits.max_sessions' must be an integer, got boolean"),
        ("port = 80.5\n", "FILE: 'port' must be an integer, got float"),
        ("prewarm = 1\n", "FILE: 'prewarm' must be a boolean, got integer"),
        ("host = [1]\n", "FILE: 'host' must be a string, got array"),
        ("limits = 3\n", "FILE: 'limits' must be a table, got integer"),
        ("llm = 3\n", "FILE: 'llm' must be a table, got integer"),
        ("port = 0\n", "FILE: 'port' must be between 1 and 65535, got 0"),
        ("[asr]\nworkers = -1\n", "FILE: 'asr.workers' must be between 0 and 256, got -1"),
        ("[limits]\nhistory_tokens = 0\n", "FILE: 'limits.history_tokens' must be >= 1, got 0"),
        ('host = " "\n', "FILE: 'host' must not be empty"),
    ],
)
def test_wrong_types_and_ranges(tmp_path: Path, text: str, message: str) -> None:
    assert error(tmp_path, text) == message


def test_bad_backends_and_settings_a_backend_lacks(tmp_path: Path) -> None:
    assert error(tmp_path, '[llm]\nbackend = "lama"\n') == (
        "FILE: 'llm.backend': unknown llm backend 'lama'; valid: llama, openai")
    assert "needs a base URL" in error(tmp_path, '[tts]\nbackend = "openai"\n')
    assert error(tmp_path, '[llm]\nbackend = "openai:http://h/v1"\nthreads = 2\n') == (
        "FILE: 'llm.threads': the llm backend 'openai' has no threads setting")
    assert error(tmp_path, '[vad]\nbackend = "energy"\nworkers = 2\n') == (
        "FILE: 'vad.workers': the vad backend 'energy' has no workers setting")
    # the global default only applies where a backend has threads
    assert load_settings(environ={"VOXLOOP_THREADS": "2", "VOXLOOP_LLM": "openai:http://h/v1"}).threads == 2


def test_missing_unreadable_and_invalid_files(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"^/no/such\.toml: no such config file$"):
        load_settings(config="/no/such.toml")
    with pytest.raises(SettingsError, match="cannot read config file"):
        load_settings(config=str(tmp_path))
    message = error(tmp_path, 'port = 8000\nhost = "x\n')
    assert message.startswith("FILE: invalid TOML: ") and "line 2" in message
    (tmp_path / "bin.toml").write_bytes(b"host = '\xff'\n")
    with pytest.raises(SettingsError, match="invalid TOML"):
        load_settings(config=str(tmp_path / "bin.toml"))


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"VOXLOOP_PORT": "eighty"}, "$VOXLOOP_PORT: must be an integer, got 'eighty'"),
        ({"VOXLOOP_PREWARM": "maybe"}, "$VOXLOOP_PREWARM: must be a boolean (true/false), got 'maybe'"),
        ({"VOXLOOP_MAX_SESSIONS": "0"}, "$VOXLOOP_MAX_SESSIONS: 'limits.max_sessions' must be >= 1, got 0"),
        ({"VOXLOOP_ASR": "nope"}, "$VOXLOOP_ASR: 'asr.backend': unknown asr backend 'nope'; valid: whisper, openai"),
    ],
)
def test_bad_environment_values(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError) as info:
        load_settings(environ=env)
    assert info.value.message == message


def test_flags_are_validated_too() -> None:
    with pytest.raises(SettingsError, match="^--llm-workers: 'llm.workers' must be between 0 and 256, got 999$"):
        load_settings(flags={"llm.workers": 999})


def test_print_config_round_trips_and_masks_secrets(tmp_path: Path) -> None:
    path = write(tmp_path, '[llm]\nbackend = "openai:http://h:1/v1"\napi_key = "sk-secret-123"\n'
                           '[tts]\nbackend = "openai:http://h:2/v1"\napi_key_env = "TTS_KEY"\n')
    s = load_settings(config=path, environ={"VOXLOOP_PORT": "9001"}, flags={"asr.workers": 3})
    text = render_toml(s, cores=8)
    assert "sk-secret-123" not in text
    doc = tomllib.loads(text)
    assert doc["llm"]["api_key"] == "***" and doc["tts"]["api_key_env"] == "TTS_KEY"
    assert doc["port"] == 9001 and doc["asr"]["workers"] == 3
    assert re.search(r"^port = 9001  # from \$VOXLOOP_PORT$", text, re.M)
    assert re.search(r"^workers = 3  # from --asr-workers$", text, re.M)
    assert re.search(r"^threads = 0  # auto: 1$", text, re.M)  # asr, 1 thread per worker
    assert "vocabulary" not in doc  # unset optional keys are left out
    # the printed file loads back to the same settings (but for the masked key)
    again = load_settings(config=write(tmp_path, text.replace('"***"', '"sk-secret-123"'), "again.toml"))
    assert again.server == s.server
    for stage in s.stages:
        a, b = s.stages[stage], again.stages[stage]
        assert (a.backend, a.workers, a.threads, a.api_key, a.api_key_env) == (
            b.backend, b.workers, b.threads, b.api_key, b.api_key_env)
    assert (again.host, again.port, again.prewarm, again.threads) == (s.host, s.port, s.prewarm, s.threads)


TOOLS = '''
[[tools]]
name = "lookup_order"
description = "Look up an order."
url = "http://127.0.0.1:8089/orders"
timeout_s = 3
filler = "Let me look that up."
parameters = { type = "object", properties = { order_id = { type = "string" } }, required = ["order_id"] }
'''


def test_server_tools_from_the_config_file_round_trip_through_print_config(tmp_path: Path) -> None:
    settings = load_settings(config=write(tmp_path, TOOLS))
    [tool] = settings.server.server_tools
    assert tool.spec.name == "lookup_order" and tool.timeout_s == 3.0 and tool.filler == "Let me look that up."
    assert tool.spec.parameters["required"] == ["order_id"]
    again = load_settings(config=write(tmp_path, render_toml(settings), "printed.toml"))
    assert again.server.server_tools == settings.server.server_tools


@pytest.mark.parametrize(("text", "says"), [
    ("tools = 3\n", "'tools' must be an array of tables"),
    ('[[tools]]\nname = "x"\nurl = "ftp://a"\n', "'tools[0].url' must be an http"),
    ('[[tools]]\nname = "x y"\nurl = "http://a"\n', "'tools[0].name'"),
    ('[[tools]]\nname = "x"\nurl = "http://a"\nparameters = { type = "array" }\n', "'tools[0].parameters.type'"),
    ('[[tools]]\nname = "x"\nurl = "http://a"\ntimeout = 3\n', "unknown key 'timeout'"),
    (TOOLS + TOOLS, "declared twice"),
])
def test_bad_server_tools_are_one_line_errors(tmp_path: Path, text: str, says: str) -> None:
    assert says in error(tmp_path, text)


def test_memory_settings_and_the_store(tmp_path: Path) -> None:
    from voxloop.cli.main import build_parser
    from voxloop.cli.memory_keys import store_url
    from voxloop.cli.settings import flag_values
    from voxloop.errors import InvalidRequest

    cfg = tmp_path / "voxloop.toml"
    cfg.write_text('[memory]\nsummary = "rules"\nkeep_turns = 2\nfacts = "off"\nresume_ttl_s = 60\n')
    s = load_settings(config=str(cfg), environ={"VOXLOOP_MEMORY_FACTS_IN_PROMPT": "3"})
    m = s.server.memory
    assert (m.summary, m.keep_turns, m.facts, m.facts_in_prompt) == ("rules", 2, "off", 3)
    assert s.server.resume_ttl_s == 60.0
    args = build_parser().parse_args(["serve", "--no-store"])
    assert flag_values(args)["memory.store"] == "memory"
    args = build_parser().parse_args(["serve", "--store", "redis://127.0.0.1:6379/0"])
    assert load_settings(flags=flag_values(args)).values["memory.store"] == "redis://127.0.0.1:6379/0"
    assert store_url("", {"XDG_DATA_HOME": "/data"}) == "sqlite:/data/voxloop/voxloop.db"
    assert store_url("", {"HOME": "/home/ada"}) == "sqlite:/home/ada/.local/share/voxloop/voxloop.db"
    with pytest.raises(InvalidRequest, match="unknown store 'mysql://x'"):
        store_url("mysql://x", {})
    cfg.write_text('[memory]\nsummary = "sometimes"\n')
    with pytest.raises(SettingsError, match="'memory.summary' must be one of auto, rules, llm, off"):
        load_settings(config=str(cfg))
