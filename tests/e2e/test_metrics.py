"""``/metrics`` scraped by a Prometheus parser after real spoken turns (real models, real socket)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import httpx
import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.test_realtime import connect
from tests.support import running_server, silence, speak

pytestmark = pytest.mark.models


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with running_server() as base:
        yield base


def scrape(base: str) -> dict[str, float]:
    """Every sample as ``name{label="v",...}`` → value."""
    r = httpx.get(base + "/metrics", timeout=10)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
            out[f"{s.name}{{{labels}}}" if labels else s.name] = s.value
    return out


async def test_metrics_after_a_spoken_turn_and_a_bad_event(server: str) -> None:
    before = scrape(server)
    assert before["voxloop_active_sessions"] == 0 and before["voxloop_max_sessions"] >= 1
    assert before["voxloop_voice_to_voice_seconds_count"] == 0
    question = np.concatenate([silence(0.5), speak("What is the capital of France?"), silence(1.5)])
    async for c in connect(server):
        c.stream_audio(question)
        done = await c.until(lambda e: e["type"] == "response.done")
        assert done["response"]["status"] == "completed"
        await c.ws.send(json.dumps({"type": "no.such.event"}))
        await c.until(lambda e: e["type"] == "error")
        during = scrape(server)
        assert during["voxloop_active_sessions"] == 1 and during["voxloop_asr_streams"] == 1
    after = scrape(server)
    for stage in ("voice_to_voice", "asr_final", "llm_first_token", "tts_first_audio"):
        assert after[f"voxloop_{stage}_seconds_count"] >= 1, stage
        assert after[f"voxloop_{stage}_seconds_sum"] > 0, stage
    assert after['voxloop_responses_total{status="completed"}'] >= 1
    assert after['voxloop_errors_total{code="unknown_event"}'] == 1
    assert after['voxloop_sessions_total{intent="conversation"}'] >= 1
    assert after['voxloop_engine_queue_wait_seconds_count{engine="asr",kind="final"}'] >= 1
    assert after['voxloop_engine_queue_wait_seconds_count{engine="llm",kind="live"}'] >= 1
    assert after["voxloop_engine_queue_depth_llm"] == 0
    assert after["voxloop_engine_busy_llm"] == 0
    assert after["voxloop_llm_prompt_cache_restores_total"] >= 0 and after["voxloop_llm_prompt_cache_bytes"] >= 0
    assert after["voxloop_llm_preempted_total"] >= 0 and after["voxloop_llm_taken_total"] >= 0
    assert after["voxloop_reply_audio_gap_seconds_count"] >= 0  # pauses inside a reply's audio
    # the end of the turn is measured from the user's last sound: voice-to-voice covers the ASR final
    assert after["voxloop_voice_to_voice_seconds_sum"] >= after["voxloop_asr_final_seconds_sum"]


def test_the_speech_cache_serves_a_repeated_phrase(server: str) -> None:
    body = {"model": "tts-1", "voice": "alloy", "input": "Thank you for calling. How can I help you today?",
            "response_format": "pcm"}
    before = scrape(server)
    first = httpx.post(server + "/v1/audio/speech", json=body, timeout=60)
    second = httpx.post(server + "/v1/audio/speech", json=body, timeout=60)
    assert first.status_code == second.status_code == 200
    assert len(second.content) == len(first.content) > 24000  # the same phrase, the same audio
    after = scrape(server)
    hits = after["voxloop_tts_cache_hits_memory_total"] - before["voxloop_tts_cache_hits_memory_total"]
    assert hits >= 1 and after["voxloop_tts_cache_bytes"] > 0
    out = subprocess.run([sys.executable, "-m", "voxloop.cli.main", "cache", "stats", "--json"],
                         capture_output=True, text=True, timeout=60, check=True)
    stats = json.loads(out.stdout)
    assert stats["files"] >= 1 and stats["bytes"] > 0 and stats["directory"].endswith("tts-cache")
