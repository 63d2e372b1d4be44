"""``voxloop talk`` and the in-process conversation API with fakes: the screen, loading an
agent from user code, a conversation's events and transcript, and a machine without devices."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

import voxloop
from tests.fakes import FakeLLM, FakeTTS, fake_stack
from voxloop.cli.talk import Screen, load_agent


def test_the_screen_shows_partials_finals_replies_and_interruptions() -> None:
    out = io.StringIO()
    screen = Screen(out)
    for e in [{"type": "conversation.item.input_audio_transcription.delta", "delta": "where is"},
              {"type": "conversation.item.input_audio_transcription.completed", "transcript": "Where is my order?"},
              {"type": "response.output_audio_transcript.delta", "delta": "Let me "},
              {"type": "response.output_audio_transcript.delta", "delta": "look."},
              {"type": "response.done", "response": {"status": "cancelled"}}]:
        screen(e)
    assert out.getvalue() == "you: Where is my order?\nagent: Let me look. [interrupted]\n"


def test_load_agent_from_a_file_or_module(tmp_path: Path) -> None:
    app = tmp_path / "app.py"
    app.write_text("import voxloop\nagent = voxloop.Agent('Be brief.')\nnot_agent = 3\n")
    assert load_agent(f"{app}:agent").instructions == "Be brief."
    with pytest.raises(voxloop.VoxloopError, match="is a int, not a voxloop.Agent"):
        load_agent(f"{app}:not_agent")
    with pytest.raises(voxloop.VoxloopError, match="has no 'missing'"):
        load_agent(f"{app}:missing")
    with pytest.raises(voxloop.VoxloopError, match="expected MODULE:OBJECT"):
        load_agent("app")
    with pytest.raises(voxloop.VoxloopError, match="cannot import"):
        load_agent("no_such_module_xyz:agent")


async def test_a_conversation_in_process_answers_typed_text() -> None:
    agent = voxloop.Agent("Be brief.")
    stack = fake_stack(inline=True, llm=FakeLLM("Hello to you."), tts=FakeTTS())
    sink = voxloop.BufferSink()
    async with voxloop.Conversation(agent, stack=stack, sink=sink) as conv:
        conv.send_text("Hi there.")
        done = await conv.until(lambda e: e["type"] == "response.done")
        assert done["response"]["status"] == "completed"
        assert conv.transcript() == [("user", "Hi there."), ("assistant", "Hello to you.")]
    assert len(sink.played) > 0


def test_talk_without_audio_devices_says_so_in_one_line() -> None:
    code = "import sys; sys.modules['sounddevice'] = None; from voxloop.cli.main import main; sys.exit(main(['talk']))"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 1
    assert run.stderr.strip().count("\n") == 0 and "voxloop talk:" in run.stderr, run.stderr
