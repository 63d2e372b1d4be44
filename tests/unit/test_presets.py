"""Scene presets: the built-in files, strict validation, combining with a persona, precedence,
``session.voxloop`` handling, the canned greeting and ``voxloop presets``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from voxloop.cli.main import main
from voxloop.dialogue.history import Conversation
from voxloop.dialogue.persona import load_card
from voxloop.dialogue.preset import builtin_presets, load_preset
from voxloop.errors import InvalidRequest
from voxloop.server.protocol import apply_session_update, session_object
from voxloop.server.scenes import Scenes
from voxloop.session.canned import CannedLLM, greeting_llm
from voxloop.session.config import SessionConfig
from voxloop.session.scene import apply_scene

CARD = Path(__file__).resolve().parents[1] / "data" / "persona-nova.json"
BASE = SessionConfig(instructions="server default")


def test_the_builtin_presets_load() -> None:
    presets = builtin_presets()
    assert {"customer-service", "medical-intake", "in-car", "tutor"} <= set(presets)
    car = presets["in-car"]
    assert car.max_output_tokens is not None and car.max_output_tokens <= 64
    assert car.turn_detection == {"silence_duration_ms": 350, "speculative_ms": 120}
    med = presets["medical-intake"]
    assert med.turn_detection is not None and med.turn_detection["silence_duration_ms"] == 900
    assert "metformin" in med.vocabulary and len(med.vocabulary) >= 30
    assert any("diagnos" in s for s in med.safety) and any("emergency" in s for s in med.safety)
    (tool,) = presets["customer-service"].tools
    assert (tool.spec.name, tool.url, tool.timeout_s, tool.filler) == (
        "lookup_order", "http://127.0.0.1:8089/orders", 5.0, "Let me look that up.")
    assert tool.spec.parameters["required"] == ["order_id"]
    assert tool.spec.parameters["properties"]["order_id"]["type"] == "string"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "p.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(("text", "needle"), [
    ('name = "x"\ndescription = "d"\ngreting = "hi"\n', "unknown key 'greting'"),
    ('name = "x"\ndescription = "d"\n[turn_detection]\nsilence_ms = 3\n', "unknown key 'turn_detection.silence_ms'"),
    ('name = "x"\ndescription = "d"\n[[tools]]\nname = "t"\ndescription = "d"\nurl = "http://h/"\nmethod = "GET"\n',
     "'tools[0]' has unknown key 'method'"),
    ('name = "x"\ndescription = "d"\nmax_output_tokens = "5"\n', "'max_output_tokens' must be an integer"),
    ('name = "x"\ndescription = "d"\nspeed = 9.0\n', "'speed' must be between"),
    ('description = "d"\n', "'name' is required"),
    ('name = "x"\ndescription = "d"\n[turn_detection]\nsilence_duration_ms = 5\n', "silence_duration_ms' must be"),
    ('name = "x"\ndescription = "d"\n[[tools]]\nname = "t"\ndescription = "d"\nurl = "ftp://h"\n', "http://"),
    ('name = = "x"\n', "invalid TOML"),
    ('name = "x"\ndescription = "d"\n[emotion]\nfurious = { speed = 0.9 }\n', "unknown emotion label 'furious'"),
    ('name = "x"\ndescription = "d"\n[emotion]\nangry = { speed = 9 }\n', "angry: speed must be"),
    ('name = "x"\ndescription = "d"\n[emotion]\nangry = { noise_scale = 5 }\n', "noise_scale must be"),
])
def test_bad_presets_name_the_key_and_file(tmp_path: Path, text: str, needle: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(InvalidRequest) as info:
        load_preset(path)
    assert needle in info.value.message and info.value.message.startswith(str(path))


def test_a_preset_and_a_persona_shape_the_delivery_per_emotion() -> None:
    from voxloop.dialogue.emotion import Delivery
    from voxloop.dialogue.persona import parse_card

    preset = builtin_presets()["customer-service"]
    cfg = apply_scene(BASE, BASE, preset, None)
    table = dict(cfg.emotion.deliveries)
    assert table["angry"] == Delivery(0.9, 0.45) and table["frustrated"] == Delivery(0.92, 0.5)
    assert table["happy"] == dict(BASE.emotion.deliveries)["happy"]  # the rest: the defaults
    card = parse_card({"spec": "chara_card_v2", "data": {"name": "Kai", "extensions": {"voxloop": {
        "emotion": {"angry": {"speed": 0.8}}}}}}, "card")
    both = apply_scene(BASE, BASE, preset, card)
    assert dict(both.emotion.deliveries)["angry"] == Delivery(0.8, None)  # the persona wins
    assert apply_scene(cfg, BASE, None, None).emotion == BASE.emotion  # leaving the scene resets it
    with pytest.raises(InvalidRequest, match="extensions.voxloop.emotion"):
        parse_card({"spec": "chara_card_v2", "data": {"name": "Kai", "extensions": {"voxloop": {
            "emotion": {"grumpy": {"speed": 0.8}}}}}}, "card")


def test_preset_and_persona_combine() -> None:
    preset, persona = builtin_presets()["medical-intake"], load_card(CARD)
    cfg = apply_scene(BASE, BASE, preset, persona)
    text = cfg.instructions
    assert text.index("intake assistant") < text.index("Captain Nova") < text.index("Safety rules")
    assert "Never give a diagnosis" in text
    assert cfg.greeting is not None and cfg.greeting.startswith("Ahoy")  # the persona's greeting wins
    assert cfg.turn_detection is not None and cfg.turn_detection.silence_duration_ms == 900
    only_preset = apply_scene(BASE, BASE, preset, None)
    assert only_preset.greeting == preset.greeting


def test_switching_presets_resets_the_previous_ones_fields() -> None:
    presets = builtin_presets()
    car = apply_scene(BASE, BASE, presets["in-car"], None)
    assert (car.max_output_tokens, car.speed) == (48, 1.1)
    back = apply_scene(car, BASE, None, None)
    assert back.instructions == "server default" and back.max_output_tokens == BASE.max_output_tokens
    assert back.turn_detection is not None and back.turn_detection.silence_duration_ms == 500
    assert back.greeting is None and back.speed == 1.0


def _update(scenes: Scenes, cfg: SessionConfig, session: dict[str, Any]) -> SessionConfig:
    """As the realtime endpoint does: the scene first, then the explicit fields."""
    return apply_session_update(scenes.update(cfg, BASE, session), session)


def test_session_update_wins_over_the_preset_and_echoes_the_names() -> None:
    scenes = Scenes(presets=builtin_presets())
    cfg = _update(scenes, BASE, {"voxloop": {"preset": "in-car"}, "max_output_tokens": 30})
    assert cfg.max_output_tokens == 30 and cfg.turn_detection is not None
    assert cfg.turn_detection.silence_duration_ms == 350
    out = session_object(cfg, "sess_1", "voxloop")
    assert out["voxloop"] == {"preset": "in-car"}
    assert out["audio"]["output"]["speed"] == 1.1
    assert "voxloop" not in session_object(BASE, "sess_1", "voxloop")  # only when set


def test_inline_persona_and_by_name() -> None:
    persona = load_card(CARD)
    scenes = Scenes(personas={persona.name: persona}, presets=builtin_presets())
    card = json.loads(CARD.read_text())
    inline = _update(scenes, BASE, {"voxloop": {"persona": card, "events": True}})
    assert inline.persona == persona and inline.voxloop_events
    assert session_object(inline, "s", "m")["voxloop"] == {"events": True, "persona": "Captain Nova"}
    by_name = _update(scenes, BASE, {"voxloop": {"persona": "captain nova"}})
    assert by_name.greeting == persona.greeting()
    cleared = _update(scenes, by_name, {"voxloop": {"persona": None}})
    assert cleared.persona is None and cleared.greeting is None and cleared.instructions == "server default"


@pytest.mark.parametrize(("ext", "param"), [
    ({"persona": "Nobody"}, "session.voxloop.persona"), ({"persona": 3}, "session.voxloop.persona"),
    ({"persona": {"spec": "chara_card_v2", "data": {}}}, "persona"), ({"preset": "disco"}, "session.voxloop.preset"),
])
def test_bad_scene_updates(ext: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        Scenes(presets=builtin_presets()).update(BASE, BASE, {"voxloop": ext})
    assert info.value.param == param


async def test_the_canned_llm_streams_the_text_exactly() -> None:
    text = "Ahoy,  User!\nWhere to?"
    stream = CannedLLM(text).chat([])
    assert "".join([d async for d in stream if isinstance(d, str)]) == text


def test_greeting_only_before_the_first_assistant_item() -> None:
    conv = Conversation("x")
    assert greeting_llm(None, conv) is None
    conv.add("user", "hello")
    assert greeting_llm("Hi!", conv) is not None
    conv.add("assistant", "Hi!")
    assert greeting_llm("Hi!", conv) is None


def test_presets_command_lists_and_shows(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["presets"]) == 0
    lines = capsys.readouterr().out.splitlines()
    names = [line.split()[0] for line in lines]
    assert names == sorted(names) and {"customer-service", "medical-intake", "in-car", "tutor"} <= set(names)
    assert all(len(line.split(None, 1)) == 2 for line in lines)
    assert main(["presets", "--show", "medical-intake"]) == 0
    shown = capsys.readouterr().out
    assert "silence_duration_ms: 900" in shown and "Never give a diagnosis" in shown
    assert main(["presets", "--show", "nope"]) == 1
