from __future__ import annotations

import asyncio
import time
from typing import Any

import numpy as np

from tests.fakes import FakeASR
from voxloop.aio import cancel_and_wait
from voxloop.audio.pcm import Audio
from voxloop.engines.types import TranscribeOptions
from voxloop.server.pacer import Pacer
from voxloop.session.events import AudioOut, SpeechStarted
from voxloop.session.transcriber import ASRScheduler, Background, PartialTranscriber, agreed_prefix


async def test_control_overtakes_queued_media_and_audio_is_paced() -> None:
    sent: list[tuple[str, float]] = []

    async def send(ev: dict[str, Any]) -> None:
        sent.append((ev["type"], time.monotonic()))

    box = Pacer(send, lead=0.1)
    for _ in range(5):
        box.media(AudioOut("r1", "i1", np.zeros(2400, np.float32), 24000))
    box.control(SpeechStarted("i2", 0))
    task = asyncio.get_running_loop().create_task(box.run())
    await asyncio.sleep(0.05)
    assert sent[0][0] == "input_audio_buffer.speech_started"
    await asyncio.sleep(0.5)
    await cancel_and_wait(task)
    audio_times = [t for k, t in sent if k == "response.output_audio.delta"]
    assert len(audio_times) == 5
    # 0.5 s of audio with a 0.1 s lead cannot all leave at once
    assert audio_times[-1] - audio_times[0] > 0.2


async def test_drop_media_of_one_response() -> None:
    async def send(ev: dict[str, Any]) -> None:
        pass

    box = Pacer(send)
    box.media(AudioOut("r1", "i1", np.zeros(2400, np.float32), 24000))
    box.media(AudioOut("r2", "i2", np.zeros(2400, np.float32), 24000))
    assert box.drop_media("r1") == 1
    assert box.has_media("r2") and not box.has_media("r1")


def test_agreed_prefix_ignores_case_and_punctuation() -> None:
    assert agreed_prefix("Hello, world how".split(), "hello world, who".split()) == 2
    assert agreed_prefix([], ["a"]) == 0


async def test_partials_only_emit_agreed_words() -> None:
    asr = FakeASR("the quick brown fox jumps over the lazy dog")
    scheduler = ASRScheduler(asr)
    audio = np.zeros(0, np.float32)
    deltas: list[str] = []
    p = PartialTranscriber(scheduler, TranscribeOptions(), lambda: audio, deltas.append, interval=0.01,
                           min_new_audio=0.01)
    task = asyncio.get_running_loop().create_task(p.run())
    for _ in range(12):
        audio = np.zeros(len(audio) + 4800, np.float32)  # +0.3 s: one more word per decode
        await asyncio.sleep(0.06)
    await cancel_and_wait(task)
    text = "".join(deltas).split()
    assert text == "the quick brown fox jumps over the lazy dog".split()[: len(text)]
    assert len(text) >= 3


async def test_scheduler_capacity_and_priority() -> None:
    from voxloop.errors import OverloadedError

    scheduler = ASRScheduler(FakeASR(), slots=1, max_streams=1)
    scheduler.open_stream()
    try:
        scheduler.open_stream()
        raise AssertionError("expected OverloadedError")
    except OverloadedError as e:
        assert e.retryable
    scheduler.close_stream()


class Recording(FakeASR):
    """Notes the duration of each clip it decodes, in decode order."""

    def __init__(self, order: list[float]) -> None:
        super().__init__()
        self.order = order

    def transcribe_sync(self, audio: Audio, options: TranscribeOptions = TranscribeOptions()) -> Any:
        self.order.append(round(audio.duration, 1))
        return super().transcribe_sync(audio, options)


async def test_scheduler_serves_finals_before_queued_partials() -> None:
    order: list[float] = []
    scheduler = ASRScheduler(Recording(order), slots=1)

    def job(seconds: float, final: bool) -> Any:
        audio = Audio(np.zeros(int(16000 * seconds), np.float32), 16000)
        return asyncio.get_running_loop().create_task(scheduler.transcribe(audio, TranscribeOptions(), final=final))

    # the first takes the only slot; a partial queues, then a final queues behind it
    tasks = [job(0.1, True), job(0.2, False), job(0.3, False), job(0.4, True)]
    results = await asyncio.gather(*tasks)
    assert all(r.text for r in results)
    assert order == [0.1, 0.4, 0.2, 0.3]  # the final overtook both partials; partials stay in order


async def test_uploads_queue_behind_live_finals_and_partials() -> None:
    order: list[float] = []
    scheduler = ASRScheduler(Recording(order), slots=1)
    upload = Background(scheduler)
    loop = asyncio.get_running_loop()

    def clip(seconds: float) -> Audio:
        return Audio(np.zeros(int(16000 * seconds), np.float32), 16000)

    # an upload's first piece holds the slot; its next pieces, a partial and a final queue
    tasks = [loop.create_task(upload.transcribe(clip(0.1))), loop.create_task(upload.transcribe(clip(0.2))),
             loop.create_task(scheduler.transcribe(clip(0.3), TranscribeOptions(), final=False)),
             loop.create_task(upload.transcribe(clip(0.4))),
             loop.create_task(scheduler.transcribe(clip(0.5), TranscribeOptions(), final=True))]
    await asyncio.gather(*tasks)
    assert order == [0.1, 0.5, 0.3, 0.2, 0.4]  # the live final, then the partial, then the upload in order


async def test_a_pause_inside_a_reply_is_reported_as_a_gap_and_a_new_reply_is_not() -> None:
    """The client plays what it is sent back to back: when a reply's next chunk leaves after all
    it was sent before has played (the next clause was late), the user heard a pause."""
    async def send(ev: dict[str, Any]) -> None:
        pass

    gaps: list[float] = []
    box = Pacer(send, lead=0.0, on_gap=gaps.append)
    task = asyncio.get_running_loop().create_task(box.run())
    chunk = np.zeros(1200, np.float32)  # 50 ms at 24 kHz
    box.media(AudioOut("r1", "i1", chunk, 24000))
    await asyncio.sleep(0.25)  # played out 0.2 s ago
    box.media(AudioOut("r1", "i1", chunk, 24000))
    await asyncio.sleep(0.02)
    assert len(gaps) == 1 and 0.1 < gaps[0] < 5
    box.media(AudioOut("r1", "i1", chunk, 24000))  # while the last one plays: no pause
    await asyncio.sleep(0.25)
    box.media(AudioOut("r2", "i2", chunk, 24000))  # a new reply after a quiet moment: no pause either
    await asyncio.sleep(0.02)
    box.reset_playback()  # a barge-in: what follows starts afresh
    box.media(AudioOut("r2", "i2", chunk, 24000))
    await asyncio.sleep(0.02)
    await cancel_and_wait(task)
    assert len(gaps) == 1
