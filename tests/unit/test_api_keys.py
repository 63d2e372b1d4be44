"""API keys: resolved in the CLI for openai: backends only; errors say whose key, never the key."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.fake_http import FakeServer, serving
from tests.unit.test_llm_remote import MESSAGES, Behaviour, Handler
from voxloop.cli.keys import api_key_options, stage_from_env
from voxloop.cli.serve import engine_specs
from voxloop.cli.settings import SettingsError, StageSettings, load_settings
from voxloop.engines.http import ApiKey, http_error
from voxloop.engines.llm.remote import RemoteLLM
from voxloop.errors import BackendError

REMOTE = "openai:http://127.0.0.1:9/v1"


def test_only_openai_backends_get_a_key() -> None:
    env = {"OPENAI_API_KEY": "sk-env"}
    assert api_key_options("llm", StageSettings("llama"), env) == {}
    assert api_key_options("asr", StageSettings("whisper", api_key="sk-x"), env) == {}
    assert api_key_options("llm", StageSettings(REMOTE), env) == {
        "api_key": "sk-env", "api_key_source": "the key from $OPENAI_API_KEY"}


def test_where_a_key_comes_from() -> None:
    env = {"OPENAI_API_KEY": "sk-env", "GROQ_KEY": "gsk-1"}
    file_key = StageSettings(REMOTE, api_key="sk-file", api_key_origin="conf/voxloop.toml")
    assert api_key_options("tts", file_key, env) == {
        "api_key": "sk-file", "api_key_source": "tts.api_key from conf/voxloop.toml"}
    other = StageSettings(REMOTE, api_key_env="GROQ_KEY")
    assert api_key_options("llm", other, env) == {"api_key": "gsk-1", "api_key_source": "the key from $GROQ_KEY"}
    assert api_key_options("asr", StageSettings(REMOTE), {}) == {
        "api_key_source": "set OPENAI_API_KEY or asr.api_key_env"}
    with pytest.raises(SettingsError, match=r"^'llm.api_key_env' names \$GROQ_KEY, which is not set$"):
        api_key_options("llm", other, {})
    with pytest.raises(SettingsError, match="must name an environment variable"):
        api_key_options("llm", StageSettings(REMOTE, api_key_env="NOT A NAME"), env)


def test_one_shot_commands_read_the_stage_variables() -> None:
    env = {"VOXLOOP_LLM_API_KEY": "sk-v", "OPENAI_API_KEY": "sk-env"}
    assert api_key_options("llm", stage_from_env("llm", REMOTE, env), env) == {
        "api_key": "sk-v", "api_key_source": "the key from $VOXLOOP_LLM_API_KEY"}
    env = {"VOXLOOP_TTS_API_KEY_ENV": "MY_TTS", "MY_TTS": "k"}
    assert api_key_options("tts", stage_from_env("tts", REMOTE, env), env)["api_key"] == "k"
    assert api_key_options("tts", stage_from_env("tts", None, env), env) == {}  # default: piper


def test_server_specs_carry_tuning_and_keys(tmp_path: Path) -> None:
    conf = tmp_path / "v.toml"
    conf.write_text(f'[llm]\nbackend = "{REMOTE}?model=m"\n[asr]\nbackend = "whisper"\nworkers = 2\n')
    specs = engine_specs(load_settings(config=str(conf)), {"OPENAI_API_KEY": "sk-env"}, cores=8)
    assert specs.llm == f"{REMOTE}?model=m"
    assert specs.options["llm"] == {"api_key": "sk-env", "api_key_source": "the key from $OPENAI_API_KEY"}
    assert specs.options["asr"] == {"workers": 2, "cpu_threads": 1}
    assert specs.options["tts"] == {"workers": 4, "threads": 1}
    assert "vad" not in specs.options and "turn" not in specs.options


def test_refusals_name_the_backend_and_the_key_source_never_the_key() -> None:
    body = b'{"error": {"message": "Incorrect API key provided: sk-wrong-42"}}'
    e = http_error(401, body, "LLM server http://h/v1", ApiKey("sk-wrong-42", "the key from $OPENAI_API_KEY"))
    assert e.message == ("LLM server http://h/v1 refused the request: HTTP 401: Incorrect API key provided: *** "
                         "(sent the key from $OPENAI_API_KEY)")
    assert not e.retryable
    e = http_error(403, b"forbidden", "TTS server http://h/v1", ApiKey(None, "set OPENAI_API_KEY or tts.api_key_env"))
    assert e.message == ("TTS server http://h/v1 refused the request: HTTP 403: forbidden "
                         "(no API key sent: set OPENAI_API_KEY or tts.api_key_env)")
    assert http_error(401, b"no", "ASR server x").message == "ASR server x refused the request: HTTP 401: no (no API key sent)"
    assert http_error(500, b"kaput", "x").message == "x: HTTP 500: kaput"
    assert "sk-" not in repr(ApiKey("sk-1", "somewhere"))


@pytest.fixture
def serve() -> Iterator[Callable[[Behaviour], FakeServer]]:
    yield from serving(Handler)


async def test_remote_llm_reports_a_refusal(serve: Callable[[Behaviour], FakeServer]) -> None:
    server = serve(lambda h, body: h.send(401, "application/json", b'{"error": "bad key sk-abc"}'))
    llm = RemoteLLM(server.url, api_key="sk-abc", api_key_source="the key from $OPENAI_API_KEY")
    with pytest.raises(BackendError) as info:
        async for _ in llm.chat(MESSAGES):
            pass
    assert info.value.message == (f"LLM server {server.url} refused the request: HTTP 401: bad key *** "
                                  "(sent the key from $OPENAI_API_KEY)")
    assert server.requests[0][1]["Authorization"] == "Bearer sk-abc"
