"""Whisper post-processing without a model: no-speech rule, loops, word timing, joining."""

from __future__ import annotations

import numpy as np
import pytest

from voxloop.engines.asr.align import TimedWord, finalize_words, merge_punctuation, time_words
from voxloop.engines.asr.longform import join_transcripts, shift_segments
from voxloop.engines.asr.rules import (
    NoSpeechRule,
    has_repetition_loop,
    is_near_silent,
    is_no_speech,
)
from voxloop.engines.types import Segment, Transcript, Word


@pytest.mark.parametrize(
    ("no_speech_prob", "avg_logprob", "text", "expected"),
    [
        (0.9, -1.5, "I'm so", True),  # Whisper's rule: both thresholds
        (0.9, -0.5, "Hello there, how are you?", False),  # confident text wins
        (0.3, -1.5, "Mumbled words", False),  # hard audio, but speech
        (0.7, -0.2, "Thank you.", True),  # a classic invention on noise
        (0.7, -0.2, "you", True),
        (0.1, -0.2, "Thank you.", False),  # ...but real when the model hears speech
        (0.1, -1.2, "la " * 40, True),  # repetition loop with low confidence
    ],
)
def test_no_speech_rule(
    no_speech_prob: float, avg_logprob: float, text: str, expected: bool
) -> None:
    assert is_no_speech(no_speech_prob, avg_logprob, text) is expected


def test_no_speech_rule_thresholds_are_options() -> None:
    lenient = NoSpeechRule(no_speech_threshold=0.95, hallucination_no_speech=0.95)
    assert not is_no_speech(0.9, -1.5, "I'm so", lenient)


def test_near_silence_gate() -> None:
    assert is_near_silent(np.zeros(16000, np.float32), 1e-3)
    assert is_near_silent(np.full(16000, 1e-4, np.float32), 1e-3)
    assert is_near_silent(np.zeros(0, np.float32), 1e-3)
    assert is_near_silent(np.zeros(100, np.float32), 1e-3)
    speechy = np.zeros(32000, np.float32)
    speechy[10000:12000] = 0.1  # one loud 125 ms burst is enough to decode
    assert not is_near_silent(speechy, 1e-3)


def test_repetition_loops() -> None:
    phrase = [11, 12, 13, 14, 15]
    assert has_repetition_loop([1, 2, 3, *phrase, *phrase, *phrase])
    assert has_repetition_loop([1, 2, *phrase, *phrase, 9])
    assert not has_repetition_loop(list(range(60)))
    assert not has_repetition_loop([1, 2, 1, 2])  # "very very", "no no": short and natural
    assert not has_repetition_loop([])


def test_time_words_from_alignment_path() -> None:
    # 3 words of 1, 2 and 1 tokens (+ EOT group); path: token index -> encoder position
    words = [" a", " bc", ".", "<eot>"]
    word_tokens = [[1], [2, 3], [4], [99]]
    path = [(0, 0), (1, 10), (1, 11), (2, 20), (3, 30), (4, 40)]
    probs = [0.9, 0.8, 0.6, 0.5]
    timed = time_words(words, word_tokens, path, probs)
    assert [w.word for w in timed] == [" a", " bc", "."]
    assert [(w.start, w.end) for w in timed] == [(0.0, 0.2), (0.2, 0.6), (0.6, 0.8)]
    assert timed[1].probability == pytest.approx(0.7)
    assert time_words([], [], path, probs) == []


def test_merge_punctuation() -> None:
    ws = [
        TimedWord(' "', 0, 0, 1.0, [1]),
        TimedWord("Hi", 0, 1, 1.0, [2]),
        TimedWord(",", 1, 1, 1.0, [3]),
        TimedWord(" you", 1, 2, 1.0, [4]),
        TimedWord(".", 2, 2, 1.0, [5]),
    ]
    merged = merge_punctuation(ws)
    assert [w.word for w in merged] == [' "Hi,', " you."]
    assert merged[0].tokens == [1, 2, 3]


def test_finalize_words_is_monotonic_and_clamped() -> None:
    ws = [
        TimedWord(" one", 0.5, 0.2, 0.9),  # end before start
        TimedWord(" two", 0.1, 0.9, 0.9),  # starts before the previous word ends
        TimedWord(" three", 1.5, 9.0, 0.9),  # runs past the audio
    ]
    out = finalize_words(ws, offset=10.0, duration=2.0)
    assert [w.word for w in out] == [" one", " two", " three"]
    prev_end = 10.0
    for w in out:
        assert prev_end <= w.start <= w.end <= 12.0
        prev_end = w.end


def test_shift_and_join_transcripts() -> None:
    a = Transcript(
        "Hello.", "en", 5.0, (Segment(0.0, 5.0, "Hello.", (Word(0.5, 1.0, " Hello."),)),)
    )
    b = Transcript("", "en", 5.0, ())
    c = Transcript(
        "World.", "en", 3.0, (Segment(0.0, 3.0, "World.", (Word(0.2, 0.7, " World."),)),)
    )
    shifted = shift_segments(c, 10.0)
    assert shifted[0].start == 10.0 and shifted[0].words[0].start == pytest.approx(10.2)
    joined = join_transcripts([(10.0, c), (0.0, a), (5.0, b)], 13.0, "en")
    assert joined.text == "Hello. World."
    assert [s.start for s in joined.segments] == [0.0, 10.0]
    assert joined.duration == 13.0
    assert join_transcripts([], 4.0, "fr") == Transcript("", "fr", 4.0, ())
