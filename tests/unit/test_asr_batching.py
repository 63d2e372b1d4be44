"""The ASR scheduler batches decodes an engine can run together (fake engine, no models)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Hashable, Sequence

import numpy as np
import pytest

from tests.fakes import FakeASR
from voxloop.aio import cancel_and_wait
from voxloop.audio.pcm import Audio
from voxloop.engines.types import TranscribeOptions, Transcript
from voxloop.errors import BackendError
from voxloop.session.transcriber import ASRScheduler


class Batching(FakeASR):
    """Batches clips of equal ``prompt``; notes each call's clip durations; can be held or made to fail."""

    def __init__(self) -> None:
        super().__init__()
        self.calls_seen: list[list[float]] = []
        self.gate = threading.Event()
        self.gate.set()
        self.fail_batches = False
        self.fail_alone: set[float] = set()

    def batch_key(self, audio: Audio, options: TranscribeOptions) -> Hashable | None:
        return options.prompt

    def transcribe_sync(self, audio: Audio, options: TranscribeOptions = TranscribeOptions()) -> Transcript:
        self.gate.wait(5)
        seconds = round(audio.duration, 1)
        self.calls_seen.append([seconds])
        if seconds in self.fail_alone:
            raise BackendError(f"cannot decode {seconds}")
        return Transcript(f"clip {seconds}", "en", audio.duration)

    def transcribe_batch_sync(self, items: Sequence[tuple[Audio, TranscribeOptions]]) -> list[Transcript]:
        self.gate.wait(5)
        seconds = [round(a.duration, 1) for a, _ in items]
        self.calls_seen.append(seconds)
        if self.fail_batches:
            raise BackendError("batch failed")
        return [Transcript(f"clip {s}", "en", s) for s in seconds]


def clip(seconds: float) -> Audio:
    return Audio(np.zeros(int(16000 * seconds), np.float32), 16000)


def opts(prompt: str | None = "k") -> TranscribeOptions:
    return TranscribeOptions(prompt=prompt)


async def test_waiting_decodes_of_one_key_and_priority_share_a_call() -> None:
    engine = Batching()
    scheduler = ASRScheduler(engine, slots=1)
    waits: list[int] = []
    scheduler.on_wait = lambda seconds, priority: waits.append(priority)
    # the first takes the slot alone; the rest queue: partials of key k, one of key j, a final
    loop = asyncio.get_running_loop()
    tasks = [loop.create_task(scheduler.transcribe(clip(0.1), opts(), final=False))]
    tasks += [loop.create_task(scheduler.transcribe(clip(s), opts(), final=False)) for s in (0.2, 0.3, 0.4)]
    tasks.append(loop.create_task(scheduler.transcribe(clip(0.5), opts("j"), final=False)))
    tasks.append(loop.create_task(scheduler.transcribe(clip(0.6), opts(), final=True)))
    results = await asyncio.gather(*tasks)
    assert [r.text for r in results] == [f"clip {s}" for s in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6)]
    # the final first (alone: no other final), then the partials of k together, then j's
    assert engine.calls_seen == [[0.1], [0.6], [0.2, 0.3, 0.4], [0.5]]
    assert scheduler.batched == 3
    assert sorted(waits) == [0, 1, 1, 1, 1, 1]  # every decode's wait is reported
    assert scheduler.busy == 0 and scheduler.queued == 0


async def test_a_batch_holds_at_most_max_batch() -> None:
    engine = Batching()
    scheduler = ASRScheduler(engine, slots=1, max_batch=3)
    durations = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]
    await asyncio.gather(*(scheduler.transcribe(clip(s), opts(), final=False) for s in durations))
    assert engine.calls_seen == [[0.1], [0.2, 0.3, 0.4], [0.5, 0.6, 0.7]]


async def test_engines_without_a_key_decode_alone() -> None:
    engine = Batching()
    scheduler = ASRScheduler(engine, slots=1)
    await asyncio.gather(*(scheduler.transcribe(clip(s), opts(None)) for s in (0.1, 0.2, 0.3)))
    assert engine.calls_seen == [[0.1], [0.2], [0.3]]
    assert scheduler.batched == 0


