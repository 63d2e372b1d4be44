"""Named voices with the real Piper engine: a voice configured by .onnx path is used when named;
an unknown name (OpenAI's "alloy") speaks with the default voice, without an error."""

from __future__ import annotations

import numpy as np
import pytest

from voxloop.engines.models import embedded_piper_voice
from voxloop.engines.stack import EngineSpecs, EngineStack
from voxloop.engines.tts.voices import VoiceBank
from voxloop.engines.types import TTSOptions

pytestmark = pytest.mark.models


def test_piper_voice_by_path_and_fallback() -> None:
    stack = EngineStack(EngineSpecs(voices=(("copy", f"piper:{embedded_piper_voice()}"),)))
    try:
        bank = stack.tts
        assert isinstance(bank, VoiceBank) and set(bank.voices) == {"joe", "copy"}
        stack.prewarm(("tts",))
        named = np.concatenate(list(bank.synthesize_sync("Hello there.", TTSOptions(voice="copy"))))
        unknown = np.concatenate(list(bank.synthesize_sync("Hello there.", TTSOptions(voice="alloy"))))
        assert named.size > 0.3 * bank.sample_rate and unknown.size > 0.3 * bank.sample_rate
        assert bank.voices["copy"] is not bank.default
    finally:
        stack.close()
