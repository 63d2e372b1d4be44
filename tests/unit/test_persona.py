"""Character cards: V2 and V1 parsing, macro substitution, instructions, bad cards."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from voxloop.dialogue.persona import Persona, load_card, loads_card, parse_card, substitute
from voxloop.errors import InvalidRequest

CARD = Path(__file__).resolve().parents[1] / "data" / "persona-nova.json"


def test_v2_card_fields_and_extensions_kept() -> None:
    p = load_card(CARD)
    assert p.name == "Captain Nova" and p.spec == "chara_card_v2"
    assert p.tags == ("space", "captain") and p.alternate_greetings
    assert p.extensions["depth_prompt"] == {"prompt": "kept untouched", "depth": 4}
    assert (p.voice, p.speed, p.style) == ("joe", 1.0, "warm and upbeat")


def test_greeting_is_first_mes_substituted() -> None:
    p = load_card(CARD)
    assert p.greeting() == "Ahoy, User! I am Captain Nova of the starship Meridian. Where shall we fly today?"
    assert p.greeting(user="Sam") is not None and "Ahoy, Sam!" in (p.greeting(user="Sam") or "")


def test_instructions_use_the_default_template_example_and_post_history() -> None:
    text = load_card(CARD).instructions()
    assert text.startswith("You are Captain Nova")
    assert "starship Meridian" in text and "Scenario: User has just come aboard" in text
    assert "<START>" not in text and "User: What is your name?" in text
    assert text.rstrip().endswith("Always answer as Captain Nova, in one or two short sentences.")
    assert "{{" not in text


def test_system_prompt_wins_and_original_is_the_template() -> None:
    p = parse_card({"spec": "chara_card_v2", "spec_version": "2.0",
                    "data": {"name": "Ada", "description": "A mathematician.",
                             "system_prompt": "Roleplay as {{char}}. {{original}}"}})
    text = p.instructions()
    assert text.startswith("Roleplay as Ada. You are Ada") and "A mathematician." in text


@pytest.mark.parametrize("text", ["{{char}} meets {{user}}", "{{Char}} meets {{USER}}", "<BOT> meets <user>",
                                  "{{ char }} meets {{ user }}"])
def test_substitution_is_case_insensitive(text: str) -> None:
    assert substitute(text, "Nova", "Sam") == "Nova meets Sam"


def test_user_defaults_to_user() -> None:
    assert substitute("hi {{user}}", "Nova") == "hi User"


def test_v1_flat_card() -> None:
    p = parse_card({"name": "Bob", "description": "{{char}} is a baker.", "first_mes": "Hi {{user}}, bread?",
                    "personality": "", "scenario": "", "mes_example": ""})
    assert p.spec == "v1" and p.greeting() == "Hi User, bread?" and "Bob is a baker." in p.instructions()


def test_a_card_without_a_greeting() -> None:
    assert Persona(name="X").greeting() is None


@pytest.mark.parametrize(("card", "needle"), [
    ([], "must be a JSON object"),
    ({"spec": "chara_card_v3", "data": {"name": "A"}}, "'spec' must be 'chara_card_v2'"),
    ({"spec": "chara_card_v2", "spec_version": "2.0", "data": "x"}, "'data' must be an object"),
    ({"spec": "chara_card_v2", "spec_version": "2.0", "data": {"description": "no name"}}, "'data.name' is required"),
    ({"spec": "chara_card_v2", "spec_version": "2.0", "data": {"name": "A", "first_mes": 3}},
     "'data.first_mes' must be a string"),
    ({"spec": "chara_card_v2", "spec_version": "2.0", "data": {"name": "A", "tags": "x"}},
     "'data.tags' must be a list of strings"),
    ({"spec": "chara_card_v2", "spec_version": "2.0", "data": {"name": "A", "extensions": {"voxloop": {"speed": 9}}}},
     "'data.extensions.voxloop.speed'"),
    ({"name": 5}, "'name' is required"),
])
def test_bad_cards_name_the_field(card: Any, needle: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        parse_card(card, "card.json")
    assert needle in info.value.message and "\n" not in info.value.message
    assert info.value.message.startswith("card.json: ")


def test_not_json_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidRequest, match="not valid JSON"):
        loads_card("{nope", "c.json")
    with pytest.raises(InvalidRequest, match="no such persona card"):
        load_card(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"spec": "chara_card_v2", "data": {}}))
    with pytest.raises(InvalidRequest, match=r"bad\.json: 'data\.name' is required"):
        load_card(bad)
