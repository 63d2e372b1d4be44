"""Transcription response bodies in OpenAI's formats, and the vocabulary pass over them."""

from __future__ import annotations

import json
import math
import zlib
from typing import Any

from voxloop.audio import to_srt, to_vtt
from voxloop.audio.subtitles import subtitle_cues
from voxloop.dialogue.vocabulary import Vocabulary
from voxloop.engines.types import Segment, Transcript, Word

__all__ = ["FORMATS", "apply_vocabulary", "render", "verbose_json"]

FORMATS = ("json", "text", "srt", "verbose_json", "vtt")

# OpenAI's verbose_json names the language in words ("english"); Whisper gives a code.
_LANGUAGE_NAMES = {
    "en": "english", "de": "german", "es": "spanish", "fr": "french", "it": "italian",
    "pt": "portuguese", "nl": "dutch", "ru": "russian", "zh": "chinese", "ja": "japanese",
    "ko": "korean", "ar": "arabic", "hi": "hindi", "tr": "turkish", "pl": "polish",
    "uk": "ukrainian", "sv": "swedish", "da": "danish", "no": "norwegian", "fi": "finnish",
    "cs": "czech", "el": "greek", "he": "hebrew", "hu": "hungarian", "id": "indonesian",
    "ro": "romanian", "th": "thai", "vi": "vietnamese", "ca": "catalan", "fa": "persian",
}


def render(transcript: Transcript, response_format: str, granularities: frozenset[str]) -> tuple[str, str]:
    """The response body and its media type."""
    if response_format == "text":
        return transcript.text.strip() + "\n", "text/plain; charset=utf-8"
    if response_format == "srt":
        return to_srt(subtitle_cues(transcript.segments)), "text/plain; charset=utf-8"
    if response_format == "vtt":
        return to_vtt(subtitle_cues(transcript.segments)), "text/vtt; charset=utf-8"
    if response_format == "verbose_json":
        body = verbose_json(transcript, granularities)
    else:
        body = {"text": transcript.text.strip(), "usage": _usage(transcript)}
    return json.dumps(body, ensure_ascii=False), "application/json"


def verbose_json(transcript: Transcript, granularities: frozenset[str]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "task": "transcribe",
        "language": _LANGUAGE_NAMES.get(transcript.language, transcript.language),
        "duration": round(transcript.duration, 3),
        "text": transcript.text.strip(),
    }
    if not granularities or "segment" in granularities:
        body["segments"] = [_segment(i, s) for i, s in enumerate(transcript.segments)]
    if "word" in granularities:
        body["words"] = [
            {"word": w.word.strip(), "start": round(w.start, 3), "end": round(w.end, 3)}
            for s in transcript.segments
            for w in s.words
            if w.word.strip()
        ]
    body["usage"] = _usage(transcript)
    return body


def _segment(index: int, s: Segment) -> dict[str, Any]:
    text = s.text.strip()
    data = text.encode("utf-8")
    return {
        "id": index,
        "seek": round(s.start * 100),  # in 10 ms frames, as Whisper counts
        "start": round(s.start, 3),
        "end": round(s.end, 3),
        "text": text,
        "tokens": [],
        "temperature": 0.0,
        "avg_logprob": s.avg_logprob,
        "compression_ratio": round(len(data) / len(zlib.compress(data)), 3) if data else 0.0,
        "no_speech_prob": s.no_speech_prob,
    }


def _usage(transcript: Transcript) -> dict[str, Any]:
    return {"type": "duration", "seconds": math.ceil(transcript.duration)}


def apply_vocabulary(transcript: Transcript, vocabulary: Vocabulary) -> Transcript:
    """The transcript with its text, segments and words corrected to the vocabulary;
    words a correction joins become one word spanning their times."""
    segments = tuple(_correct_segment(s, vocabulary) for s in transcript.segments)
    return Transcript(
        text=vocabulary.correct(transcript.text),
        language=transcript.language,
        duration=transcript.duration,
        segments=segments,
    )


def _correct_segment(segment: Segment, vocabulary: Vocabulary) -> Segment:
    words = list(segment.words)
    for start, end, text in reversed(vocabulary.correct_words([w.word for w in words])):
        first, last = words[start], words[end - 1]
        probability = min(w.probability for w in words[start:end])
        words[start:end] = [Word(first.start, last.end, text, probability)]
    return Segment(
        start=segment.start,
        end=segment.end,
        text=vocabulary.correct(segment.text),
        words=tuple(words),
        avg_logprob=segment.avg_logprob,
        no_speech_prob=segment.no_speech_prob,
    )
