"""Shared fixtures: task-leak guard, generated speech, the real embedded engines, a Redis server."""

from __future__ import annotations

import asyncio
import gc
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

# Servers the tests start keep their conversation store under a throwaway data directory,
# never in the user's own (~/.local/share/voxloop).
os.environ["XDG_DATA_HOME"] = tempfile.mkdtemp(prefix="voxloop-test-data-")

EVAL_SPEECH = Path(__file__).resolve().parents[1].parent / "shared" / "eval-speech"


@pytest.fixture(autouse=True)
async def _no_leaked_tasks() -> object:
    """Fail any async test that leaves asyncio tasks running."""
    before = set(asyncio.all_tasks())
    yield
    for _ in range(20):
        leaked = [t for t in asyncio.all_tasks() - before if not t.done() and t is not asyncio.current_task()]
        if not leaked:
            return
        await asyncio.sleep(0.05)
    gc.collect()
    names = sorted(t.get_name() for t in leaked)
    for t in leaked:
        t.cancel()
    pytest.fail(f"test leaked running asyncio tasks: {names}")


@pytest.fixture(scope="session")
def eval_speech() -> Path:
    if not (EVAL_SPEECH / "manifest.jsonl").exists():
        pytest.skip("../shared/eval-speech is not available")
    return EVAL_SPEECH


def _engine(stage: str):  # type: ignore[no-untyped-def]
    from voxloop.engines import create_engine

    engine = create_engine(stage)
    engine.prewarm()
    return engine


@pytest.fixture(scope="session")
def real_asr() -> Iterator[object]:
    yield _engine("asr")


@pytest.fixture(scope="session")
def real_tts() -> Iterator[object]:
    yield _engine("tts")


@pytest.fixture(scope="session")
def real_llm() -> Iterator[object]:
    yield _engine("llm")


@pytest.fixture(scope="session")
def batched_llm() -> Iterator[object]:
    """The embedded LLM as the server runs it by default: one batched context (4 sequences here)."""
    from voxloop.engines.llm.llamacpp import LlamaCppLLM

    engine = LlamaCppLLM(workers=1, n_threads=1, parallel=4)
    engine.prewarm()
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def real_vad() -> Iterator[object]:
    yield _engine("vad")


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A throwaway ``redis-server`` for the session (skips the test if Redis is not installed)."""
    from tests.redis_server import MISSING, redis_server

    pytest.importorskip("redis.asyncio", reason="the redis package is missing: pip install 'voxloop[store-redis]'")
    with redis_server() as url:
        if url is None:
            pytest.skip(MISSING)
        yield url
