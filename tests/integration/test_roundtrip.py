"""Piper speaks a set of sentences; Whisper transcribes them back (corpus WER ≤ 10 %)."""

from __future__ import annotations

from typing import Any

import pytest

from voxloop.audio.pcm import Audio

pytestmark = pytest.mark.models

SENTENCES = [
    "The weather today is sunny with a light breeze.",
    "Please turn left at the next intersection.",
    "My appointment with the dentist is on Tuesday morning.",
    "Can you play some relaxing music in the kitchen?",
    "The library closes at eight in the evening.",
    "She bought three apples and a loaf of bread.",
    "How far is the nearest gas station from here?",
    "We are going to visit our grandparents next weekend.",
    "Remind me to call the office after lunch.",
    "The train to the airport leaves every twenty minutes.",
]


def test_piper_to_whisper_corpus_wer(real_tts: Any, real_asr: Any) -> None:
    import jiwer
    from whisper_normalizer.english import EnglishTextNormalizer

    norm = EnglishTextNormalizer()
    refs, hyps = [], []
    for text in SENTENCES:
        chunks = list(real_tts.synthesize_sync(text))
        import numpy as np

        audio = Audio(np.concatenate(chunks), real_tts.sample_rate).to(16000)
        hyps.append(norm(real_asr.transcribe_sync(audio).text))
        refs.append(norm(text))
    wer = jiwer.wer(refs, hyps)
    assert wer <= 0.10, list(zip(refs, hyps, strict=True))
