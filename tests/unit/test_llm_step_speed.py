"""The batched decoder's prompt share per step, from measured step times (no model)."""

from __future__ import annotations

from voxloop.engines.llm.llama_batch import StepSpeed


def test_the_limit_holds_until_prompt_speed_is_measured() -> None:
    speed = StepSpeed()
    assert speed.prefill_budget(4, 0.1, 128) == 128
    speed.observe(4, 0, 0.02)  # a step of four generating sequences alone: 20 ms
    assert speed.prefill_budget(4, 0.1, 128) == 128


def test_prompt_tokens_fill_what_the_streams_leave_of_the_step() -> None:
    speed = StepSpeed()
    speed.observe(0, 200, 1.0)  # a new prompt alone: 5 ms per token
    speed.observe(4, 0, 0.03)  # four streams alone: 30 ms a step
    # a step of 100 ms beside four streams holds (100 - 30) / 5 = 14 prompt tokens
    assert speed.prefill_budget(4, 0.1, 128) == 14
    # a faster machine fits more, up to the limit
    fast = StepSpeed()
    fast.observe(0, 200, 0.1)
    fast.observe(4, 0, 0.01)
    assert fast.prefill_budget(4, 0.1, 128) == 128
    assert fast.prefill_budget(4, 0.1, 64) == 64


def test_a_machine_too_slow_for_the_streams_still_reads_prompts() -> None:
    speed = StepSpeed()
    speed.observe(0, 100, 1.0)
    speed.observe(8, 0, 0.2)  # eight streams alone already take 200 ms a step
    assert speed.prefill_budget(8, 0.1, 128) == 8


def test_steps_with_streams_and_a_prompt_measure_the_prompt_part() -> None:
    speed = StepSpeed()
    speed.observe(2, 0, 0.02)
    speed.observe(2, 40, 0.22)  # (220 - 20) ms / 40 tokens = 5 ms a token
    assert abs(speed.prompt_token_s - 0.005) < 1e-9
    speed.observe(2, 3, 0.5)  # too few prompt tokens to tell: ignored
    assert abs(speed.prompt_token_s - 0.005) < 1e-9
