"""Named voices: one TTS engine per voice, picked per request by ``TTSOptions.voice``.

The server's ``[voices]`` table maps names to voice specs: a Piper ``.onnx`` path (or
``piper:PATH``), ``piper`` (the embedded en_US-joe-medium) or ``espeak:VOICE``. The embedded
Piper voice is always there as ``joe``. A name the bank does not know — OpenAI's ``alloy``,
which SDKs send by default, say — falls back to the default voice without an error (a remote
``openai:`` default engine gets the name passed through: it may know it).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import replace

from voxloop.audio.pcm import Audio, Float32Array, resample
from voxloop.engines.base import TTSEngine
from voxloop.engines.types import TTSOptions
from voxloop.errors import InvalidRequest

__all__ = ["EMBEDDED_VOICE", "VoiceBank", "build_voice_bank", "parse_voices", "voice_spec"]

EMBEDDED_VOICE = "joe"
DEFAULT_OPTIONS = TTSOptions()


def voice_spec(spec: str) -> str:
    """A ``[voices]`` value → a TTS backend spec (``/v/x.onnx`` → ``piper:/v/x.onnx``)."""
    s = spec.strip()
    if s == "piper" or s.startswith(("piper:", "espeak:")) or s == "espeak":
        return s
    if s.endswith(".onnx"):
        return f"piper:{s}"
    raise InvalidRequest(f"voice {spec!r}: expected a Piper .onnx path, piper:PATH or espeak:VOICE",
                         param="voices")


def parse_voices(text: str) -> dict[str, str]:
    """``"name=spec,name2=spec2"`` (the flag and environment form) → ``{name: backend spec}``."""
    out: dict[str, str] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        name, sep, spec = part.partition("=")
        name = name.strip()
        if not sep or not name or not spec.strip():
            raise InvalidRequest(f"voices: {part!r} must be NAME=SPEC", param="voices")
        if name.lower() == EMBEDDED_VOICE:
            raise InvalidRequest(f"voices: the name {EMBEDDED_VOICE!r} is the embedded Piper voice", param="voices")
        if name in out:
            raise InvalidRequest(f"voices: {name!r} is given twice", param="voices")
        out[name] = voice_spec(spec)
    return out


class VoiceBank(TTSEngine):
    """A TTS engine over named voices; ``options.voice`` picks one, anything else the default."""

    name = "voices"

    def __init__(self, default: TTSEngine, voices: Mapping[str, TTSEngine]) -> None:
        super().__init__(workers=1)
        self.default = default
        self.voices = dict(voices)

    @property
    def sample_rate(self) -> int:
        return self.default.sample_rate

    @sample_rate.setter
    def sample_rate(self, value: int) -> None:  # the default engine's rate is authoritative
        pass

    def engines(self) -> list[TTSEngine]:
        seen: list[TTSEngine] = [self.default]
        seen += [e for e in self.voices.values() if all(e is not s for s in seen)]
        return seen

    def pick(self, options: TTSOptions) -> tuple[TTSEngine, TTSOptions]:
        engine = self.voices.get(options.voice or "")
        if engine is not None:
            return engine, replace(options, voice=None)
        if self.default.name == "openai":  # a remote server may know OpenAI's voice names
            return self.default, options
        return self.default, replace(options, voice=None)

    def prewarm(self) -> None:
        for engine in self.engines():
            engine.prewarm()
        super().prewarm()

    def describe(self) -> dict[str, str]:
        return {**self.default.describe(), "voices": ", ".join(sorted(self.voices))}

    def synthesize_sync(self, text: str, options: TTSOptions = DEFAULT_OPTIONS) -> Iterator[Float32Array]:
        engine, opts = self.pick(options)
        for chunk in engine.synthesize_sync(text, opts):
            yield chunk if engine.sample_rate == self.sample_rate else resample(
                chunk, engine.sample_rate, self.sample_rate)

    def synthesize(self, text: str, options: TTSOptions = DEFAULT_OPTIONS) -> AsyncIterator[Audio]:
        engine, opts = self.pick(options)
        rate = self.sample_rate

        async def gen() -> AsyncIterator[Audio]:
            async for chunk in engine.synthesize(text, opts):
                yield chunk if chunk.sample_rate == rate else chunk.to(rate)

        return gen()

    def close(self) -> None:
        for engine in self.engines():
            engine.close()
        super().close()


def build_voice_bank(default: TTSEngine, default_spec: str, voices: Mapping[str, str]) -> VoiceBank:
    """The bank for a server: ``joe`` (the default engine when it is the embedded Piper, else a
    new embedded Piper engine) plus every configured voice."""
    from voxloop.engines.registry import create_engine

    engines: dict[str, TTSEngine] = {}
    if default.name == "piper" and default_spec.strip() == "piper":
        engines[EMBEDDED_VOICE] = default
    for name, spec in voices.items():
        engine = create_engine("tts", spec)
        assert isinstance(engine, TTSEngine)
        engines[name] = engine
    if EMBEDDED_VOICE not in engines and voices:
        engines[EMBEDDED_VOICE] = _embedded_piper()
    return VoiceBank(default, engines)


def _embedded_piper() -> TTSEngine:
    from voxloop.engines.registry import create_engine

    engine = create_engine("tts", "piper")
    assert isinstance(engine, TTSEngine)
    return engine
