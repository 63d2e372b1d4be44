"""Dictation: speech in, subtitles out. Plays an audio file (or the microphone, with --mic)
into a transcription session and writes each utterance as an SRT cue, timed by the VAD.

    python examples/dictation.py talk.wav -o talk.srt
    python examples/dictation.py --mic -o notes.srt      (Ctrl-C to stop; pip install 'voxloop[talk]')
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import AsyncIterator
from typing import Any

import voxloop
from voxloop.audio import decode_file, float_to_pcm16, to_srt
from voxloop.engines import Segment
from voxloop.engines.stack import EngineStack

RATE = 16000


async def dictate(chunks: AsyncIterator[bytes], *, stack: EngineStack | None = None, show: bool = False,
                  into: list[Segment] | None = None) -> list[Segment]:
    """The utterances in ``chunks`` (PCM16 mono at 16 kHz), each with its start and end
    (appended to ``into`` as they come, so an interrupted dictation keeps what it heard)."""
    starts: dict[str, float] = {}
    ends: dict[str, float] = {}
    segments: list[Segment] = into if into is not None else []
    settled = asyncio.Event()
    settled.set()

    def on_event(e: dict[str, Any]) -> None:
        kind = e["type"]
        if kind == "input_audio_buffer.speech_started":
            starts[e["item_id"]] = e["audio_start_ms"] / 1000
            settled.clear()
        elif kind == "input_audio_buffer.speech_stopped":
            ends[e["item_id"]] = e["audio_end_ms"] / 1000
        elif kind in ("conversation.item.input_audio_transcription.completed",
                      "conversation.item.input_audio_transcription.failed"):
            item = e["item_id"]
            text = e.get("transcript", "").strip()
            if text and item in starts:
                segments.append(Segment(starts[item], ends.get(item, starts[item]), text))
                if show:
                    print(text, flush=True)
            if len(segments) >= len([i for i in starts if i in ends]):
                settled.set()

    async with voxloop.Conversation(stack=stack, input_rate=RATE, dictation=True) as conv:
        conv.listeners.append(on_event)
        async for chunk in chunks:
            conv.send_audio(chunk)
        conv.send_audio(b"\0\0" * RATE)  # a second of silence ends the last utterance
        await conv.drain()  # every utterance in the audio has been announced
        await settled.wait()  # ... and transcribed
    return sorted(segments, key=lambda s: s.start)


async def _file_chunks(path: str) -> AsyncIterator[bytes]:
    async for chunk in voxloop.BufferSource(float_to_pcm16(decode_file(path, RATE).samples), RATE).chunks():
        yield chunk
        await asyncio.sleep(0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Transcribe speech to SRT subtitles.")
    parser.add_argument("audio", nargs="?", help="an audio file (wav, flac, mp3, ...)")
    parser.add_argument("--mic", action="store_true", help="dictate from the default microphone")
    parser.add_argument("-o", "--output", required=True, metavar="OUT.srt")
    args = parser.parse_args(argv)
    if bool(args.audio) == args.mic:
        parser.error("give an audio file or --mic")
    if args.mic:
        from voxloop.api.devices import open_devices

        chunks = open_devices(RATE)[0].chunks()
    else:
        chunks = _file_chunks(args.audio)
    segments: list[Segment] = []
    try:
        asyncio.run(dictate(chunks, show=True, into=segments))
    except KeyboardInterrupt:  # --mic: Ctrl-C ends the dictation; keep what was heard
        pass
    segments.sort(key=lambda s: s.start)
    with open(args.output, "w", encoding="utf-8") as f:
        f.write(to_srt(segments))
    print(f"{len(segments)} cues written to {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
