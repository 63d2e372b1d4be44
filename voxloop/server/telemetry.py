"""Prometheus metrics: what an operator watches (``/metrics``; docs/metrics.md).

Latencies come from the per-reply figures the session measures (``voxloop.session.metrics``),
seen by every connection's sender as they leave; load is read from the server's state when
Prometheus scrapes. Each app has its own registry, so several servers in one process (tests)
do not collide.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from voxloop.session.events import Error, Metrics, ResponseDone, SessionEvent

__all__ = ["Telemetry"]

# Seconds; voice-to-voice spans 0.3 s (a warm cache) to many seconds under overload.
_LATENCY_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0, 6.0, 10.0)
_GAP_BUCKETS = (0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)
_WAIT_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)
# ReplyMetrics field (milliseconds) → histogram name and help
_REPLY_STAGES = {
    "voice_to_voice_ms": ("voxloop_voice_to_voice_seconds",
                          "From the end of the user's speech to the first audio of the reply leaving the server"),
    "asr_final_ms": ("voxloop_asr_final_seconds", "From the end of the user's speech to the final transcript"),
    "llm_first_token_ms": ("voxloop_llm_first_token_seconds", "From the LLM request to its first token"),
    "tts_first_chunk_ms": ("voxloop_tts_first_audio_seconds", "From the first clause to its first audio chunk"),
    "barge_in_stop_ms": ("voxloop_barge_in_stop_seconds",
                         "From the user's speech onset to the reply's audio stopping"),
}


Readers = dict[str, tuple[str, Callable[[], float]]]  # name → help, reader


class _Load(Collector):
    """Gauges and counters read at scrape time from callables (no state is copied)."""

    def __init__(self, gauges: Readers, counters: Readers) -> None:
        self.gauges, self.counters = gauges, counters

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        for name, (doc, read) in self.gauges.items():
            yield GaugeMetricFamily(name, doc, value=float(read()))
        for name, (doc, read) in self.counters.items():
            yield CounterMetricFamily(name, doc, value=float(read()))


class Telemetry:
    """One server's metrics and the registry ``/metrics`` renders."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.stages = {field: Histogram(name, doc, buckets=_LATENCY_BUCKETS, registry=r)
                       for field, (name, doc) in _REPLY_STAGES.items()}
        self.speculative = Counter("voxloop_speculative_replies", "Replies started on a tentative end of turn "
                                   "and kept", registry=r)
        self.responses = Counter("voxloop_responses", "Responses by final status", ["status"], registry=r)
        self.errors = Counter("voxloop_errors", "Error events sent to clients, by code", ["code"], registry=r)
        self.busy = Counter("voxloop_busy_rejections", "Sessions or requests refused at capacity",
                            ["route"], registry=r)
        self.sessions = Counter("voxloop_sessions", "Realtime sessions opened", ["intent"], registry=r)
        self.audio_gaps = Histogram("voxloop_reply_audio_gap_seconds", "Pauses inside a reply's audio: the "
                                    "client had played everything sent before the next chunk left",
                                    buckets=_GAP_BUCKETS, registry=r)
        self.queue_wait = Histogram("voxloop_engine_queue_wait_seconds", "Time a job waited for an engine slot",
                                    ["engine", "kind"], buckets=_WAIT_BUCKETS, registry=r)

    def watch(self, gauges: Readers, counters: Readers | None = None) -> None:
        """Register gauges and counters (name → help, reader), read on every scrape."""
        self.registry.register(_Load(gauges, counters or {}))

    def observe(self, event: SessionEvent | dict[str, Any]) -> None:
        """Every event a connection sends passes here (cheap: a type test for most)."""
        match event:
            case Metrics(metrics=m):
                for field, hist in self.stages.items():
                    value = m.get(field)
                    if isinstance(value, (int, float)):
                        hist.observe(value / 1000.0)
                if m.get("speculative"):
                    self.speculative.inc()
            case ResponseDone(response=info):
                self.responses.labels(info.status).inc()
            case Error(code=code):
                self.errors.labels(code).inc()
            case {"type": "error", "error": {"code": str(code)}}:
                self.errors.labels(code).inc()
            case _:
                pass
