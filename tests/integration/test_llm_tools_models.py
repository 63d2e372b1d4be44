"""Function calling on the embedded SmolLM2-135M (llama.cpp): grammar-constrained decisions and
arguments, then a spoken answer from the tool's result."""

from __future__ import annotations

import json
import logging

import pytest

from voxloop.engines.llm.llama_steps import grammar_parses
from voxloop.engines.llm.llamacpp import LlamaCppLLM
from voxloop.engines.llm.tools import JSON_OBJECT_GBNF, arguments_grammar
from voxloop.engines.types import ChatMessage, LLMOptions, ToolCall, ToolSpec

pytestmark = pytest.mark.models
logger = logging.getLogger(__name__)

WEATHER = ToolSpec(
    "get_weather", "Get the current weather in a city",
    json.dumps({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}),
)
TIME = ToolSpec(
    "get_time", "Get the current time in a timezone",
    json.dumps({"type": "object", "properties": {"timezone": {"type": "string"}}, "required": ["timezone"]}),
)
SYSTEM = ChatMessage("system", "You are a helpful voice assistant.")
ASKED = [SYSTEM, ChatMessage("user", "What is the weather like in Paris today?")]


@pytest.fixture(params=["instances", "batched"])
def llm(request: pytest.FixtureRequest) -> LlamaCppLLM:
    """Each test on a pool instance and on the batched context (grammar and probe jobs)."""
    name = "real_llm" if request.param == "instances" else "batched_llm"
    engine: LlamaCppLLM = request.getfixturevalue(name)
    return engine


async def run(llm: LlamaCppLLM, messages: list[ChatMessage], options: LLMOptions) -> tuple[str, list[ToolCall]]:
    stream = llm.chat(messages, options)
    text = "".join([c async for c in stream if isinstance(c, str)])
    logger.info("model said %r, called %s", text, stream.tool_calls)
    return text, stream.tool_calls


async def test_a_forced_call_names_paris(llm: LlamaCppLLM) -> None:
    text, calls = await run(llm, ASKED, LLMOptions(tools=(WEATHER,), tool_choice="get_weather", max_tokens=48))
    assert text == "" and len(calls) == 1
    [call] = calls
    assert call.name == "get_weather" and call.call_id.startswith("call_")
    arguments = json.loads(call.arguments)
    assert set(arguments) == {"city"} and "paris" in arguments["city"].lower()


async def test_required_picks_a_tool_with_schema_valid_arguments(llm: LlamaCppLLM) -> None:
    options = LLMOptions(tools=(WEATHER, TIME), tool_choice="required", max_tokens=48)
    _, calls = await run(llm, ASKED, options)
    assert len(calls) == 1 and calls[0].name in ("get_weather", "get_time")
    arguments = json.loads(calls[0].arguments)
    key = "city" if calls[0].name == "get_weather" else "timezone"
    assert set(arguments) == {key} and isinstance(arguments[key], str)


async def test_after_the_result_the_model_answers_in_words(llm: LlamaCppLLM) -> None:
    call = ToolCall("call_abc", "get_weather", '{"city": "Paris"}')
    messages = [
        *ASKED,
        ChatMessage("assistant", "", tool_calls=(call,)),
        ChatMessage("tool", '{"temperature_c": 18, "conditions": "sunny"}', tool_call_id="call_abc", name="get_weather"),
    ]
    text, calls = await run(llm, messages, LLMOptions(tools=(WEATHER,), max_tokens=32, seed=2))
    assert calls == [] and text.strip()


async def test_tool_choice_none_never_calls(llm: LlamaCppLLM) -> None:
    text, calls = await run(llm, ASKED, LLMOptions(tools=(WEATHER, TIME), tool_choice="none", max_tokens=16))
    assert calls == [] and text.strip()


def test_llama_cpp_accepts_the_grammars(real_llm: LlamaCppLLM) -> None:
    assert real_llm._pool is not None
    llama = real_llm._pool.any()
    assert grammar_parses(llama, JSON_OBJECT_GBNF)
    assert grammar_parses(llama, arguments_grammar(WEATHER))
    assert not grammar_parses(llama, "root ::= undefined-rule")
