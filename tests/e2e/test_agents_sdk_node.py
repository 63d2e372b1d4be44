"""Conformance: the OpenAI Agents SDK for JavaScript (@openai/agents-realtime, Node) holds voice,
text and barge-in conversations with voxloop and surfaces no error event.

The client is tests/e2e/js/agents_realtime.mjs; ``make test`` installs its npm packages
(tests/e2e/js/package.json). Without node or those packages the tests are skipped."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.support import running_server, silence, speak
from voxloop.audio.pcm import float_to_pcm16

pytestmark = pytest.mark.models
JS = Path(__file__).parent / "js"
if shutil.which("node") is None or not (JS / "node_modules" / "@openai" / "agents-realtime").exists():
    pytest.skip("needs node and `npm install` in tests/e2e/js (make test does it)", allow_module_level=True)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with running_server() as base:
        yield base


def run_client(server: str, scenario: str, speech: np.ndarray | None, tmp_path: Path) -> dict[str, Any]:
    args = ["node", str(JS / "agents_realtime.mjs"), scenario, server.replace("http", "ws") + "/v1/realtime?model=voxloop"]
    if speech is not None:
        path = tmp_path / f"{scenario}.pcm"
        path.write_bytes(float_to_pcm16(speech))
        args.append(str(path))
    done = subprocess.run(args, capture_output=True, text=True, timeout=180, cwd=JS)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert lines, f"no result from the node client; stderr: {done.stderr[-2000:]}"
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def test_text_turn(server: str, tmp_path: Path) -> None:
    out = run_client(server, "text", None, tmp_path)
    assert out["errors"] == [], out["errors"]
    history = out["history"]
    assert [h["role"] for h in history] == ["user", "assistant"], history
    assert "france" in history[0]["text"].lower() and history[1]["text"]
    assert out["audioChunks"] > 0


def test_voice_turn(server: str, tmp_path: Path) -> None:
    speech = np.concatenate([silence(0.3), speak("Why is the sky blue?"), silence(1.5)])
    out = run_client(server, "voice", speech, tmp_path)
    assert out["errors"] == [], out["errors"]
    history = out["history"]
    assert [h["role"] for h in history] == ["user", "assistant"], history
    assert "sky" in history[0]["text"].lower() and history[1]["text"]


def test_barge_in(server: str, tmp_path: Path) -> None:
    speech = np.concatenate([speak("Stop. Wait a moment please."), silence(1.5)])
    out = run_client(server, "barge-in", speech, tmp_path)
    assert out["errors"] == [], out["errors"]
    assert out["interrupted"]
    events = out["serverEvents"]
    first = next(e["response_id"] for e in events if e["type"] == "response.created")
    done = [e for e in events if e["type"] == "response.done" and e["response_id"] == first]
    assert done and done[0]["status"] == "cancelled"
    started = next(i for i, e in enumerate(events) if e["type"] == "input_audio_buffer.speech_started")
    assert not [e for e in events[started + 1 :] if e["type"] == "response.output_audio.delta"
                and e["response_id"] == first]
    roles = [h["role"] for h in out["history"]]
    assert roles[:3] == ["user", "assistant", "user"], out["history"]


def test_tool_call(server: str, tmp_path: Path) -> None:
    """A ``tool()`` runs end to end: the model calls it, the SDK runs it and sends its output,
    and the model answers in words."""
    out = run_client(server, "tool", None, tmp_path)
    assert out["errors"] == [], out["errors"]
    assert len(out["toolCalls"]) == 1 and "paris" in out["toolCalls"][0].lower(), out["toolCalls"]
    events = out["events"]
    assert "response.function_call_arguments.done" in events
    history = out["history"]
    assert history[0]["role"] == "user" and history[-1]["role"] == "assistant" and history[-1]["text"], history
