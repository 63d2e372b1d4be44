"""``voxloop`` command line: the only place that reads flags and the environment."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from voxloop import __version__
from voxloop.cli.cache import add_cache_parser
from voxloop.cli.memory import add_memory_parser
from voxloop.cli.settings import add_serve_arguments
from voxloop.engines.types import OFFLINE_BEAM_SIZE
from voxloop.errors import VoxloopError

__all__ = ["build_parser", "main"]

ENV_PREFIX = "VOXLOOP_"


def _env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(ENV_PREFIX + name, default)


def _add_engine_flags(p: argparse.ArgumentParser, stages: Sequence[str]) -> None:
    helps = {
        "vad": "VAD backend (silero, energy)",
        "asr": "ASR backend: whisper, whisper:PATH|base|small, openai:URL",
        "llm": "LLM backend: llama, llama:PATH.gguf, openai:URL[?model=NAME]",
        "tts": "TTS backend: piper, piper:VOICE.onnx, espeak, openai:URL",
    }
    for stage in stages:
        p.add_argument(f"--{stage}", default=_env(stage.upper()), metavar="SPEC",
                       help=f"{helps[stage]} (env {ENV_PREFIX}{stage.upper()})")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="voxloop", description="Self-hosted real-time voice engine.")
    parser.add_argument("--version", action="version", version=f"voxloop {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv for debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    t = sub.add_parser("transcribe", help="transcribe audio files",
                       description="Transcribe audio files (wav/flac/mp3/ogg/m4a/webm). Long files are "
                                   "segmented by VAD, never truncated.")
    t.add_argument("files", nargs="+", metavar="FILE")
    t.add_argument("--format", "-f", choices=("txt", "json", "srt", "vtt"), default="txt")
    t.add_argument("--model", "-m", default=None,
                   help="Whisper model: tiny.en (embedded), base, small, or a CTranslate2 directory")
    t.add_argument("--language", "-l", default=None, help="language code (default: detect / model's)")
    t.add_argument("--hotwords", nargs="+", default=(), metavar="W", help="words to bias recognition towards")
    t.add_argument("--prompt", default=None, help="initial prompt (context, spelling)")
    t.add_argument("--vocabulary", default=_env("VOCABULARY"), metavar="FILE",
                   help="domain vocabulary, one term per line: biases recognition and corrects near misses")
    t.add_argument("--beam-size", type=int, default=OFFLINE_BEAM_SIZE,
                   help=f"beam search width (default {OFFLINE_BEAM_SIZE}; 1 = greedy, fastest)")
    t.add_argument("--word-timestamps", action="store_true", help="include word timestamps (json)")
    t.add_argument("-o", "--output", default=None, metavar="PATH",
                   help="output file (one input) or directory (several inputs); default stdout")
    _add_engine_flags(t, ("asr", "vad"))

    s = sub.add_parser("say", help="speak text to a WAV file")
    s.add_argument("text", metavar="TEXT", help="text to speak ('-' reads stdin)")
    s.add_argument("-o", "--output", required=True, metavar="OUT.wav")
    s.add_argument("--voice", default=None, help="Piper voice .onnx path, or a voice name for espeak/remote")
    s.add_argument("--speed", type=float, default=1.0)
    _add_engine_flags(s, ("tts",))

    c = sub.add_parser("chat", help="text chat with a streaming reply")
    c.add_argument("--system", default=None, help="instructions (system prompt)")
    c.add_argument("--speak", default=None, metavar="OUT.wav", help="also write the spoken replies to a WAV")
    c.add_argument("--max-tokens", type=int, default=200)
    c.add_argument("--temperature", type=float, default=0.7)
    _add_engine_flags(c, ("llm", "tts"))

    sub.add_parser("models", help="list each stage's backends, install state and weights")

    d = sub.add_parser("demo", help="a short spoken demo: speak, transcribe, answer, speak")
    d.add_argument("-o", "--output", default="voxloop-demo.wav", metavar="OUT.wav")
    d.add_argument("--text", default="What is the capital of France?")
    _add_engine_flags(d, ("asr", "llm", "tts"))

    pr = sub.add_parser("presets", help="list the built-in scene presets (--show NAME prints one)")
    pr.add_argument("--show", default=None, metavar="NAME", help="print one preset: a name or a .toml file")

    add_memory_parser(sub)
    add_cache_parser(sub)

    from voxloop.cli.talk import add_talk_parser

    add_talk_parser(sub, _add_engine_flags)

    v = sub.add_parser("serve", help="run the realtime and REST server",
                       description="Run the realtime and REST server. Settings come from defaults < "
                                   "--config FILE < VOXLOOP_* environment < flags (docs/configuration.md).")
    add_serve_arguments(v)
    return parser


def _configure_logging(verbosity: int) -> None:
    level = logging.WARNING if verbosity == 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    _configure_logging(args.verbose)
    from voxloop.cli import commands

    handler = getattr(commands, f"cmd_{args.command}")
    try:
        code: int = handler(args)
        return code
    except VoxloopError as e:
        print(f"voxloop: error: {e.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