async def test_a_failed_batch_is_decoded_one_by_one_and_errors_stay_with_their_clip() -> None:
    engine = Batching()
    engine.fail_batches = True
    engine.fail_alone = {0.3}
    scheduler = ASRScheduler(engine, slots=1)
    results = await asyncio.gather(*(scheduler.transcribe(clip(s), opts()) for s in (0.1, 0.2, 0.3, 0.4)),
                                   return_exceptions=True)
    assert [getattr(r, "text", None) for r in results] == ["clip 0.1", "clip 0.2", None, "clip 0.4"]
    assert isinstance(results[2], BackendError)
    assert engine.calls_seen == [[0.1], [0.2, 0.3, 0.4], [0.2], [0.3], [0.4]]
    # the scheduler keeps serving
    assert (await scheduler.transcribe(clip(0.5), opts())).text == "clip 0.5"


async def test_a_caller_that_goes_away_does_not_strand_the_others() -> None:
    engine = Batching()
    engine.gate.clear()  # the first decode holds the slot until the gate opens
    scheduler = ASRScheduler(engine, slots=1)
    loop = asyncio.get_running_loop()
    first = loop.create_task(scheduler.transcribe(clip(0.1), opts()))
    queued = [loop.create_task(scheduler.transcribe(clip(s), opts())) for s in (0.2, 0.3, 0.4)]
    await asyncio.sleep(0.05)
    assert scheduler.busy == 1 and scheduler.queued == 3
    await cancel_and_wait(queued[1])  # leaves the queue before it is decoded
    await cancel_and_wait(first)  # its decode goes on in the engine; the slot frees when it ends
    assert scheduler.queued == 2
    engine.gate.set()
    assert [(await t).text for t in (queued[0], queued[2])] == ["clip 0.2", "clip 0.4"]
    assert engine.calls_seen == [[0.1], [0.2, 0.4]]
    assert scheduler.busy == 0


async def test_close_cancels_decodes_in_flight() -> None:
    engine = Batching()
    engine.gate.clear()
    scheduler = ASRScheduler(engine, slots=1)
    task = asyncio.get_running_loop().create_task(scheduler.transcribe(clip(0.1), opts()))
    await asyncio.sleep(0.05)
    await scheduler.close()
    with pytest.raises(asyncio.CancelledError):
        await task
    engine.gate.set()
    assert scheduler.busy == 0


async def test_partials_batch_on_all_slots_but_one_so_finals_find_a_slot() -> None:
    engine = Batching()
    engine.gate.clear()
    scheduler = ASRScheduler(engine, slots=2, max_batch=3)
    loop = asyncio.get_running_loop()
    # two lone decodes take both slots; six partials queue
    first = [loop.create_task(scheduler.transcribe(clip(s), opts(), final=False)) for s in (0.1, 0.2)]
    partials = [loop.create_task(scheduler.transcribe(clip(s), opts(), final=False))
                for s in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)]
    await asyncio.sleep(0.05)
    engine.gate.set()
    await asyncio.gather(*first, *partials)
    # the first slot to free batches three; while that batch runs, the other slot takes one at a time
    assert engine.calls_seen[:4] == [[0.1], [0.2], [0.3, 0.4, 0.5], [0.6]]
    assert sorted(s for c in engine.calls_seen for s in c) == [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]
    assert scheduler.busy == 0


async def test_finals_batch_on_every_slot() -> None:
    engine = Batching()
    engine.gate.clear()
    scheduler = ASRScheduler(engine, slots=2, max_batch=3)
    loop = asyncio.get_running_loop()
    tasks = [loop.create_task(scheduler.transcribe(clip(s), opts())) for s in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)]
    await asyncio.sleep(0.05)
    engine.gate.set()
    await asyncio.gather(*tasks)
    assert engine.calls_seen == [[0.1], [0.2], [0.3, 0.4, 0.5], [0.6, 0.7, 0.8]]
