"""Live dictation over ``/v1/realtime?intent=transcription`` with the real models."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.e2e.test_realtime import _drain, connect
from tests.support import music, running_server, silence
from voxloop.audio import decode_file

pytestmark = pytest.mark.models


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with running_server() as base:
        yield base


async def test_live_partials_then_final(server: str, eval_speech: Path) -> None:
    jfk = decode_file(eval_speech / "en/jfk.wav", 24000).samples
    async for c in connect(server, "intent=transcription"):
        await c.send("session.update", session={"type": "transcription", "audio": {"input": {
            "transcription": {"model": "whisper-1"}, "turn_detection": {"type": "server_vad"}}}})
        updated = await c.until(lambda e: e["type"] == "session.updated")
        assert updated["session"]["type"] == "transcription"
        c.stream_audio(np.concatenate([jfk, silence(1.5)]), speed=1.0)
        await c.wait_sent()
        await _drain(c, 2.0)
        finals = [e["transcript"] for e in c.of("conversation.item.input_audio_transcription.completed")]
        text = " ".join(finals).lower()
        assert "fellow americans" in text and "your country" in text
        deltas = c.of("conversation.item.input_audio_transcription.delta")
        assert deltas, "no live partials while speaking"
        # a partial arrives before the final of the same item
        first_item = deltas[0]["item_id"]
        t = c.events
        assert t.index(deltas[0]) < next(i for i, e in enumerate(t) if e.get("item_id") == first_item and
                                         e["type"] == "conversation.item.input_audio_transcription.completed")
        assert not c.of("response.created")


async def test_silence_noise_and_music_invent_no_text(server: str) -> None:
    rng = np.random.default_rng(0)
    noise = (0.01 * rng.standard_normal(24000 * 2)).astype(np.float32)
    tune = music(4.0, rate=24000)
    async for c in connect(server, "intent=transcription"):
        await c.send("transcription_session.update", session={"input_audio_format": "pcm16",
                                                              "input_audio_transcription": {"model": "whisper-1"}})
        await c.until(lambda e: e["type"] == "transcription_session.updated")
        c.stream_audio(np.concatenate([silence(2.0), noise, silence(1.0), tune, silence(1.0)]), speed=4.0)
        await c.wait_sent()
        await _drain(c, 1.5)
        texts = [e["transcript"] for e in c.of("conversation.item.input_audio_transcription.completed")]
        assert all(not t.strip() for t in texts), texts
        await c.send("response.create")
        err = await c.until(lambda e: e["type"] == "error")
        assert err["error"]["code"] == "invalid_session_type"


async def test_many_streams_past_capacity_get_busy() -> None:
    with running_server("--max-sessions", "2") as base:
        gens = [connect(base, "intent=transcription") for _ in range(2)]
        clients = [await g.__anext__() for g in gens]
        import json

        import websockets

        async with websockets.connect(base.replace("http", "ws") + "/v1/realtime?intent=transcription") as ws:
            msg = json.loads(await asyncio.wait_for(ws.recv(), 10))
            assert msg["type"] == "error" and msg["error"]["code"] == "server_busy"
        for g in gens:
            await g.aclose()
        assert len(clients) == 2


async def test_streams_ending_together_share_one_batched_decode(server: str, eval_speech: Path) -> None:
    """Four dictation streams commit at once: their finals queue together and Whisper decodes them
    in a batch (the server's counter says so), each stream still getting its own transcript."""
    import json

    import httpx

    from tests.integration.test_asr_models import wer

    items = [json.loads(line) for line in (eval_speech / "manifest.jsonl").read_text().splitlines()]
    picked = [i for i in items if i["lang"] == "en" and i["duration_s"] <= 8][:4]
    assert len(picked) == 4

    def batched() -> float:
        text = httpx.get(server + "/metrics", timeout=10).text
        return float(next(line.split()[-1] for line in text.splitlines()
                          if line.startswith("voxloop_asr_batched_decodes_total")))

    before = batched()
    gens = [connect(server, "intent=transcription") for _ in picked]
    clients = [await g.__anext__() for g in gens]
    try:
        for c in clients:  # no turn detection: each stream's turn ends when it commits
            await c.send("session.update", session={"type": "transcription", "audio": {"input": {
                "transcription": {"model": "whisper-1"}, "turn_detection": None}}})
            await c.until(lambda e: e["type"] == "session.updated")
        for c, item in zip(clients, picked, strict=True):
            c.stream_audio(decode_file(eval_speech / item["audio"], 24000).samples, speed=8.0)
        await asyncio.gather(*(c.wait_sent() for c in clients))
        await asyncio.gather(*(c.send("input_audio_buffer.commit") for c in clients))
        done = "conversation.item.input_audio_transcription.completed"
        finals = await asyncio.gather(*(c.until(lambda e: e["type"] == done) for c in clients))
        for final, item in zip(finals, picked, strict=True):
            assert wer(item["text"], final["transcript"]) <= 0.3, (item["text"], final["transcript"])
        assert batched() - before >= 2  # at least one batch of two or more
    finally:
        for g in gens:
            await g.aclose()
