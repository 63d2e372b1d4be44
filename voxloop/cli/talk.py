"""``voxloop talk``: a spoken conversation in the terminal with the default microphone and
speakers (full duplex: speak over the agent to interrupt it), the live partial transcript and
the reply's text on screen. ``--agent module:object`` (or ``path/to/file.py:object``) loads a
``voxloop.Agent`` from your code; without it, the default assistant."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import importlib.util
import sys
from pathlib import Path
from typing import Any, TextIO

from voxloop.errors import InvalidRequest

__all__ = ["Screen", "add_talk_parser", "cmd_talk", "load_agent", "talk"]


def add_talk_parser(sub: Any, add_engine_flags: Any) -> None:
    t = sub.add_parser("talk", help="a spoken conversation with the microphone and speakers",
                       description="Talk with an agent through the default microphone and speakers "
                                   "(pip install 'voxloop[talk]'). Speak over it to interrupt; Ctrl-C ends.")
    t.add_argument("--agent", default=None, metavar="MODULE:OBJECT",
                   help="a voxloop.Agent from your code: a module or a .py file, then ':' and its name")
    t.add_argument("--instructions", default=None, help="instructions for the default agent")
    t.add_argument("--sample-rate", type=int, default=24000, help="device sample rate (default 24000)")
    add_engine_flags(t, ("vad", "asr", "llm", "tts"))


def load_agent(ref: str) -> Any:
    """``module:object`` or ``file.py:object`` -> that object, which must be a ``voxloop.Agent``."""
    from voxloop.api.agent import Agent

    where, sep, name = ref.rpartition(":")
    if not sep or not where or not name:
        raise InvalidRequest(f"--agent {ref!r}: expected MODULE:OBJECT (e.g. examples.tutor:agent or app.py:agent)")
    try:
        if where.endswith(".py"):
            path = Path(where)
            if not path.is_file():
                raise InvalidRequest(f"--agent {ref!r}: no such file {where}")
            spec = importlib.util.spec_from_file_location(path.stem, path)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
        else:
            module = importlib.import_module(where)
    except ImportError as e:
        raise InvalidRequest(f"--agent {ref!r}: cannot import {where} ({e})") from e
    obj = getattr(module, name, None)
    if obj is None:
        raise InvalidRequest(f"--agent {ref!r}: {where} has no {name!r}")
    if callable(obj) and not isinstance(obj, Agent):
        obj = obj()  # a factory
    if not isinstance(obj, Agent):
        raise InvalidRequest(f"--agent {ref!r}: {name} is a {type(obj).__name__}, not a voxloop.Agent")
    return obj


class Screen:
    """Renders a conversation's events as lines: ``you:`` with the live partial transcript,
    then the final one; ``agent:`` with the reply's text as it is spoken; ``[interrupted]``."""

    def __init__(self, out: TextIO = sys.stdout) -> None:
        self.out = out
        self._partial = ""
        self._replying = False

    def _line(self, text: str, end: str = "\n") -> None:
        self.out.write(f"\r\x1b[2K{text}{end}" if self.out.isatty() else (text + end if end == "\n" else ""))
        self.out.flush()

    def __call__(self, e: dict[str, Any]) -> None:
        kind = e.get("type", "")
        if kind == "conversation.item.input_audio_transcription.delta":
            self._partial += e.get("delta", "")
            self._line(f"you: {self._partial.strip()}…", end="")
        elif kind == "conversation.item.input_audio_transcription.completed":
            self._partial = ""
            if e.get("transcript", "").strip():
                self._line(f"you: {e['transcript'].strip()}")
        elif kind in ("response.output_audio_transcript.delta", "response.output_text.delta"):
            if not self._replying:
                self._replying = True
                self.out.write("agent: ")
            self.out.write(e.get("delta", ""))
            self.out.flush()
        elif kind == "response.function_call_arguments.done":
            self._end_reply()
            self._line(f"  [tool {e.get('name', '')}({e.get('arguments', '')})]")
        elif kind == "response.done":
            status = e.get("response", {}).get("status")
            self._end_reply(" [interrupted]" if status == "cancelled" else "")
        elif kind == "error":
            self._end_reply()
            self._line(f"  [error: {e.get('error', {}).get('message', '')}]")

    def _end_reply(self, note: str = "") -> None:
        if self._replying:
            self._replying = False
            self.out.write(note + "\n")
            self.out.flush()


async def talk(agent: Any, pipeline: Any, source: Any, sink: Any, *, out: TextIO = sys.stdout,
               replies: int | None = None, stack: Any = None) -> list[tuple[str, str]]:
    """The conversation loop of ``voxloop talk`` over any source and sink (tests inject them)."""
    from voxloop.api.conversation import converse

    return await converse(agent, source, sink, pipeline, stack=stack, on_event=Screen(out), replies=replies)


def cmd_talk(args: argparse.Namespace) -> int:
    from voxloop.api.agent import Agent
    from voxloop.api.devices import NoAudioDevice, open_devices
    from voxloop.api.pipeline import Pipeline
    from voxloop.errors import MissingDependency

    agent = load_agent(args.agent) if args.agent else Agent(args.instructions)
    pipeline = Pipeline(vad=args.vad, asr=args.asr, llm=args.llm, tts=args.tts)
    try:
        mic, speaker = open_devices(args.sample_rate)
    except (NoAudioDevice, MissingDependency) as e:
        print(f"voxloop talk: {e.message}", file=sys.stderr)
        return 1
    print("Loading models… then speak (Ctrl-C to stop).", file=sys.stderr)
    try:
        asyncio.run(talk(agent, pipeline, mic, speaker))
    finally:
        speaker.close()
    return 0
