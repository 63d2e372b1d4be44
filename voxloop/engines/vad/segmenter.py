"""Turn per-chunk speech probabilities into speech start/end events. Pure, no I/O."""

from __future__ import annotations

from collections import deque

import numpy as np

from voxloop.audio.pcm import Audio, Float32Array
from voxloop.engines.types import VADEvent, VADOptions

__all__ = ["SpeechSegmenter"]

_HYSTERESIS = 0.15  # Silero's recipe: leave speech only below threshold - 0.15


class SpeechSegmenter:
    """Hysteresis state machine over fixed-size chunks (16 kHz).

    ``start`` is emitted once speech has lasted ``min_speech_ms``; its ``time`` is when
    the speech began. ``end`` is emitted after ``min_silence_ms`` of silence and carries the
    utterance audio from ``prefix_padding_ms`` before the onset to the end of speech.
    """

    def __init__(self, options: VADOptions, chunk_samples: int = 512, sample_rate: int = 16000) -> None:
        self.options = options
        self.chunk = chunk_samples
        self.rate = sample_rate
        chunk_ms = 1000 * chunk_samples / sample_rate
        self._min_speech = max(1, round(options.min_speech_ms / chunk_ms))
        self._min_silence = max(1, round(options.min_silence_ms / chunk_ms))
        self._prefix = round(options.prefix_padding_ms / chunk_ms)
        self._pause = round(options.pause_ms / chunk_ms) if options.pause_ms else 0
        self._paused = False
        self._history: deque[Float32Array] = deque(maxlen=self._prefix + self._min_speech + 1)
        self._utterance: list[Float32Array] = []
        self._chunks_seen = 0
        self._speaking = False  # a start event was emitted
        self._candidate = 0  # consecutive speech chunks before a start
        self._silence = 0  # consecutive silent chunks while speaking
        self._onset_chunk = 0
        self.probability = 0.0

    @property
    def speaking(self) -> bool:
        return self._speaking

    def _t(self, chunk_index: int) -> float:
        return chunk_index * self.chunk / self.rate

    def feed(self, audio: Float32Array, probability: float) -> list[VADEvent]:
        """Feed one chunk and its speech probability; return the events it triggers."""
        self.probability = probability
        idx = self._chunks_seen
        self._chunks_seen += 1
        events: list[VADEvent] = []
        threshold = self.options.threshold
        if not self._speaking:
            self._history.append(audio)
            if probability >= threshold:
                self._candidate += 1
                if self._candidate >= self._min_speech:
                    self._speaking = True
                    self._silence = 0
                    self._onset_chunk = idx - self._candidate + 1
                    start = max(0, self._onset_chunk - self._prefix)
                    keep = idx - start + 1
                    self._utterance = list(self._history)[-keep:]
                    self._history.clear()
                    events.append(VADEvent("start", self._t(self._onset_chunk), speech_start=self._t(self._onset_chunk)))
            elif probability < threshold - _HYSTERESIS or self._candidate == 0:
                self._candidate = 0
            return events
        self._utterance.append(audio)
        if probability < threshold - _HYSTERESIS:
            self._silence += 1
            if self._silence >= self._min_silence:
                events.append(self._end(idx))
            elif self._pause and self._silence == self._pause and not self._paused:
                self._paused = True
                events.append(VADEvent("pause", self._t(idx + 1 - self._silence), audio=self._audio_so_far(),
                                       speech_start=self._t(self._onset_chunk)))
        elif probability >= threshold or self._silence == 0:
            self._silence = 0
            if self._paused:
                self._paused = False
                events.append(VADEvent("resume", self._t(idx), speech_start=self._t(self._onset_chunk)))
        return events

    def _audio_so_far(self) -> Audio:
        tail = min(self._silence, max(1, round(200 / (1000 * self.chunk / self.rate))))
        drop = self._silence - tail
        chunks = self._utterance[: len(self._utterance) - drop] if drop else self._utterance
        samples = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
        return Audio(samples.astype(np.float32), self.rate)

    def _end(self, idx: int) -> VADEvent:
        # keep a short tail of the silence (up to 200 ms) so trailing consonants survive
        end_time = self._t(idx + 1 - self._silence)
        event = VADEvent("end", end_time, audio=self._audio_so_far(), speech_start=self._t(self._onset_chunk))
        self._speaking = False
        self._paused = False
        self._candidate = 0
        self._silence = 0
        self._utterance = []
        return event

    def cut(self) -> None:
        """Close the current utterance silently (the caller ended the turn early)."""
        self._speaking = False
        self._paused = False
        self._candidate = 0
        self._silence = 0
        self._utterance = []

    def finish(self) -> list[VADEvent]:
        """End of input: close an open utterance."""
        if self._speaking:
            return [self._end(self._chunks_seen - 1)]
        return []
