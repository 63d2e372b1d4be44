"""The stage contract, as a check a third-party backend can run in its own tests:
``await voxloop.check_engine(MyTTS())`` raises :class:`ContractError` saying what is wrong.

What each stage must do (docs/python-api.md, "Your own backend"): subclass the stage's base
class from ``voxloop.engines`` and implement one method; the base class owns the bounded
executor, lazy loading (``_load``, once, under a lock) and the async face sessions use.

- TTS: ``synthesize_sync(text, options) -> Iterator[float32 ndarray]`` at ``self.sample_rate``
- ASR: ``transcribe_sync(audio_16k, options) -> Transcript``
- LLM: ``chat(messages, options) -> LLMStream`` (text deltas; ``aclose`` stops generation)
- VAD: ``speech_probabilities(samples_16k)`` (one per 512-sample chunk) and ``stream(options)``
"""

from __future__ import annotations

import numpy as np

from voxloop.audio.pcm import Audio
from voxloop.engines.base import ASREngine, Engine, LLMEngine, TTSEngine, VADEngine
from voxloop.engines.types import ChatMessage, LLMOptions, Transcript, TTSOptions

__all__ = ["ContractError", "check_engine"]


class ContractError(AssertionError):
    """An engine breaks its stage's contract; the message names the engine and the rule."""


def _require(ok: bool, engine: Engine, rule: str) -> None:
    if not ok:
        raise ContractError(f"{type(engine).__name__} ({engine.stage}): {rule}")


async def _tts(engine: TTSEngine) -> None:
    _require(isinstance(engine.sample_rate, int) and 8000 <= engine.sample_rate <= 96000, engine,
             "sample_rate must be an int between 8000 and 96000")
    for options in (TTSOptions(), TTSOptions(speed=1.5, voice="unknown-voice-name")):
        chunks = [c async for c in engine.synthesize("Hello there. How are you today?", options)]
        _require(bool(chunks), engine, "synthesize_sync must yield at least one chunk for a sentence")
        for c in chunks:
            _require(isinstance(c, Audio) and c.sample_rate == engine.sample_rate, engine,
                     "chunks must be at the engine's sample_rate")
            s = c.samples
            _require(isinstance(s, np.ndarray) and s.dtype == np.float32 and s.ndim == 1, engine,
                     "chunks must be 1-D float32 numpy arrays (mono)")
            _require(bool(np.all(np.isfinite(s))) and float(np.max(np.abs(s), initial=0.0)) <= 1.0, engine,
                     "samples must be finite and within [-1, 1]")
        _require(sum(len(c.samples) for c in chunks) > 0.1 * engine.sample_rate, engine,
                 "a sentence must make more than 0.1 s of audio")
    empty = [c async for c in engine.synthesize("", TTSOptions())]
    _require(sum(len(c.samples) for c in empty) < engine.sample_rate, engine, "empty text must make (almost) no audio")


async def _asr(engine: ASREngine) -> None:
    result = await engine.transcribe(Audio(np.zeros(16000, np.float32), 16000))
    _require(isinstance(result, Transcript) and isinstance(result.text, str), engine,
             "transcribe_sync must return a Transcript")


async def _llm(engine: LLMEngine) -> None:
    stream = engine.chat([ChatMessage("system", "Answer briefly."), ChatMessage("user", "Hi.")],
                         LLMOptions(max_tokens=8))
    try:
        deltas = [d async for d in stream]
    finally:
        await stream.aclose()
    _require(all(isinstance(d, str) for d in deltas) and bool("".join(str(d) for d in deltas).strip()), engine,
             "chat must stream text deltas (str) when no tools are offered")
    _require(isinstance(engine.count_tokens("a few words"), int), engine, "count_tokens must return an int")


async def _vad(engine: VADEngine) -> None:
    probs = await engine.run_blocking(engine.speech_probabilities, np.zeros(16000, np.float32))
    _require(len(probs) == 16000 // engine.chunk_samples, engine, "one probability per chunk_samples chunk")
    _require(bool(np.all((probs >= 0) & (probs <= 1))), engine, "probabilities must be within [0, 1]")
    stream = engine.stream()
    stream.push(np.zeros(16000, np.float32))
    stream.end_input()
    events = [e async for e in stream]
    await stream.aclose()
    _require(not [e for e in events if e.kind == "start"], engine, "silence must not start speech")


async def check_engine(engine: Engine) -> None:
    """Run the stage contract's checks on ``engine`` (loads it; cheap inferences only)."""
    checks = ((TTSEngine, _tts), (ASREngine, _asr), (LLMEngine, _llm), (VADEngine, _vad))
    for base, check in checks:
        if isinstance(engine, base):
            _require(bool(engine.name), engine, "set the class attribute 'name' (shown in logs and `voxloop models`)")
            _require(isinstance(engine.describe(), dict), engine, "describe() must return a dict")
            engine.prewarm()
            engine.prewarm()  # idempotent
            await check(engine)  # type: ignore[arg-type]
            return
    raise ContractError(f"{type(engine).__name__} is not a VADEngine, ASREngine, LLMEngine or TTSEngine")
