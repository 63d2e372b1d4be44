"""Your own TTS backend: a class implementing the TTS stage contract, plugged into a Pipeline.

    python examples/custom_tts.py --port 8000

``TelephoneVoice`` speaks with the embedded Piper voice, then makes it sound like a phone
line: 8 kHz, band-limited to 300-3400 Hz. A backend implements one method,
``synthesize_sync``, yielding float32 mono chunks at ``self.sample_rate``; the base class runs
it off the event loop on a bounded executor, and loads weights once in ``_load``
(docs/python-api.md, "Your own backend"). Check it with ``await voxloop.check_engine(...)``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator

import numpy as np

import voxloop
from voxloop.audio import resample
from voxloop.engines import TTSEngine, TTSOptions, create_engine


class TelephoneVoice(TTSEngine):
    name = "telephone"
    sample_rate = 8000

    def __init__(self, low_hz: float = 300.0, high_hz: float = 3400.0) -> None:
        super().__init__(workers=1)
        self.low_hz, self.high_hz = low_hz, high_hz
        self._voice: TTSEngine | None = None

    def _load(self) -> None:  # once, under a lock, before the first synthesis
        voice = create_engine("tts")
        assert isinstance(voice, TTSEngine)
        voice.prewarm()
        self._voice = voice

    def describe(self) -> dict[str, str]:
        return {"backend": self.name, "band": f"{self.low_hz:g}-{self.high_hz:g} Hz", "voice": "embedded Piper"}

    def _phone_line(self, samples: np.ndarray, rate: int) -> np.ndarray:
        narrow = resample(samples, rate, self.sample_rate)
        spectrum = np.fft.rfft(narrow)
        freqs = np.fft.rfftfreq(len(narrow), 1 / self.sample_rate)
        spectrum[(freqs < self.low_hz) | (freqs > self.high_hz)] = 0
        out = np.fft.irfft(spectrum, len(narrow))
        return np.clip(out, -1.0, 1.0).astype(np.float32)

    def synthesize_sync(self, text: str, options: TTSOptions = TTSOptions()) -> Iterator[np.ndarray]:
        assert self._voice is not None
        for chunk in self._voice.synthesize_sync(text, TTSOptions(speed=options.speed)):
            yield self._phone_line(chunk, self._voice.sample_rate)


agent = voxloop.Agent("You are a friendly operator on a phone line. Answer in one short sentence.", name="operator")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="An agent speaking through a custom TTS backend.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)
    return voxloop.serve(agent, voxloop.Pipeline(tts=TelephoneVoice()), host=args.host, port=args.port)


if __name__ == "__main__":
    sys.exit(main())
