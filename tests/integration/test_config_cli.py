"""``voxloop serve --config`` and API keys, through the real command line (no model loads)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from tests.fake_http import FakeServer, serving

ROOT = Path(__file__).resolve().parents[2]
KEY = "sk-test-right-0123456789"


def voxloop(*args: str, env: dict[str, str] | None = None, stdin: str | None = None,
            cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("VOXLOOP_") and k != "OPENAI_API_KEY"}
    return subprocess.run([sys.executable, "-m", "voxloop.cli.main", *args], cwd=cwd, input=stdin,
                          capture_output=True, text=True, timeout=120,
                          env={**clean, "PYTHONPATH": str(ROOT), **(env or {})})


def one_error(r: subprocess.CompletedProcess[str]) -> str:
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("voxloop: error: "), r.stderr
    return lines[0].removeprefix("voxloop: error: ")


def test_serve_help_shows_the_configuration_flags() -> None:
    r = voxloop("serve", "--help")
    assert r.returncode == 0, r.stderr
    for flag in ("--config", "--print-config", "--llm-workers", "--threads", "--asr-workers", "--tts-threads",
                 "--max-sessions", "--no-prewarm", "VOXLOOP_LLM_WORKERS"):
        assert flag in r.stdout, flag


def test_print_config_file_then_env_then_flag(tmp_path: Path) -> None:
    conf = tmp_path / "voxloop.toml"
    conf.write_text('port = 9001\nhost = "0.0.0.0"\n[limits]\nmax_sessions = 3\n'
                    '[llm]\nbackend = "openai:http://127.0.0.1:1/v1?model=m"\napi_key = "sk-in-file"\n'
                    '[asr]\nworkers = 1\n')
    r = voxloop("serve", "--config", str(conf), "--print-config")
    assert r.returncode == 0, r.stderr
    doc = tomllib.loads(r.stdout)
    assert (doc["port"], doc["host"], doc["limits"]["max_sessions"], doc["asr"]["workers"]) == (9001, "0.0.0.0", 3, 1)
    assert doc["llm"]["api_key"] == "***" and "sk-in-file" not in r.stdout
    env = {"VOXLOOP_PORT": "9002", "VOXLOOP_MAX_SESSIONS": "4", "VOXLOOP_CONFIG": str(conf)}
    doc = tomllib.loads(voxloop("serve", "--print-config", env=env).stdout)
    assert (doc["port"], doc["host"], doc["limits"]["max_sessions"]) == (9002, "0.0.0.0", 4)
    r = voxloop("serve", "--print-config", "--port", "9003", "--llm-workers", "2", "--llm", "llama",
                "--threads", "1", env=env)
    doc = tomllib.loads(r.stdout)
    assert (doc["port"], doc["limits"]["max_sessions"], doc["llm"]["backend"], doc["llm"]["workers"]) == (
        9003, 4, "llama", 2)
    assert "port = 9003  # from --port" in r.stdout and "max_sessions = 4  # from $VOXLOOP_MAX_SESSIONS" in r.stdout
    assert doc["threads"] == 1


def test_print_config_shows_what_auto_means_here() -> None:
    r = voxloop("serve", "--print-config", "--llm", "llama:/models/big.gguf")
    assert r.returncode == 0, r.stderr
    cores = len(os.sched_getaffinity(0))
    llm = r.stdout.split("[llm]")[1].split("[")[0]
    assert "workers = 0  # auto: 1" in llm and f"threads = 0  # auto: {cores}" in llm
    asr = r.stdout.split("[asr]")[1].split("[")[0]
    assert f"workers = 0  # auto: {min(cores, 4)}" in asr


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[llm]\nwokers = 2\n", "FILE: unknown key 'llm.wokers' (did you mean 'llm.workers'?)"),
        ('[limits]\nmax_sessions = "many"\n', "FILE: 'limits.max_sessions' must be an integer, got string"),
        ("port = 8000\nhost = \n", "FILE: invalid TOML: Invalid value (at line 2, column 8)"),
        ('[asr]\nbackend = "wisper"\n', "FILE: 'asr.backend': unknown asr backend 'wisper'; valid: whisper, openai"),
    ],
)
def test_bad_config_is_one_line_and_exit_1(tmp_path: Path, text: str, expected: str) -> None:
    conf = tmp_path / "voxloop.toml"
    conf.write_text(text)
    for extra in ((), ("--print-config",)):  # the server never starts on a bad config
        r = voxloop("serve", "--config", "voxloop.toml", "--port", "1", *extra, cwd=tmp_path)
        assert one_error(r) == expected.replace("FILE", "voxloop.toml")
        assert not r.stdout


def test_missing_config_file_and_bad_environment(tmp_path: Path) -> None:
    assert one_error(voxloop("serve", "--config", "nope.toml", cwd=tmp_path)) == "nope.toml: no such config file"
    r = voxloop("serve", "--print-config", env={"VOXLOOP_PORT": "http"})
    assert one_error(r) == "$VOXLOOP_PORT: must be an integer, got 'http'"


def test_unset_api_key_env_stops_the_server_before_it_starts(tmp_path: Path) -> None:
    conf = tmp_path / "voxloop.toml"
    conf.write_text('[llm]\nbackend = "openai:http://127.0.0.1:1/v1"\napi_key_env = "MY_LLM_KEY"\n')
    r = voxloop("serve", "--config", str(conf), "--port", "1")
    assert one_error(r) == "'llm.api_key_env' names $MY_LLM_KEY, which is not set"


# --------------------------------------------------------------------------- chat with an API key


class OpenAIHandler(BaseHTTPRequestHandler):
    """Streams a chat reply to the right bearer key; 401 (echoing the key, as some servers do) else."""

    server: FakeServer

    def do_POST(self) -> None:  # noqa: N802 - stdlib name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append((self.path, dict(self.headers), body))
        auth = self.headers.get("Authorization", "")
        if auth != f"Bearer {KEY}":
            payload = json.dumps({"error": {"message": f"Incorrect API key provided: {auth[7:] or 'none'}",
                                            "type": "invalid_request_error"}}).encode()
            self.send_response(401)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for piece in ("Hello", " from", " the fake."):
            chunk = {"choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]}
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
        self.wfile.write(b"data: [DONE]\n\n")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def openai_server() -> Iterator[FakeServer]:
    starts: Iterator[Callable[[Any], FakeServer]] = serving(OpenAIHandler)
    yield next(starts)(None)
    next(starts, None)


def test_chat_sends_openai_api_key_and_streams(openai_server: FakeServer) -> None:
    spec = f"openai:{openai_server.url}?model=m"
    r = voxloop("chat", "--llm", spec, env={"OPENAI_API_KEY": KEY}, stdin="Hi there.\n")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "Hello from the fake."
    path, headers, body = openai_server.requests[-1]
    assert path == "/v1/chat/completions" and body["model"] == "m" and headers["Authorization"] == f"Bearer {KEY}"
    # a stage's own variable names another env var
    r = voxloop("chat", "--llm", spec, env={"VOXLOOP_LLM_API_KEY_ENV": "OTHER_KEY", "OTHER_KEY": KEY},
                stdin="Hi.\n")
    assert r.returncode == 0 and "Hello from the fake." in r.stdout, r.stderr


def test_chat_refused_names_the_backend_and_never_the_key(openai_server: FakeServer) -> None:
    spec = f"openai:{openai_server.url}?model=m"
    message = one_error(voxloop("chat", "--llm", spec, stdin="Hi.\n"))
    assert message == (f"LLM server {openai_server.url} refused the request: HTTP 401: Incorrect API key provided: "
                       "none (no API key sent: set OPENAI_API_KEY or llm.api_key_env)")
    assert "Authorization" not in openai_server.requests[-1][1]
    wrong = "sk-wrong-9876543210"
    r = voxloop("chat", "--llm", spec, env={"OPENAI_API_KEY": wrong}, stdin="Hi.\n")
    message = one_error(r)
    assert wrong not in r.stderr + r.stdout
    assert message == (f"LLM server {openai_server.url} refused the request: HTTP 401: Incorrect API key provided: "
                       "*** (sent the key from $OPENAI_API_KEY)")

