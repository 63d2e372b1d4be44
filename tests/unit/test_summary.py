"""Rolling summaries: where the cut falls (turns kept, function calls, items in progress,
repeated rounds), the extractive summary and its size policy, the LLM prompt and its cleanup."""

from __future__ import annotations

from typing import Literal

import pytest

from voxloop.dialogue.history import Item
from voxloop.dialogue.summary import (
    SUMMARY_HEADER,
    clean_summary,
    rule_summary,
    summary_cut,
    summary_message,
    summary_messages,
)

Status = Literal["in_progress", "completed", "incomplete"]


def user(text: str) -> Item:
    return Item("user", text)


def bot(text: str, status: Status = "completed") -> Item:
    return Item("assistant", text, status=status)


def call(call_id: str, status: Status = "completed") -> Item:
    return Item("assistant", "", type="function_call", call_id=call_id, name="get_weather",
                arguments='{"city": "Paris"}', status=status)


def output(call_id: str, text: str = '{"temp": 21}') -> Item:
    return Item("user", text, type="function_call_output", call_id=call_id)


def turns(n: int) -> list[Item]:
    return [item for i in range(n) for item in (user(f"question {i}?"), bot(f"answer {i}."))]


# -- summary_cut ---------------------------------------------------------------------------


def test_cut_keeps_the_last_turns_and_falls_before_a_user_message() -> None:
    items = turns(5)  # users at 0, 2, 4, 6, 8
    assert summary_cut(items, 2, None) == 6
    assert summary_cut(items, 1, None) == 8
    assert summary_cut(items, 4, None) == 2
    assert items[summary_cut(items, 3, None) or 0].role == "user"


def test_nothing_to_cut_with_too_few_turns() -> None:
    items = turns(3)
    assert summary_cut(items, 3, None) is None
    assert summary_cut(items, 10, None) is None
    assert summary_cut([], 1, None) is None


def test_a_greeting_before_the_first_turn_is_covered() -> None:
    items = [bot("Hello! How can I help?"), *turns(2)]
    assert summary_cut(items, 2, None) == 1
    assert summary_cut(items, 1, None) == 3


def test_keep_zero_turns_cuts_at_the_end() -> None:
    items = turns(2)
    assert summary_cut(items, 0, None) == 4
    with pytest.raises(ValueError):
        summary_cut(items, -1, None)


def test_repeated_rounds_start_after_the_covered_item() -> None:
    items = turns(6)  # users at 0, 2, 4, 6, 8, 10
    first = summary_cut(items, 2, None)
    assert first == 8
    after = items[first - 1].id
    assert summary_cut(items, 2, after) is None  # nothing new yet
    items += turns(2)  # users at 12, 14
    assert summary_cut(items, 2, after) == 12
    assert summary_cut(items, 2, items[11].id) is None
    assert summary_cut(items, 2, "item_gone") == 12  # an unknown id counts as none


def test_never_between_a_call_and_its_output() -> None:
    # the user spoke before the tool's output arrived: cutting before "b" would split call c1
    items = [user("a"), call("c1"), user("b"), output("c1"), bot("It is 21 degrees."), user("c"), bot("ok")]
    assert summary_cut(items, 2, None) is None  # the only other cut (before "a") covers nothing
    assert summary_cut(items, 1, None) == 5
    items = [user("a"), bot("let me check"), call("c1"), output("c1"), bot("21."), user("b"), bot("ok")]
    assert summary_cut(items, 1, None) == 5  # the pair sits wholly before the cut


def test_split_pair_makes_an_earlier_cut() -> None:
    items = [user("a"), bot("x"), user("b"), call("c1"), user("c"), output("c1"), bot("y"), user("d")]
    assert summary_cut(items, 2, None) == 2  # before "c" would split c1, so before "b"
    assert summary_cut(items, 1, None) == 7


def test_never_past_an_item_in_progress() -> None:
    items = [*turns(2), user("c"), bot("still talk", status="in_progress"), user("d"), bot("e")]
    assert summary_cut(items, 1, None) == 4
    items = [*turns(2), call("c9", status="in_progress"), user("d")]
    assert summary_cut(items, 1, None) == 2


# -- rule_summary --------------------------------------------------------------------------


CONVERSATION = [
    bot("Hello! How can I help?"),
    user("Hi, my name is Ada. What is the capital of France?"),
    bot("The capital of France is Paris. It is lovely in spring."),
    user("how do I bake bread"),
    bot("Mix flour, water and yeast"),
    call("c1"),
    output("c1"),
    user("tell me a joke"),
    bot("Why did the chicken cross the road?"),
    user("Actually call me Addy. I live in Lyon."),
]


def test_rule_summary_lines() -> None:
    assert rule_summary("", CONVERSATION, max_chars=2000).splitlines() == [
        "The assistant said: Hello!",
        "The user's name is Ada.",
        "The user asked about the capital of France.",
        "The assistant said: The capital of France is Paris.",
        "The user asked: how do I bake bread?",
        "The assistant said: Mix flour, water and yeast.",
        'The get_weather tool returned: {"temp": 21}.',
        "The user asked: tell me a joke.",
        "The assistant said: Why did the chicken cross the road?",
        "The user wants to be called Addy.",
        "The user lives in Lyon.",
    ]


