"""Auto workers/threads: scaled to the machine's cores, never a 2-core assumption."""

from __future__ import annotations

import pytest

from voxloop.engines.tuning import TuningError, available_cores, engine_options


@pytest.mark.parametrize(("cores", "workers"), [(1, 1), (2, 2), (3, 3), (8, 4), (64, 4)])
def test_whisper_and_piper_one_thread_per_worker_up_to_four(cores: int, workers: int) -> None:
    assert engine_options("asr", "whisper", cores=cores) == {"workers": workers, "cpu_threads": 1}
    assert engine_options("asr", "whisper:base", cores=cores) == {"workers": workers, "cpu_threads": 1}
    assert engine_options("tts", "piper", cores=cores) == {"workers": workers, "threads": 1}


@pytest.mark.parametrize(("cores", "max_sessions", "workers", "parallel"),
                         [(1, 16, 1, 4), (2, 16, 2, 8), (12, 16, 12, 16), (64, 16, 16, 16), (64, 3, 3, 3)])
def test_embedded_llm_batches_four_replies_per_core_at_most_one_per_session(
        cores: int, max_sessions: int, workers: int, parallel: int) -> None:
    options = engine_options("llm", "llama", cores=cores, max_sessions=max_sessions)
    assert options == {"workers": workers, "n_threads": 1, "parallel": parallel}
    assert engine_options("llm", None, cores=cores, max_sessions=max_sessions) == options


@pytest.mark.parametrize("cores", [1, 2, 16])
def test_a_gguf_by_path_loads_once_with_every_core(cores: int) -> None:
    assert engine_options("llm", "llama:/models/big.gguf", cores=cores) == {"workers": 1, "n_threads": cores,
                                                                           "parallel": 1}


def test_explicit_values_win_and_shape_the_rest() -> None:
    big = "llama:/models/big.gguf"
    assert engine_options("llm", big, workers=2, cores=16) == {"workers": 2, "n_threads": 8, "parallel": 1}
    assert engine_options("llm", big, threads=6, cores=16) == {"workers": 1, "n_threads": 6, "parallel": 1}
    assert engine_options("llm", big, parallel=4, cores=16) == {"workers": 1, "n_threads": 16, "parallel": 4}
    assert engine_options("llm", "llama", threads=2, cores=16) == {"workers": 8, "n_threads": 2, "parallel": 16}
    assert engine_options("llm", "llama", workers=3, cores=16) == {"workers": 3, "n_threads": 1, "parallel": 16}
    assert engine_options("llm", "llama", parallel=1, cores=2) == {"workers": 2, "n_threads": 1, "parallel": 1}
    assert engine_options("asr", "whisper", threads=4, cores=16) == {"workers": 4, "cpu_threads": 4}
    assert engine_options("asr", "whisper", threads=4, cores=4) == {"workers": 1, "cpu_threads": 4}
    # the global default applies where there are threads; the stage's own setting beats it
    assert engine_options("tts", "piper", default_threads=2, cores=8) == {"workers": 4, "threads": 2}
    assert engine_options("tts", "piper", threads=1, default_threads=2, cores=8) == {"workers": 4, "threads": 1}
    assert engine_options("llm", "openai:http://h/v1", default_threads=2, cores=8) == {}


def test_other_backends_keep_their_defaults() -> None:
    assert engine_options("vad", "silero", cores=8) == {}
    assert engine_options("vad", "energy", cores=8) == {}
    assert engine_options("tts", "espeak", cores=8) == {}
    assert engine_options("turn", "smart-turn", cores=8) == {}
    assert engine_options("llm", "openai:http://h/v1", cores=8) == {}
    assert engine_options("asr", "openai:http://h/v1", cores=1) == {"workers": 4}
    assert engine_options("asr", "openai:http://h/v1", workers=9, cores=1) == {"workers": 9}
    assert engine_options("vad", "silero", workers=2, cores=8) == {"workers": 2}


def test_settings_a_backend_lacks_are_refused() -> None:
    with pytest.raises(TuningError, match="has no threads setting"):
        engine_options("llm", "openai:http://h/v1", threads=2)
    with pytest.raises(TuningError, match="has no workers setting"):
        engine_options("vad", "energy", workers=2)
    with pytest.raises(TuningError, match="has no parallel setting"):
        engine_options("llm", "openai:http://h/v1", parallel=4)


def test_available_cores_is_the_affinity_mask() -> None:
    import os

    assert available_cores() == len(os.sched_getaffinity(0))
    assert engine_options("asr", "whisper")["workers"] == min(4, available_cores())
