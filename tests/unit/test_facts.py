"""Facts a user states: the rules (positives, and the negatives a false fact would come from),
the system note, the key of a fact text, and the LLM extraction prompt and its tolerant parser."""

from __future__ import annotations

import json

import pytest

from voxloop.dialogue.fact_grammar import parse_number, third_person
from voxloop.dialogue.facts import (
    FACTS_HEADER,
    MAX_FACT_CHARS,
    StatedFact,
    extract_facts,
    fact_extraction_messages,
    fact_key,
    facts_message,
    parse_extracted_facts,
)

POSITIVES: list[tuple[str, list[tuple[str, str | None]]]] = [
    # names
    ("My name is Ada.", [("The user's name is Ada.", "name")]),
    ("my name is ada", [("The user's name is Ada.", "name")]),
    ("um so my name is uh Ada", [("The user's name is Ada.", "name")]),
    ("I'm Ada.", [("The user's name is Ada.", "name")]),
    ("Hi, I'm Ada Lovelace, nice to meet you.", [("The user's name is Ada Lovelace.", "name")]),
    ("hello there my name is jean-luc", [("The user's name is Jean-Luc.", "name")]),
    ("My name is Ada, what's yours?", [("The user's name is Ada.", "name")]),
    ("Call me Addy.", [("The user wants to be called Addy.", "preferred name")]),
    ("My friends call me Addy.", [("The user wants to be called Addy.", "preferred name")]),
    ("You can call me Al.", [("The user wants to be called Al.", "preferred name")]),
    ("Well, my name is, uh, Ada.", [("The user's name is Ada.", "name")]),
    ("Hey Nova, I'm Sam.", [("The user's name is Sam.", "name")]),
    # places
    ("I live in Lyon, France.", [("The user lives in Lyon, France.", "home")]),
    ("i live in lyon", [("The user lives in lyon.", "home")]),
    ("I'm from Brazil.", [("The user is from Brazil.", "origin")]),
    ("I grew up in Lisbon.", [("The user grew up in Lisbon.", "origin")]),
    ("I just moved to Berlin.", [("The user moved to Berlin.", "home")]),
    ("I'm based in London.", [("The user lives in London.", "home")]),
    # work
    ("I work as a nurse.", [("The user works as a nurse.", "job")]),
    ("I'm a software engineer at Google.", [("The user is a software engineer at Google.", "job")]),
    ("I'm a retired teacher.", [("The user is a retired teacher.", "job")]),
    ("I work at a bank.", [("The user works at a bank.", "workplace")]),
    ("I work for myself.", [("The user is self-employed.", "job")]),
    ("I'm retired now.", [("The user is retired.", "job")]),
    # age
    ("I am 34 years old.", [("The user is 34 years old.", "age")]),
    ("i'm thirty-five years old", [("The user is 35 years old.", "age")]),
    ("I'm 29.", [("The user is 29 years old.", "age")]),
    ("I just turned 40.", [("The user is 40 years old.", "age")]),
    # my X is Y
    ("My favorite color is blue.", [("The user's favorite color is blue.", "favorite color")]),
    ("My favourite colour's green.", [("The user's favourite colour is green.", "favorite color")]),
    ("My dog's name is Rex.", [("The user's dog's name is Rex.", "dog's name")]),
    ("my dog is called rex", [("The user's dog is called Rex.", "dog's name")]),
    ("My birthday is May 5th.", [("The user's birthday is May 5th.", "birthday")]),
    ("My wife's name is Eve.", [("The user's wife's name is Eve.", "wife's name")]),
    ("My pronouns are she/her.", [("The user's pronouns are she/her.", "pronouns")]),
    ("My favorite food is my mom's lasagna.",
     [("The user's favorite food is the user's mom's lasagna.", "favorite food")]),
    # likes and dislikes
    ("I like jazz.", [("The user likes jazz.", None)]),
    ("I really love hiking with my dog.", [("The user loves hiking with the user's dog.", None)]),
    ("I like rock and roll.", [("The user likes rock and roll.", None)]),
    ("I hate country music.", [("The user hates country music.", None)]),
    ("I don't like mushrooms.", [("The user doesn't like mushrooms.", None)]),
    ("I love to swim.", [("The user loves to swim.", None)]),
    ("I like, um, jazz, I guess.", [("The user likes jazz.", None)]),
    ("I'm a big fan of jazz.", [("The user is a fan of jazz.", None)]),
    ("I'm not a fan of horror movies.", [("The user is not a fan of horror movies.", None)]),
    # food and health
    ("I'm allergic to peanuts.", [("The user is allergic to peanuts.", None)]),
    ("I have a severe nut allergy.", [("The user has a severe nut allergy.", None)]),
    ("I'm vegetarian.", [("The user is vegetarian.", "diet")]),
    ("I'm a vegan.", [("The user is vegan.", "diet")]),
    ("I don't eat pork.", [("The user doesn't eat pork.", None)]),
    ("I'm lactose intolerant.", [("The user is lactose intolerant.", None)]),
    # family, pets
    ("I'm married to Eve.", [("The user is married to Eve.", "relationship")]),
    ("I have two kids and a dog.", [("The user has two kids and a dog.", None)]),
    ("I've got a cat named Luna.", [("The user has a cat named Luna.", None)]),
    # remember
    ("Remember that my locker code is 4512.", [("The user's locker code is 4512.", "locker code")]),
    ("Remember that I left my keys at Tom's.", [("Remember: the user left the user's keys at Tom's.", None)]),
    ("Please remember I have a meeting at 5.", [("Remember: the user has a meeting at 5.", None)]),
    ("Can you remember that I park on level 3?", [("Remember: the user parks on level 3.", None)]),
    ("Remember that Tom owes me 20 dollars.", [("Remember: Tom owes the user 20 dollars.", None)]),
    ("please remember that I'm allergic to cats", [("The user is allergic to cats.", None)]),
    ("don't forget my birthday is May 5", [("The user's birthday is May 5.", "birthday")]),
    ("Note that I'm left-handed.", [("Remember: the user is left-handed.", None)]),
    # several in one turn
    ("my name is ada and i live in lyon",
     [("The user's name is Ada.", "name"), ("The user lives in lyon.", "home")]),
    ("my name is ada i live in lyon i like jazz",
     [("The user's name is Ada.", "name"), ("The user lives in lyon.", "home"), ("The user likes jazz.", None)]),
    ("I like jazz and I hate country.", [("The user likes jazz.", None), ("The user hates country.", None)]),
    ("My name is Ada and I'm 30.", [("The user's name is Ada.", "name"), ("The user is 30 years old.", "age")]),
    ("I like jazz when I'm sad.", [("The user likes jazz.", None)]),
]