def test_rule_summary_is_deterministic_and_skips_blank_and_system_items() -> None:
    items = [*CONVERSATION, user("  "), Item("system", "Be brief.")]
    assert rule_summary("", items) == rule_summary("", items) == rule_summary("", CONVERSATION)
    assert rule_summary("", []) == ""


def test_rule_summary_shortens_long_questions_and_replies() -> None:
    text = rule_summary("", [user("why " + "is the sky so very blue " * 10 + "?"), bot("Because " + "light " * 60 + ".")])
    question, reply = text.splitlines()
    assert question.startswith("The user asked: why is the sky") and question.endswith("…") and len(question) < 120
    assert reply.startswith("The assistant said: Because light") and len(reply) < 140


def test_rule_summary_merges_previous_and_newer_facts_win() -> None:
    first = rule_summary("", CONVERSATION)
    second = rule_summary(first, [user("My name is Bob and I moved to Berlin."), bot("Welcome, Bob.")])
    lines = second.splitlines()
    assert "The user's name is Ada." not in lines and "The user lives in Lyon." not in lines
    assert lines[-3:] == ["The user's name is Bob.", "The user moved to Berlin.", "The assistant said: Welcome, Bob."]
    assert "The user wants to be called Addy." in lines  # another key: kept
    # a line said again moves to the end instead of repeating
    third = rule_summary(second, [user("I live in Berlin."), user("I live in Berlin.")])
    assert third.splitlines().count("The user lives in Berlin.") == 1


def test_rule_summary_over_max_chars_drops_the_oldest_non_facts_first() -> None:
    text = rule_summary("", CONVERSATION, max_chars=200)
    assert len(text) <= 200
    lines = text.splitlines()
    assert {"The user's name is Ada.", "The user wants to be called Addy.", "The user lives in Lyon."} <= set(lines)
    assert "The assistant said: Hello!" not in lines  # oldest non-fact went first
    assert lines[-4:] == ["The user asked: tell me a joke.", "The assistant said: Why did the chicken cross the road?",
                          "The user wants to be called Addy.", "The user lives in Lyon."]


def test_rule_summary_drops_old_facts_only_when_nothing_else_is_left() -> None:
    items = [user(f"My favorite {thing} is {value}.") for thing, value in
             [("color", "blue"), ("food", "pizza"), ("band", "Queen"), ("city", "Rome")]]
    items.append(bot("Noted, those are great choices."))
    text = rule_summary("", items, max_chars=80)
    assert text.splitlines() == ["The user's favorite band is Queen.", "The user's favorite city is Rome."]
    assert len(rule_summary("", items, max_chars=20)) <= 20  # a last line too long is shortened


def test_rule_summary_reads_an_llm_summary_as_previous() -> None:
    previous = "The user is Ada. She likes jazz and asked about Paris.\n- The assistant recommended a café."
    text = rule_summary(previous, [user("What about Lyon?")])
    assert text.splitlines() == ["The user is Ada.", "She likes jazz and asked about Paris.",
                                 "The assistant recommended a café.", "The user asked about Lyon."]


# -- LLM summary ---------------------------------------------------------------------------


def test_summary_messages_include_previous_and_the_transcript() -> None:
    system, prompt = summary_messages("The user likes jazz.", CONVERSATION)
    assert system.role == "system" and "5 short sentences" in system.content and "every fact" in system.content
    assert prompt.role == "user" and prompt.content.startswith("Previous summary:\nThe user likes jazz.\n")
    assert "User: Hi, my name is Ada. What is the capital of France?" in prompt.content
    assert 'Assistant called get_weather({"city": "Paris"})' in prompt.content
    assert 'Tool get_weather returned: {"temp": 21}' in prompt.content
    assert "(none)" in summary_messages("", [])[1].content


@pytest.mark.parametrize(("reply", "expected"), [
    ("The user is Ada. She likes jazz.", "The user is Ada. She likes jazz."),
    ("<think>Let me see…</think>\nSummary: The user is Ada.", "The user is Ada."),
    ("Here is the updated summary:\n\n- **The user** is Ada.\n- She likes jazz.", "The user is Ada.\nShe likes jazz."),
    ("```\nThe user is Ada.\n```", "The user is Ada."),
    ('"The user is Ada."', "The user is Ada."),
    ("", ""),
    ("<think>never closed", ""),
])
def test_clean_summary(reply: str, expected: str) -> None:
    assert clean_summary(reply) == expected


def test_clean_summary_cuts_at_a_sentence_end() -> None:
    reply = "The user is Ada. " * 10 + "She likes " + "jazz " * 100
    text = clean_summary(reply, max_chars=200)
    assert len(text) <= 200 and text.endswith("Ada.")
    text = clean_summary("word " * 300, max_chars=100)
    assert len(text) <= 100 and text.endswith("…")


def test_summary_message() -> None:
    assert summary_message("") == summary_message("  ") == ""
    assert summary_message("The user is Ada.") == f"{SUMMARY_HEADER} The user is Ada."
    assert summary_message("The user is Ada.\nShe likes jazz.") == f"{SUMMARY_HEADER}\nThe user is Ada.\nShe likes jazz."
