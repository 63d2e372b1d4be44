"""Turn-taking: input audio → VAD → speech started, tentative end, end of turn; live partials.

:class:`Listener` owns the input side of a session: the bounded 16 kHz input buffer, the VAD
stream, the semantic end-of-turn check (Smart Turn) and the live partial transcripts of the
utterance in progress. It tells its :class:`TurnHost` (the session) when the user starts
speaking, pauses (a tentative end: the reply may start speculatively), resumes, and ends a
turn; the host decides what to do with turns (transcribe, reply, interrupt).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, Protocol

import numpy as np

from voxloop.aio import cancel_and_wait, now
from voxloop.audio.pcm import Audio, Float32Array, StreamResampler, pcm16_to_float
from voxloop.engines.stack import EngineStack
from voxloop.engines.types import TranscribeOptions, VADEvent, VADOptions
from voxloop.errors import InvalidRequest, VoxloopError
from voxloop.session.config import SessionConfig
from voxloop.session.events import (
    SessionEvent,
    SpeechStarted,
    SpeechStopped,
    TranscriptDelta,
    TranscriptFailed,
    new_id,
)
from voxloop.session.transcriber import ASRScheduler, PartialTranscriber

__all__ = ["RATE", "InputBuffer", "Listener", "TurnHost"]

logger = logging.getLogger(__name__)

RATE = 16000
MAX_BUFFER_SECONDS = 600.0  # push-to-talk: the longest uncommitted input (then input_buffer_full)
# with turn detection, audio older than this before "now" is dropped unless an utterance needs it
# (covers the prefix padding, the minimum speech duration and the VAD's lag behind the input)
KEEP_IDLE_SECONDS = 3.0


class InputBuffer:
    """16 kHz input audio addressed by absolute stream time (seconds)."""

    def __init__(self) -> None:
        self._chunks: list[Float32Array] = []
        self.start = 0.0  # absolute time of the first kept sample
        self.end = 0.0  # absolute time after the last sample

    def append(self, x: Float32Array) -> None:
        if len(x):
            self._chunks.append(x)
            self.end += len(x) / RATE

    def samples(self, since: float | None = None) -> Float32Array:
        data = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.float32)
        if len(self._chunks) > 1:
            self._chunks = [data]
        if since is None or since <= self.start:
            return data
        return data[int((since - self.start) * RATE) :]

    def drop_before(self, t: float) -> None:
        if t <= self.start:
            return
        data = self.samples(t)
        self._chunks = [data] if len(data) else []
        self.start = min(t, self.end)

    def clear(self) -> None:
        self._chunks = []
        self.start = self.end

    @property
    def seconds(self) -> float:
        return self.end - self.start


class TurnHost(Protocol):
    """What turn-taking needs from the session it serves."""

    config: SessionConfig
    stack: EngineStack
    scheduler: ASRScheduler

    def control(self, ev: SessionEvent) -> None: ...

    def error(self, err: VoxloopError, event_id: str | None = None) -> None: ...

    def spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]: ...

    def transcribe_options(self) -> TranscribeOptions: ...

    async def speech_started(self, item_id: str, onset_wall: float) -> None: ...

    def tentative_end(self, item_id: str, audio: Audio) -> None: ...

    def resumed(self) -> None: ...

    def turn_ended(self, item_id: str, audio: Audio, end: float, end_wall: float) -> None: ...


class Listener:
    def __init__(self, host: TurnHost) -> None:
        self.host = host
        self.input = InputBuffer()
        self._resampler = StreamResampler(host.config.input_rate, RATE)
        self._vad: Any = None
        self._vad_task: asyncio.Task[None] | None = None
        self._vad_offset = 0.0
        self._last_append = now()
        self.utterance: str | None = None  # item id of the utterance in progress
        self._utt_start = 0.0
        self._partial_task: asyncio.Task[None] | None = None
        self._semantic_task: asyncio.Task[None] | None = None

    @property
    def config(self) -> SessionConfig:
        return self.host.config

    # ------------------------------------------------------------------ configuration
    def reconfigure(self, old: SessionConfig) -> None:
        config = self.config
        if config.input_rate != old.input_rate:
            self._resampler = StreamResampler(config.input_rate, RATE)
        if config.turn_detection != old.turn_detection:
            self.restart_vad()

    def _vad_options(self) -> VADOptions | None:
        td = self.config.turn_detection
        if td is None:
            return None
        # speculate on a tentative end of turn: the reply (conversation) or the final decode
        # (transcription) starts at the pause and is discarded if the user goes on
        spec = td.speculative_ms if td.create_response or self.config.type == "transcription" else 0
        return VADOptions(threshold=td.threshold, min_speech_ms=td.min_speech_ms,
                          min_silence_ms=td.silence_duration_ms, prefix_padding_ms=td.prefix_padding_ms,
                          pause_ms=spec if 0 < spec < td.silence_duration_ms else 0)

    def restart_vad(self) -> None:
        old, old_task = self._vad, self._vad_task
        self._vad = self._vad_task = None
        if old is not None:
            self.host.spawn(self._close_stream(old, old_task), "vad-close")
        options = self._vad_options()
        if options is None:
            return
        self._vad = self.host.stack.vad.stream(options)
        self._vad_offset = self.input.end  # VAD times are relative to this stream's start
        self._vad_task = self.host.spawn(self._vad_loop(self._vad), "vad")

    @staticmethod
    async def _close_stream(stream: Any, task: asyncio.Task[None] | None) -> None:
        await stream.aclose()
        await cancel_and_wait(task)

    async def aclose(self) -> None:
        if self._vad is not None:
            await self._close_stream(self._vad, self._vad_task)
            self._vad = self._vad_task = None

    # ------------------------------------------------------------------ input audio
    def append(self, pcm: bytes) -> None:
        try:
            x = pcm16_to_float(pcm)
        except ValueError as e:
            raise InvalidRequest(str(e), param="audio", code="invalid_audio") from e
        if self.config.turn_detection is None and self.input.seconds > MAX_BUFFER_SECONDS:
            raise InvalidRequest("input audio buffer is full: commit or clear it", code="input_buffer_full")
        x16 = self._resampler.push(x)
        self.input.append(x16)
        self._trim()
        self._last_append = now()
        if self._vad is not None:
            self._vad.push(x16)

    def _trim(self) -> None:
        """With turn detection the buffer keeps only what a pending turn can still need: the
        current utterance (from its padded start), else the last few seconds. Memory stays
        constant however long the session is quiet or talks."""
        td = self.config.turn_detection
        if td is None:
            return  # push-to-talk: the client commits or clears (bounded by MAX_BUFFER_SECONDS)
        end = self.input.end
        keep_from = end - KEEP_IDLE_SECONDS - td.prefix_padding_ms / 1000
        if self.utterance is not None:
            keep_from = self._utt_start
        keep_from = max(keep_from, end - MAX_BUFFER_SECONDS)
        if keep_from - self.input.start > 1.0:  # trim in steps, not on every append
            self.input.drop_before(keep_from)

    def wall(self, stream_time: float) -> float:
        """Monotonic time at which the sample at absolute ``stream_time`` arrived (real-time input)."""
        return self._last_append - max(0.0, self.input.end - stream_time)

    def take(self) -> tuple[str, Float32Array]:
        """Push-to-talk commit: the item id and all buffered audio (the buffer empties)."""
        samples = self.input.samples()
        self.input.clear()
        item_id = self.utterance or new_id("item")
        self.utterance = None
        self._stop_partials()
        return item_id, samples

    # ------------------------------------------------------------------ VAD events
    async def _vad_loop(self, stream: Any) -> None:
        try:
            async for ev in stream:
                await self.on_vad(ev)
        except VoxloopError as e:
            self.host.error(e)

    async def on_vad(self, ev: VADEvent) -> None:
        offset = self._vad_offset
        td = self.config.turn_detection
        if ev.kind == "start":
            self.utterance = item_id = new_id("item")
            self._utt_start = offset + max(0.0, ev.time - (td.prefix_padding_ms / 1000 if td else 0.3))
            self.host.control(SpeechStarted(item_id, int(1000 * (offset + ev.time))))
            await self.host.speech_started(item_id, self.wall(offset + ev.time))
            self._start_partials()
        elif ev.kind == "pause" and ev.audio is not None and self.utterance:
            self.host.tentative_end(self.utterance, ev.audio)
            if td is not None and td.semantic:
                wait = max(0.0, (td.semantic_check_ms - td.speculative_ms) / 1000)
                self._semantic_task = self.host.spawn(self._semantic_check(ev, wait, td.semantic_threshold),
                                                      f"smart-turn-{self.utterance}")
        elif ev.kind == "resume":
            self._cancel_semantic()
            self.host.resumed()
        elif ev.kind == "end" and ev.audio is not None and self.utterance:
            item_id, self.utterance = self.utterance, None
            self._cancel_semantic()
            self._stop_partials()
            end = offset + ev.time
            self.host.control(SpeechStopped(item_id, int(1000 * end)))
            self.host.turn_ended(item_id, ev.audio, end, self.wall(end))
            self.input.drop_before(end)

    async def _semantic_check(self, pause: VADEvent, wait: float, threshold: float) -> None:
        """After ``wait`` more seconds of silence, ask Smart Turn; end the turn if it is complete."""
        await asyncio.sleep(wait)
        assert pause.audio is not None
        if not await self._turn_complete(pause.audio, threshold) or self.utterance is None:
            return
        self._semantic_task = None  # this task must not cancel itself below
        if self._vad is not None:
            self._vad.segmenter.cut()
        await self.on_vad(VADEvent("end", pause.time, audio=pause.audio, speech_start=pause.speech_start))

    def _cancel_semantic(self) -> None:
        if self._semantic_task is not None:
            self._semantic_task.cancel()
            self._semantic_task = None

    async def _turn_complete(self, audio: Audio, threshold: float = 0.5) -> bool:
        try:
            p = await self.host.stack.get("turn").probability(audio)  # type: ignore[attr-defined]
        except VoxloopError as e:
            self.host.error(e)
            return False
        logger.debug("smart turn: p(complete)=%.2f", p)
        return bool(p > threshold)

    # ------------------------------------------------------------------ partials
    def _start_partials(self) -> None:
        self._stop_partials()
        if self.config.transcription is None or self.utterance is None:
            return
        item_id, start = self.utterance, self._utt_start

        def on_delta(delta: str) -> None:
            self.host.control(TranscriptDelta(item_id, delta))

        partials = PartialTranscriber(self.host.scheduler, self.host.transcribe_options(),
                                      lambda: self.input.samples(start), on_delta)
        self._partial_task = self.host.spawn(self._run_partials(partials, item_id), f"partials-{item_id}")

    async def _run_partials(self, partials: PartialTranscriber, item_id: str) -> None:
        """Live partials until cancelled; a failure is reported on the item, and the final
        transcription still runs when the turn ends."""
        try:
            await partials.run()
        except VoxloopError as e:
            self.host.control(TranscriptFailed(item_id, e.code, e.message))
        except Exception:
            logger.exception("partial transcription of %s crashed", item_id)
            self.host.control(TranscriptFailed(item_id, "internal_error", "partial transcription failed"))

    def _stop_partials(self) -> None:
        if self._partial_task is not None:
            self._partial_task.cancel()
            self._partial_task = None