NEGATIVES = [
    # questions
    "What is my name?", "what is my name", "Do I like jazz?", "do you know my name", "My name is Ada?",
    "i live in lyon right", "Do you remember that I like jazz?", "can you tell me what my favorite color is",
    # negations
    "My name is not Bob.", "My name isn't Bob.", "I'm not Ada.", "I don't live in Paris anymore.",
    "My favorite color is not blue.", "I'm not vegetarian.", "I'm not allergic to anything.",
    # not a name
    "I'm tired.", "I'm going to the store.", "i'm ada", "I'm English.", "I'm French.", "I'm Sure.",
    "My name is weird.", "my name is weird", "call me back later", "call me tomorrow", "i go by bike",
    "I'm Ada's mom.", "I'm Canadian.", "hi nova im sam",
    # conditional, hedged, reported
    "I don't think I'm allergic to nuts.", "If I lived in Paris I would be happy.", "I think my name is Ada.",
    "she thinks I'm vegan", "I wish I lived in Paris.", "I used to live in Paris.", "I think that I'm allergic to nuts",
    # not a preference
    "I'd like a coffee.", "I like it.", "I like talking to you.", "I like the idea.", "I like both of them.", "I love you.", "I like your voice.", "I prefer the blue one.",
    "I hate to say it.", "I like that.", "I love how you said that.",
    # not a job, place, age or attribute
    "I'm a bit tired.", "I'm a morning person.", "I moved to get a job.", "I live in fear.", "I work at night.",
    "I'm 5 minutes away.", "I'm 100% sure.", "I'm from the future.", "My back is killing me.",
    "My phone is dead.", "My birthday is tomorrow.", "My password is hunter2.", "my pin is 1234",
    "I have a meeting.", "I'm a mother of two.", "I live with my parents.", "I work hard.", "My mom is sick.",
    "My question is about taxes.", "I told my boss I'm vegan.", "I'm calling from Lyon.",
    # not something to remember
    "Don't forget to call mom.", "Do you remember that song?", "remember that song I like", "Remember this.",
    # nothing at all
    "", "   ", "um uh", "Tell me a joke.", "Your name is Nova.",
]


@pytest.mark.parametrize(("text", "expected"), POSITIVES, ids=[t for t, _ in POSITIVES])
def test_stated_facts(text: str, expected: list[tuple[str, str | None]]) -> None:
    assert [(f.text, f.key) for f in extract_facts(text)] == expected


@pytest.mark.parametrize("text", NEGATIVES)
def test_no_false_facts(text: str) -> None:
    assert extract_facts(text) == []


