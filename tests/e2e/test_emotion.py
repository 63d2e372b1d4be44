"""Emotion over a real socket with the real models: Piper speaks an angry turn, Whisper hears
it, the client that opted in gets ``voxloop.input_emotion``; one that did not, never."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from tests.e2e.test_realtime import connect
from tests.support import running_server, silence, speak

pytestmark = pytest.mark.models

ANGRY = "This is ridiculous. I hate this stupid thing!"


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with running_server() as base:
        yield base


@pytest.mark.parametrize("events", [True, False])
async def test_a_spoken_angry_turn_is_reported_only_to_opted_in_clients(server: str, events: bool) -> None:
    turn = np.concatenate([silence(0.5), speak(ANGRY), silence(1.5)])
    async for c in connect(server):
        await c.send("session.update", session={"type": "realtime", "voxloop": {"events": events}})
        await c.until(lambda e: e["type"] == "session.updated", 10)
        c.stream_audio(turn)
        await c.until(lambda e: e["type"] == "response.done")
        heard = c.of("conversation.item.input_audio_transcription.completed")[0]
        got = c.of("voxloop.input_emotion")
        if not events:
            assert got == []
            continue
        (ev,) = got
        assert ev["item_id"] == heard["item_id"]
        assert ev["emotion"]["label"] in ("angry", "frustrated"), (heard["transcript"], ev)
        assert ev["emotion"]["source"] == "text"  # the first turn: no voice baseline yet
        assert 60 < ev["voice"]["f0_median_hz"] < 250 and ev["voice"]["words_per_second"] > 1
