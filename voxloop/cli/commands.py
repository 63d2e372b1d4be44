"""Implementations of the ``voxloop`` subcommands."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from voxloop.audio import Audio, decode_file, to_srt, to_vtt, write_wav
from voxloop.audio.subtitles import subtitle_cues
from voxloop.cli.keys import api_key_options, stage_from_env
from voxloop.engines.base import ASREngine, Engine, LLMEngine, TTSEngine
from voxloop.engines.registry import BACKENDS, DEFAULTS, backend_installed, create_engine
from voxloop.engines.types import ChatMessage, LLMOptions, TranscribeOptions, Transcript, TTSOptions
from voxloop.errors import InvalidRequest, VoxloopError

__all__ = ["cmd_cache", "cmd_chat", "cmd_demo", "cmd_memory", "cmd_models", "cmd_presets", "cmd_say", "cmd_serve", "cmd_talk",
           "cmd_transcribe"]


def _err(msg: str) -> None:
    print(f"voxloop: error: {msg}", file=sys.stderr)


def _engine(stage: str, spec: str | None) -> Engine:
    """Every command creates its engines here: an ``openai:`` backend gets its API key."""
    settings = stage_from_env(stage, spec, os.environ)
    return create_engine(stage, spec, **api_key_options(stage, settings, os.environ))


# --------------------------------------------------------------------------- transcribe


def _asr_spec(args: argparse.Namespace) -> str | None:
    if args.model:
        return f"whisper:{args.model}"
    spec: str | None = args.asr
    return spec


def _render(fmt: str, path: str, tr: Transcript) -> str:
    if fmt == "txt":
        return tr.text + "\n"
    if fmt == "srt":
        return to_srt(subtitle_cues(tr.segments))
    if fmt == "vtt":
        return to_vtt(subtitle_cues(tr.segments))
    return json.dumps({"file": path, **tr.as_dict()}, ensure_ascii=False) + "\n"


def _progress(name: str, total: float, enabled: bool) -> Any:
    if not enabled:
        return None
    from tqdm import tqdm

    bar = tqdm(total=round(total, 1), unit="s", desc=Path(name).name, file=sys.stderr, leave=False)

    def update(done: float, _total: float) -> None:
        bar.n = round(min(done, total), 1)
        bar.refresh()

    update.close = bar.close  # type: ignore[attr-defined]
    return update


def cmd_transcribe(args: argparse.Namespace) -> int:
    from voxloop.engines.asr.longform import transcribe_long

    if args.beam_size < 1:
        raise InvalidRequest("--beam-size must be >= 1")
    asr = _engine("asr", _asr_spec(args))
    assert isinstance(asr, ASREngine)
    vad = _engine("vad", args.vad)
    vocabulary = None
    if args.vocabulary:
        from voxloop.dialogue.vocabulary import Vocabulary

        try:
            vocabulary = Vocabulary.from_file(args.vocabulary)
        except OSError as e:
            raise InvalidRequest(f"{args.vocabulary}: cannot read vocabulary ({e.strerror or e})") from e
    options = TranscribeOptions(
        language=args.language,
        prompt=args.prompt,
        hotwords=tuple(args.hotwords) + (vocabulary.hotwords(400) if vocabulary else ()),
        word_timestamps=args.word_timestamps or args.format in ("json", "srt", "vtt"),
        beam_size=args.beam_size,
    )
    out_path = Path(args.output) if args.output else None
    several = len(args.files) > 1
    if out_path and several:
        out_path.mkdir(parents=True, exist_ok=True)
    asr.prewarm()
    failures = 0
    sink: TextIO | None = None
    if out_path and not several:
        sink = out_path.open("w", encoding="utf-8")
    try:
        for name in args.files:
            try:
                audio = decode_file(name, 16000)
                progress = _progress(name, audio.duration, sys.stderr.isatty())
                try:
                    tr = transcribe_long(asr, vad, audio, options, progress)  # type: ignore[arg-type]
                finally:
                    if progress is not None:
                        progress.close()
            except VoxloopError as e:
                _err(e.message if name in e.message else f"{name}: {e.message}")
                failures += 1
                continue
            if vocabulary is not None:
                from voxloop.server.rest_formats import apply_vocabulary

                tr = apply_vocabulary(tr, vocabulary)
            text = _render(args.format, name, tr)
            if out_path and several:
                (out_path / f"{Path(name).stem}.{args.format}").write_text(text, encoding="utf-8")
            elif sink is not None:
                sink.write(text)
            else:
                sys.stdout.write(text)
                sys.stdout.flush()
    finally:
        if sink is not None:
            sink.close()
    return 1 if failures else 0


# --------------------------------------------------------------------------- say


def _tts_engine(spec: str | None, voice: str | None) -> tuple[TTSEngine, str | None]:
    if voice and Path(voice).suffix == ".onnx":
        if not Path(voice).exists():
            raise InvalidRequest(f"{voice}: no such voice file")
        engine = create_engine("tts", f"piper:{voice}")
        voice = None
    else:
        engine = _engine("tts", spec)
    assert isinstance(engine, TTSEngine)
    return engine, voice


def _synthesize(engine: TTSEngine, text: str, options: TTSOptions) -> Audio:
    engine.prewarm()
    chunks = list(engine.synthesize_sync(text, options))
    samples = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    return Audio(samples.astype(np.float32), engine.sample_rate)


def cmd_say(args: argparse.Namespace) -> int:
    text = sys.stdin.read() if args.text == "-" else args.text
    if not text.strip():
        raise InvalidRequest("nothing to say: TEXT is empty")
    engine, voice = _tts_engine(args.tts, args.voice)
    audio = _synthesize(engine, text, TTSOptions(voice=voice, speed=args.speed))
    if audio.samples.size == 0:
        raise VoxloopError("the voice produced no audio for this text")
    write_wav(args.output, audio)
    print(f"wrote {args.output} ({audio.duration:.2f} s, {audio.sample_rate} Hz)", file=sys.stderr)
    return 0


# --------------------------------------------------------------------------- chat


async def _stream_reply(llm: LLMEngine, messages: list[ChatMessage], options: LLMOptions) -> str:
    parts: list[str] = []
    stream = llm.chat(messages, options)
    try:
        async for delta in stream:
            if not isinstance(delta, str):
                continue  # tool calls: the CLI chat offers no tools
            parts.append(delta)
            sys.stdout.write(delta)
            sys.stdout.flush()
    finally:
        await stream.aclose()
    sys.stdout.write("\n")
    return "".join(parts)


def cmd_chat(args: argparse.Namespace) -> int:
    from voxloop.dialogue.history import Conversation

    llm = _engine("llm", args.llm)
    assert isinstance(llm, LLMEngine)
    tts: TTSEngine | None = None
    if args.speak:
        tts, _ = _tts_engine(args.tts, None)
    llm.prewarm()
    conv = Conversation(args.system or "You are a helpful, concise assistant.")
    options = LLMOptions(max_tokens=args.max_tokens, temperature=args.temperature)
    spoken: list[np.ndarray] = []
    interactive = sys.stdin.isatty()
    while True:
        if interactive:
            sys.stdout.write("> ")
            sys.stdout.flush()
        line = sys.stdin.readline()
        if not line:
            break
        text = line.strip()
        if not text:
            continue
        if text in ("/quit", "/exit"):
            break
        conv.add("user", text)
        reply = asyncio.run(_stream_reply(llm, conv.messages(1500, llm.count_tokens), options))
        conv.add("assistant", reply)
        if tts is not None and reply.strip():
            spoken.append(_synthesize(tts, reply, TTSOptions()).samples)
            spoken.append(np.zeros(int(0.4 * tts.sample_rate), np.float32))
    if tts is not None and args.speak:
        samples = np.concatenate(spoken) if spoken else np.zeros(0, np.float32)
        write_wav(args.speak, Audio(samples, tts.sample_rate))
        print(f"wrote {args.speak}", file=sys.stderr)
    return 0


# --------------------------------------------------------------------------- models


def cmd_models(args: argparse.Namespace) -> int:
    for stage, table in BACKENDS.items():
        print(f"{stage}:")
        for name, backend in table.items():
            installed = backend_installed(stage, name)
            marks = ["default" if name == DEFAULTS[stage] else "", "installed" if installed else "not installed"]
            hint = "" if installed or not backend.extra else f"  (pip install 'voxloop[{backend.extra}]')"
            print(f"  {name:<8} {', '.join(m for m in marks if m):<22} {backend.summary}{hint}")
    return 0


# --------------------------------------------------------------------------- demo


def cmd_demo(args: argparse.Namespace) -> int:
    """Speak a question, transcribe it, answer it, speak the answer: the whole loop offline."""
    tts, _ = _tts_engine(args.tts, None)
    asr = _engine("asr", args.asr)
    llm = _engine("llm", args.llm)
    assert isinstance(asr, ASREngine) and isinstance(llm, LLMEngine)
    t0 = time.perf_counter()
    for engine in (tts, asr, llm):
        engine.prewarm()
    print(f"models loaded in {time.perf_counter() - t0:.1f} s")
    question = _synthesize(tts, args.text, TTSOptions())
    t = time.perf_counter()
    heard = asr.transcribe_sync(question.to(16000), TranscribeOptions())
    print(f"you (spoken by TTS, heard by ASR in {1000 * (time.perf_counter() - t):.0f} ms): {heard.text}")
    messages = [ChatMessage("system", "You are a helpful voice assistant. Answer in one short sentence."),
                ChatMessage("user", heard.text)]
    sys.stdout.write("bot: ")
    reply = asyncio.run(_stream_reply(llm, messages, LLMOptions(max_tokens=60, temperature=0.2)))
    answer = _synthesize(tts, reply or "I have no answer.", TTSOptions())
    gap = np.zeros(int(0.5 * tts.sample_rate), np.float32)
    write_wav(args.output, Audio(np.concatenate([question.samples, gap, answer.samples]), tts.sample_rate))
    print(f"wrote the conversation to {args.output}")
    return 0


# --------------------------------------------------------------------------- serve


def cmd_serve(args: argparse.Namespace) -> int:
    from voxloop.cli.serve import cmd_serve as serve

    return serve(args)


def cmd_memory(args: argparse.Namespace) -> int:
    from voxloop.cli.memory import cmd_memory as memory

    return memory(args)


def cmd_presets(args: argparse.Namespace) -> int:
    from voxloop.cli.scenes import cmd_presets as presets

    return presets(args)


def cmd_cache(args: argparse.Namespace) -> int:
    from voxloop.cli.cache import cmd_cache as cache

    return cache(args)


def cmd_talk(args: argparse.Namespace) -> int:
    from voxloop.cli.talk import cmd_talk as talk

    return talk(args)
