"""How many workers and threads each backend gets on this machine ("auto"), unless told.

Every local engine gets one thread per worker by default: llama.cpp and CTranslate2 threads
spin while they wait, and with more threads than free cores (VAD, ASR, TTS and the LLM all run
at once in a voice loop) first-token latency collapsed from ~30 ms to ~3 s in our measurements
on 2 cores. Parallelism comes from several workers instead, as many as there are cores, capped
per backend:

- ``whisper`` ASR and ``piper`` TTS: ``min(cores, 4)`` workers (sessions decode in parallel;
  past 4 the shared scheduler queues, which is cheaper than more model replicas).
- the embedded LLM (``llama`` with no path, SmolLM2-135M): one batched context per core (1 thread
  each), decoding ``parallel = min(max_sessions, 4 × cores)`` replies in all (a reply needs only
  speech-rate tokens, and a CPU core steps about four such streams; past that a step's cost just
  grows with its tokens, and conversations wait for a sequence in priority order).
  ``parallel = 1`` gives the older pool of one instance per core, at most one per session.
- a GGUF by path (``llama:/models/big.gguf``) is loaded once (``workers = 1``) with every core
  as its threads: a big model must not be copied per core. ``parallel`` stays 1 unless set: a big
  model's KV cache per sequence can be large.
- other backends (remote ones, Silero, espeak, Smart Turn) keep their own defaults, except that
  ``openai`` ASR gets 4 workers (concurrent requests).

Explicit values win: ``threads`` (per stage, or the global default) then sets workers to
``cores // threads`` under the same cap; explicit ``workers`` on a GGUF by path sets its threads
to ``cores // workers``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from voxloop.engines.registry import DEFAULTS, parse_spec
from voxloop.errors import InvalidRequest

__all__ = ["Knobs", "TuningError", "available_cores", "engine_options", "knobs"]

ASR_TTS_MAX_WORKERS = 4
STREAMS_PER_CORE = 4  # replies one core decodes together at speech rate (batched llama.cpp)


def available_cores() -> int:
    """CPUs this process may run on (its affinity mask, e.g. ``taskset`` or a container)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@dataclass(frozen=True, slots=True)
class Knobs:
    """A backend's constructor keywords for parallelism, and its auto rule."""

    workers: str | None = "workers"  # keyword for parallel workers; None: not settable
    threads: str | None = None  # keyword for threads per worker; None: not settable
    # auto workers: min(cores // threads, max_workers) for a threaded backend, else exactly
    # max_workers; None leaves the backend's own default
    max_workers: int | None = None
    wide: bool = False  # one big model: auto threads = cores // workers instead of 1
    parallel: str | None = None  # keyword for sequences batched together; None: not settable
    streams_per_core: int = 0  # auto parallel = min(max_sessions, this × cores); 0: 1


_KNOBS: dict[tuple[str, str], Knobs] = {
    ("vad", "energy"): Knobs(workers=None),
    ("asr", "whisper"): Knobs(threads="cpu_threads", max_workers=ASR_TTS_MAX_WORKERS),
    ("asr", "openai"): Knobs(max_workers=4),
    ("tts", "piper"): Knobs(threads="threads", max_workers=ASR_TTS_MAX_WORKERS),
}


class TuningError(InvalidRequest):
    """An explicit setting the backend does not have (e.g. threads for a remote backend)."""


def knobs(stage: str, spec: str | None, max_sessions: int = 16) -> Knobs:
    name, arg = parse_spec(spec or DEFAULTS[stage])
    if (stage, name) == ("llm", "llama"):
        if arg:  # the user's GGUF: load once, give it the machine
            return Knobs(threads="n_threads", max_workers=1, wide=True, parallel="parallel")
        return Knobs(threads="n_threads", max_workers=max(1, max_sessions), parallel="parallel",
                     streams_per_core=STREAMS_PER_CORE)
    return _KNOBS.get((stage, name), Knobs())


def engine_options(
    stage: str,
    spec: str | None,
    *,
    workers: int = 0,
    threads: int = 0,
    default_threads: int = 0,
    cores: int | None = None,
    max_sessions: int = 16,
    parallel: int = 0,
) -> dict[str, Any]:
    """Constructor keywords for one stage's engine; 0 means auto (see the module doc).

    ``threads`` is this stage's setting, ``default_threads`` the global one (used only by
    backends that have threads). Raises :class:`TuningError` for an explicit per-stage
    ``workers``/``threads`` the backend does not take.
    """
    name = parse_spec(spec or DEFAULTS[stage])[0]
    k = knobs(stage, spec, max_sessions)
    if workers and k.workers is None:
        raise TuningError(f"the {stage} backend {name!r} has no workers setting", param="workers")
    if threads and k.threads is None:
        raise TuningError(f"the {stage} backend {name!r} has no threads setting", param="threads")
    if parallel and k.parallel is None:
        raise TuningError(f"the {stage} backend {name!r} has no parallel setting", param="parallel")
    n = cores or available_cores()
    options: dict[str, Any] = {}
    if k.parallel is not None:
        options[k.parallel] = parallel or max(1, min(max_sessions, k.streams_per_core * n))
    if k.threads is None:
        if workers:
            options[k.workers or "workers"] = workers
        elif k.max_workers is not None and k.workers is not None:
            options[k.workers] = k.max_workers
        return options
    t = threads or default_threads
    if k.wide:
        w = workers or 1
        t = t or max(1, n // w)
    else:
        t = t or 1
        cap = k.max_workers or ASR_TTS_MAX_WORKERS
        w = workers or max(1, min(n // t, cap))
    if k.workers is not None:
        options[k.workers] = w
    options[k.threads] = t
    return options
