"""The pure parts of local function calling: prompt rendering, plans, grammars, loop guard."""

from __future__ import annotations

import json

import pytest

from voxloop.engines.llm.repetition import looping
from voxloop.engines.llm.tools import (
    JSON_OBJECT_GBNF,
    STRING_MAX,
    Plan,
    arguments_grammar,
    bounded,
    call_text,
    decision_grammar,
    new_call_id,
    plan,
    render_turns,
    reply_word,
    tools_prompt,
    with_tools,
)
from voxloop.engines.types import ChatMessage, LLMOptions, ToolCall, ToolSpec
from voxloop.errors import InvalidRequest

WEATHER = ToolSpec("get_weather", "Get the weather in a city",
                   json.dumps({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}))
TIME = ToolSpec("get_time", "", json.dumps({"type": "object", "properties": {"tz": {"type": ["string", "null"]}}}))
CALL = ToolCall("call_1", "get_weather", '{"city": "Paris"}')
ASKED = [ChatMessage("system", "Be brief."), ChatMessage("user", "Weather in Paris?")]
ANSWERED = [*ASKED, ChatMessage("assistant", "", tool_calls=(CALL,)),
            ChatMessage("tool", '{"temperature_c": 18}', tool_call_id="call_1", name="get_weather")]


def test_tool_calls_and_results_render_as_plain_turns() -> None:
    assert render_turns(ANSWERED) == (
        ("system", "Be brief."),
        ("user", "Weather in Paris?"),
        ("assistant", 'Calling get_weather({"city": "Paris"})'),
        ("user", 'Here is the result of get_weather: {"temperature_c": 18}\nNow answer my question in one sentence.'),
    )
    two = ChatMessage("assistant", "Let me check.", tool_calls=(CALL, ToolCall("c2", "get_time", "{}")))
    assert render_turns([two]) == (("assistant", 'Let me check.\nCalling get_weather({"city": "Paris"})\nCalling get_time({})'),)
    assert render_turns([ChatMessage("tool", "42")])[0][1].startswith("Here is the result of the tool: 42")
    assert call_text(CALL) == 'Calling get_weather({"city": "Paris"})'


def test_the_tool_list_goes_into_the_system_turn() -> None:
    listing = tools_prompt([WEATHER, TIME])
    assert listing.splitlines()[:3] == [
        "You can call these tools:",
        "- get_weather: Get the weather in a city (city: string)",
        "- get_time (tz: string/null)",
    ]
    turns = render_turns(ASKED)
    assert with_tools(turns, "T") == (("system", "Be brief.\n\nT"), ("user", "Weather in Paris?"))
    assert with_tools(turns[1:], "T") == (("system", "T"), ("user", "Weather in Paris?"))


def test_plans() -> None:
    tools = (WEATHER, TIME)
    assert plan(ASKED, LLMOptions()) == Plan("text")
    assert plan(ASKED, LLMOptions(tools=tools, tool_choice="none")) == Plan("text")
    assert plan(ASKED, LLMOptions(tools=tools)) == Plan("decide", ("reply", "get_weather", "get_time"))
    assert plan(ASKED, LLMOptions(tools=tools, tool_choice="required")) == Plan("decide", ("get_weather", "get_time"))
    assert plan(ASKED, LLMOptions(tools=(WEATHER,), tool_choice="required")) == Plan("call", ("get_weather",))
    assert plan(ASKED, LLMOptions(tools=tools, tool_choice="get_time")) == Plan("call", ("get_time",))
    # right after a result, auto answers in words; a forced call is still a call
    assert plan(ANSWERED, LLMOptions(tools=tools)) == Plan("text")
    assert plan(ANSWERED, LLMOptions(tools=tools, tool_choice="get_time")).kind == "call"
    with pytest.raises(InvalidRequest, match="tool_choice"):
        plan(ASKED, LLMOptions(tools=tools, tool_choice="get_moon"))
    assert reply_word([ToolSpec("reply"), ToolSpec("answer")]) == "respond"
    assert plan(ASKED, LLMOptions(tools=(ToolSpec("reply"),))).choices == ("answer", "reply")


def test_decision_grammar_allows_only_the_choices() -> None:
    assert decision_grammar(["reply", "get_weather"]) == 'root ::= "reply" | "get_weather"\n'
    assert decision_grammar(['a"b\\c']) == 'root ::= "a\\"b\\\\c"\n'
    with pytest.raises(ValueError):
        decision_grammar([])


def test_arguments_grammar_follows_the_schema_or_allows_any_object() -> None:
    grammar = arguments_grammar(WEATHER)
    rules = dict(line.split(" ::= ", 1) for line in grammar.splitlines())
    assert rules["root"] == '"{" space city-kv "}" space'
    assert rules["city-kv"].startswith('"\\"city\\"" space ":" space')
    assert "*" not in rules[rules["city-kv"].split()[-1]]  # the string is bounded
    unsupported = ToolSpec("f", "", json.dumps({"type": "object", "properties": {"a": {"not": {}}}}))
    assert arguments_grammar(unsupported) is JSON_OBJECT_GBNF
    assert arguments_grammar(ToolSpec("f", "", '{"type": "string"}')) is JSON_OBJECT_GBNF
    assert arguments_grammar(ToolSpec("f", "", "[1, 2]")) != ""  # not a dict: parameters are {}


def test_free_strings_are_bounded_and_bounded_ones_kept() -> None:
    schema = {"type": "object", "properties": {
        "a": {"type": "string"},
        "b": {"type": "string", "maxLength": 5},
        "c": {"type": "string", "enum": ["x"]},
        "d": {"type": "array", "items": {"type": "string"}},
    }}
    props = bounded(schema)["properties"]
    assert props["a"]["maxLength"] == STRING_MAX and props["b"]["maxLength"] == 5
    assert "maxLength" not in props["c"] and props["d"]["items"]["maxLength"] == STRING_MAX
    assert "maxLength" not in schema["properties"]["a"]  # the caller's schema is not changed


def test_call_ids_look_like_openais() -> None:
    ids = {new_call_id() for _ in range(50)}
    assert len(ids) == 50
    for call_id in ids:
        assert call_id.startswith("call_") and len(call_id) == 25
        assert all(c.isalnum() or c in "-_" for c in call_id[5:])


@pytest.mark.parametrize("text", [
    "980,980,980,980,",  # caught at the comma after the fourth: 16 characters
    "The values are 980,980,980,980,980",
    "I am here. I am here. I am here. I",
    "yes yes yes yes yes yes",
    "aaaaaaaaaaaaaaaaaaaaaaaa",
    "word " * 10 + "wo",
    "no!" + "\n" * 20,
])
def test_loops_are_caught(text: str) -> None:
    assert looping(text)


@pytest.mark.parametrize("text", [
    "",
    "ha ha",
    "980,980,980",  # three short repeats: under the minimum span
    "980,980,980,980",  # (one more character and it is caught)
    "The weather in Paris is sunny, with a high of eighteen degrees.",
    "one, two, three, four, five, six, seven, eight",
    "It is 1,000,000 dollars.",
])
def test_ordinary_text_is_not_a_loop(text: str) -> None:
    assert not looping(text)


def test_long_units_need_three_repeats() -> None:
    sentence = "The quick brown fox jumps over the lazy dog, then naps. "
    assert not looping(sentence * 2)
    assert looping(sentence * 3)
    assert not looping(sentence * 3 + "But then")  # the loop ended: the tail is new text
    assert not looping("x" * 200, max_unit=0)