def test_a_later_fact_with_the_same_key_wins_within_a_turn() -> None:
    facts = extract_facts("My name is Ada. Actually, my name is Bob.")
    assert facts == [StatedFact("The user's name is Bob.", "name")]


def test_facts_are_capped_in_length() -> None:
    assert extract_facts("I like " + "very long things and " * 5 + "cake.")
    assert extract_facts("I like " + "very long things " * 20 + "and cake.") == []
    assert all(len(f.text) <= MAX_FACT_CHARS for f in extract_facts("I like " + "x" * 190))


def test_third_person_and_number_words() -> None:
    assert third_person("I need my keys") == "the user needs the user's keys"
    assert third_person("I'm late and I go to the gym with my wife and me") == (
        "the user is late and the user goes to the gym with the user's wife and the user")
    assert third_person("I parked on level 3, I really try") == "the user parked on level 3, the user really tries"
    assert [parse_number(t) for t in ("42", "forty-two", "a hundred and five", "nineteen", "lots")] == [
        42, 42, 105, 19, None]


def test_facts_message() -> None:
    assert facts_message([]) == ""
    text = facts_message(["The user's name is Ada.", " The user likes  jazz. ", "The user likes jazz."])
    assert text == f"{FACTS_HEADER}\n- The user's name is Ada.\n- The user likes jazz."


@pytest.mark.parametrize(("text", "key"), [
    ("The user's name is Ada.", "name"), ("The user is 30 years old.", "age"), ("The user lives in Lyon.", "home"),
    ("The user moved to Berlin.", "home"), ("The user is from Brazil.", "origin"),
    ("The user is a software engineer at Google.", "job"), ("The user works at a bank.", "workplace"),
    ("The user's favourite colour is green.", "favorite color"), ("The user's dog is called Rex.", "dog's name"),
    ("The user wants to be called Addy.", "preferred name"), ("The user is vegan.", "diet"),
    ("The user likes jazz.", None), ("Remember: the user's locker code is 4512.", None), ("Paris is nice.", None),
])
def test_fact_key_reads_the_rules_own_texts(text: str, key: str | None) -> None:
    assert fact_key(text) == key


def test_every_keyed_positive_round_trips_through_fact_key() -> None:
    for text, expected in POSITIVES:
        for fact_text, key in expected:
            if key is not None and not fact_text.startswith("Remember"):
                assert fact_key(fact_text) == key, (text, fact_text)


def test_fact_extraction_messages() -> None:
    messages = fact_extraction_messages("  I'm Ada\nand I live in Lyon ")
    assert [m.role for m in messages] == ["system", "user"]
    assert "JSON array" in messages[0].content and "[]" in messages[0].content
    assert messages[1].content == "The user said:\nI'm Ada and I live in Lyon"


def test_parse_extracted_facts_finds_the_array_in_junk() -> None:
    entries = [{"fact": "The user's name is Ada", "key": "Name"}, {"fact": 3}, "The user likes jazz.",
               {"fact": "The user " + "x" * 300}, {"fact": "Paris is in France.", "key": None},
               {"fact": "Does the user like tea?"}, {"fact": "The user lives in Lyon.", "key": "favourite_city"},
               {"key": "age"}, None, ["nested"]]
    reply = f"<think>[1, 2]</think>Sure! Here you go:\n```json\n{json.dumps(entries)}\n```\nHope that helps."
    assert parse_extracted_facts(reply) == [
        StatedFact("The user's name is Ada.", "name"), StatedFact("The user likes jazz.", None),
        StatedFact("The user lives in Lyon.", "favorite city")]


@pytest.mark.parametrize(("reply", "expected"), [
    ("[]", []), ("", []), ("No facts here.", []), ("[[[[", []), ('[{"fact": "The user', []), ("null", []),
    ('{"facts": [{"fact": "The user is vegan.", "key": "diet"}]}', [StatedFact("The user is vegan.", "diet")]),
    ('{"fact": "The user is vegan.", "key": null}', [StatedFact("The user is vegan.", None)]),
    ('[{"fact": "The user is 30.", "key": "age"}, {"fact": "The user is 31.", "key": "age"}]',
     [StatedFact("The user is 31.", "age")]),
    ('[{"fact": "The user likes tea.", "key": "null"}]', [StatedFact("The user likes tea.", None)]),
    ("[" * 5000 + "]" * 5000, []),
])
def test_parse_extracted_facts_never_raises(reply: str, expected: list[StatedFact]) -> None:
    assert parse_extracted_facts(reply) == expected


def test_parse_extracted_facts_caps_the_number_of_facts() -> None:
    reply = json.dumps([{"fact": f"The user likes thing {n}."} for n in range(50)])
    assert len(parse_extracted_facts(reply)) == 10
