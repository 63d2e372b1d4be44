"""The embedded LLM (SmolLM2-135M-Instruct on llama.cpp): template, streaming, cancellation."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from voxloop.engines.llm.llamacpp import LlamaCppLLM
from voxloop.engines.models import embedded_llm_path
from voxloop.engines.types import ChatMessage, LLMOptions
from voxloop.errors import BackendError

pytestmark = pytest.mark.models

CONVO = [
    ChatMessage("system", "You are a helpful voice assistant."),
    ChatMessage("user", "What is the capital of France?"),
]


async def test_streams_text_through_the_gguf_chatml_template(real_llm: LlamaCppLLM) -> None:
    stream = real_llm.chat(CONVO, LLMOptions(max_tokens=16, temperature=0.0, seed=1))
    deltas = [d async for d in stream]
    assert deltas and "".join(deltas).strip()
    assert stream.tokens == len(deltas) <= 16
    assert real_llm.chat_format == "chat_template.default"  # the template inside the GGUF
    # What the model actually evaluated (prompt + reply) is ChatML.
    assert real_llm._pool is not None
    llama = next(s.llama for s in real_llm._pool._slots if s.history[:2] == tuple((m.role, m.content) for m in CONVO))
    seen = llama.detokenize(list(llama._input_ids), special=True).decode()
    assert seen.startswith("<|im_start|>system\nYou are a helpful voice assistant.<|im_end|>\n")
    assert "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n" in seen


async def test_same_seed_same_text(real_llm: LlamaCppLLM) -> None:
    opts = LLMOptions(max_tokens=12, temperature=0.8, seed=42)
    first = "".join([d async for d in real_llm.chat(CONVO, opts)])
    again = "".join([d async for d in real_llm.chat(CONVO, opts)])
    assert first == again


@pytest.mark.parametrize("engine", ["real_llm", "batched_llm"])
async def test_cancelled_midway_stops_generating_and_returns_the_instance(engine: str,
                                                                       request: pytest.FixtureRequest) -> None:
    """Barge-in: on an instance, and on the batched context (within one token step)."""
    real_llm: LlamaCppLLM = request.getfixturevalue(engine)
    story = [ChatMessage("user", "Tell me a very long story about a dragon and a knight.")]
    stream = real_llm.chat(story, LLMOptions(max_tokens=256, temperature=0.7))
    got = []
    async for delta in stream:
        got.append(delta)
        if len(got) == 5:
            break
    await stream.aclose()
    for _ in range(100):  # the worker finishes its current token, then gives the instance back
        if real_llm.idle_workers == real_llm.capacity:
            break
        await asyncio.sleep(0.01)
    assert real_llm.idle_workers == real_llm.capacity
    counted = real_llm.tokens_generated
    await asyncio.sleep(0.3)  # ~30 more tokens' time if it were still running
    assert real_llm.tokens_generated == counted
    assert stream.tokens == 5


async def test_follow_up_turn_after_a_cut_reply(real_llm: LlamaCppLLM) -> None:
    first = "".join([d async for d in real_llm.chat(CONVO, LLMOptions(max_tokens=8, seed=3))])
    heard = first[: max(1, len(first) // 2)]  # barge-in: only half was played
    follow = [*CONVO, ChatMessage("assistant", heard), ChatMessage("user", "And of Spain?")]
    again = "".join([d async for d in real_llm.chat(follow, LLMOptions(max_tokens=8, seed=3))])
    assert again.strip()


async def test_prompt_longer_than_the_context_is_a_clear_error(real_llm: LlamaCppLLM) -> None:
    huge = [ChatMessage("user", "word " * (real_llm.n_ctx + 100))]
    with pytest.raises(BackendError) as info:
        async for _ in real_llm.chat(huge):
            pass
    assert info.value.code == "context_length_exceeded"
    assert real_llm.idle_workers == real_llm.workers


def test_count_tokens_uses_the_model_tokenizer(real_llm: LlamaCppLLM) -> None:
    assert real_llm.count_tokens("Hello world") == 2
    assert real_llm.count_tokens("<|im_start|>") == 1  # special tokens count as one


async def test_the_embedded_model_runs_as_a_q8_0_copy_made_in_the_cache(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """``weights = auto``: the shipped Q4_1 is re-quantized once into $XDG_CACHE_HOME and that copy
    answers; ``as-is`` runs the shipped file (bench/llm_weights.py measures speed and perplexity)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    runs = {}
    for weights in ("auto", "as-is"):
        llm = LlamaCppLLM(parallel=2, workers=1, n_threads=1, weights=weights)
        try:
            llm.prewarm()
            text = "".join([d async for d in llm.chat(CONVO, LLMOptions(max_tokens=12, temperature=0.0))
                            if isinstance(d, str)])
            assert text.strip()
            runs[weights] = llm.loaded_path, llm.describe().get("runs")
        finally:
            llm.close()
    copy, described = runs["auto"]
    assert copy is not None and copy.parent == tmp_path / "voxloop" / "models" and copy.name.endswith(".Q8_0.gguf")
    assert described == f"{copy} (Q8_0 copy)"
    assert runs["as-is"] == (embedded_llm_path(), None)
    assert list(copy.parent.iterdir()) == [copy]  # no partial file left behind
