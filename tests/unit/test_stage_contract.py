"""The stage contract (``voxloop.check_engine``): the test fakes and a user-written engine
pass it and plug into ``Pipeline``; an engine that breaks a rule fails with the rule named."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

import voxloop
from tests.fakes import FakeASR, FakeLLM, FakeTTS
from voxloop.engines import TTSEngine, TTSOptions
from voxloop.engines.vad.energy import EnergyVAD


class ToneTTS(TTSEngine):
    """A user's backend: one beep per word."""

    name = "tone"
    sample_rate = 16000

    def __init__(self) -> None:
        super().__init__(workers=1)

    def synthesize_sync(self, text: str, options: TTSOptions = TTSOptions()) -> Iterator[np.ndarray]:
        t = np.arange(int(0.15 * self.sample_rate / options.speed)) / self.sample_rate
        for _ in text.split():
            yield (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)


class LoudTTS(ToneTTS):
    name = "loud"

    def synthesize_sync(self, text: str, options: TTSOptions = TTSOptions()) -> Iterator[np.ndarray]:
        for chunk in super().synthesize_sync(text, options):
            yield (chunk * 10).astype(np.float64)  # float64 and clipping: two broken rules


@pytest.mark.parametrize("engine", [FakeASR(), FakeLLM(), FakeTTS(), EnergyVAD(), ToneTTS()],
                         ids=lambda e: type(e).__name__)
async def test_engines_pass_the_contract(engine: voxloop.VADEngine) -> None:
    try:
        await voxloop.check_engine(engine)
    finally:
        engine.close()


async def test_a_broken_engine_fails_with_the_rule_named() -> None:
    engine = LoudTTS()
    with pytest.raises(voxloop.ContractError, match="LoudTTS \\(tts\\): chunks must be 1-D float32"):
        await voxloop.check_engine(engine)
    engine.close()
    with pytest.raises(voxloop.ContractError, match="is not a VADEngine"):
        await voxloop.check_engine(object())  # type: ignore[arg-type]


def test_a_user_engine_plugs_into_a_pipeline() -> None:
    tts = ToneTTS()
    pipeline = voxloop.Pipeline(tts=tts, vad="energy")
    stack = pipeline.stack()
    assert stack.tts is tts and pipeline.specs.vad == "energy"
    assert "tts=ToneTTS" in repr(pipeline)
    tts.close()
