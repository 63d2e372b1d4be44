"""The metrics observer: reply latencies into histograms, statuses and error codes into counters."""

from __future__ import annotations

from prometheus_client import generate_latest

from voxloop.server.telemetry import Telemetry
from voxloop.session.events import Error, Metrics, ResponseDone, ResponseInfo


def value(t: Telemetry, name: str, labels: dict[str, str] | None = None) -> float:
    v = t.registry.get_sample_value(name, labels or {})
    return 0.0 if v is None else v


def test_observe_reply_metrics_statuses_and_errors() -> None:
    t = Telemetry()
    t.observe(Metrics("resp_1", {"voice_to_voice_ms": 640.0, "asr_final_ms": 120.0, "llm_first_token_ms": None,
                                 "tts_first_chunk_ms": 80.0, "barge_in_stop_ms": None, "speculative": True}))
    t.observe(ResponseDone(ResponseInfo("resp_1", "item_1", True, status="completed")))
    t.observe(ResponseDone(ResponseInfo("resp_2", "item_2", True, status="cancelled")))
    t.observe(Error("bad", "invalid_value"))
    t.observe({"type": "error", "error": {"code": "message_too_large", "message": "x"}})
    t.observe({"type": "session.created"})
    assert value(t, "voxloop_voice_to_voice_seconds_sum") == 0.64
    assert value(t, "voxloop_voice_to_voice_seconds_count") == 1
    assert value(t, "voxloop_llm_first_token_seconds_count") == 0  # not measured: not observed
    assert value(t, "voxloop_speculative_replies_total") == 1
    assert value(t, "voxloop_responses_total", {"status": "cancelled"}) == 1
    assert value(t, "voxloop_errors_total", {"code": "invalid_value"}) == 1
    assert value(t, "voxloop_errors_total", {"code": "message_too_large"}) == 1


def test_load_gauges_are_read_at_scrape_time() -> None:
    t, load = Telemetry(), [3]
    t.watch({"voxloop_active_sessions": ("open sessions", lambda: load[0])})
    assert value(t, "voxloop_active_sessions") == 3
    load[0] = 5
    assert b"voxloop_active_sessions 5.0" in generate_latest(t.registry)
