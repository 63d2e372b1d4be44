"""Text emotion (VADER + cue words), the LLM hint, the delivery table, the wire settings and
the opt-in gating of ``voxloop.input_emotion``."""

from __future__ import annotations

import pytest

from voxloop.audio.prosody import Prosody
from voxloop.dialogue.arousal import VoiceBaseline, combine
from voxloop.dialogue.emotion import (
    DEFAULT_DELIVERY,
    Delivery,
    Emotion,
    EmotionSettings,
    hint,
    text_emotion,
)
from voxloop.errors import InvalidRequest
from voxloop.server.protocol import apply_session_update, session_object
from voxloop.server.wire import render
from voxloop.session.config import SessionConfig
from voxloop.session.events import UserEmotion


@pytest.mark.parametrize(("text", "label"), [
    ("What time is it in Tokyo?", "neutral"),
    ("Thanks, that's wonderful, I love it!", "happy"),
    ("My grandmother passed away and I feel so sad.", "sad"),
    ("This is ridiculous, I hate this stupid thing!", "angry"),
    ("It still doesn't work, I already told you twice.", "frustrated"),
    ("I'm really worried, what if I miss the flight?", "anxious"),
])
def test_clear_examples_get_their_label(text: str, label: str) -> None:
    e = text_emotion(text)
    assert e.label == label
    assert e.source == "text" and -1 <= e.valence <= 1 and 0 <= e.arousal <= 1
    if label != "neutral":
        assert e.confidence >= 0.5


def test_negated_cues_do_not_count_but_dont_you_dare_does() -> None:
    assert text_emotion("I'm not worried at all.").label == "neutral"
    assert text_emotion("Don't you dare hang up on me.").label == "angry"
    assert text_emotion("I can't stop shaking.").label == "anxious"
    assert text_emotion("").label == "neutral"


def test_arousal_follows_the_label_and_shouting() -> None:
    calm, loud = text_emotion("I'm sad."), text_emotion("I HATE this!!!")
    assert calm.arousal < 0.4 < 0.8 < loud.arousal


def test_hint_only_for_a_confident_non_neutral_emotion() -> None:
    assert hint(Emotion("frustrated", -0.5, 0.7, 0.8)) == (
        "The user sounds frustrated; be calm and brief, and get to the point.")
    assert hint(Emotion("frustrated", -0.5, 0.7, 0.3)) is None
    assert hint(Emotion("neutral", 0.0, 0.3, 1.0)) is None
    assert hint(None) is None
    assert EmotionSettings(hint=False).hint_for(Emotion("sad", -0.5, 0.2, 0.9)) is None


def test_delivery_table_default_and_override() -> None:
    angry = Emotion("angry", -0.8, 0.9, 0.9)
    s = EmotionSettings()
    d = s.delivery_for(angry)
    assert d == DEFAULT_DELIVERY["angry"] and d is not None and d.speed < 1 and d.noise_scale is not None
    assert s.delivery_for(Emotion("neutral", 0, 0.3, 1.0)) is None
    assert s.delivery_for(Emotion("angry", -0.8, 0.9, 0.2)) is None  # not confident
    persona = s.with_deliveries({"angry": {"speed": 0.8}, "happy": Delivery(1.2, 0.8)})
    assert persona.delivery_for(angry) == Delivery(0.8, None)
    assert persona.delivery_for(Emotion("sad", -0.5, 0.2, 0.9)) == DEFAULT_DELIVERY["sad"]  # kept
    assert EmotionSettings(delivery=False).delivery_for(angry) is None
    with pytest.raises(ValueError, match="unknown emotion label"):
        s.with_deliveries({"bored": {"speed": 1.0}})
    with pytest.raises(ValueError):
        s.with_deliveries({"angry": {"speed": 9.0}})


def test_session_update_emotion_settings_and_echo() -> None:
    cfg = SessionConfig()
    assert cfg.emotion.enabled and cfg.emotion.hint
    off = apply_session_update(cfg, {"voxloop": {"events": True, "emotion": False}})
    assert not off.emotion.enabled and session_object(off, "s", "m")["voxloop"] == {"events": True, "emotion": False}
    custom = apply_session_update(cfg, {"voxloop": {"emotion": {"hint": False, "min_confidence": 0.7,
                                                                "deliveries": {"sad": {"speed": 0.8}}}}})
    e = custom.emotion
    assert e.enabled and not e.hint and e.delivery and e.min_confidence == 0.7
    assert e.delivery_for(Emotion("sad", -0.5, 0.2, 0.9)) == Delivery(0.8, None)
    assert "voxloop" not in session_object(custom, "s", "m")  # events off: no extension block
    for bad in ({"hint": 1}, {"min_confidence": 2}, {"deliveries": {"bored": {}}}, "yes"):
        with pytest.raises(InvalidRequest):
            apply_session_update(cfg, {"voxloop": {"emotion": bad}})


def test_input_emotion_goes_out_only_with_extensions() -> None:
    ev = UserEmotion("item_1", Emotion("sad", -0.5, 0.2, 0.9).as_dict(), {"rms_db": -20.0})
    assert render(ev) == []
    (wire,) = render(ev, extensions=True)
    assert wire["type"] == "voxloop.input_emotion" and wire["item_id"] == "item_1"
    assert wire["emotion"]["label"] == "sad" and wire["voice"] == {"rms_db": -20.0}


def _voice(db: float, f0: float, rng: float = 6.0, wps: float = 3.0) -> Prosody:
    return Prosody(3.0, 2.5, 2.0, db, f0, rng, wps)


def test_voice_baseline_scores_relative_to_the_session() -> None:
    base = VoiceBaseline()
    assert base.arousal(_voice(-20, 120)) is None  # no reference yet
    for i, p in enumerate([_voice(-20, 120), _voice(-21, 118), _voice(-19, 122)]):
        base.observe(f"i{i}", p)
    base.observe("i2", _voice(0, 400))  # the same item again: ignored
    usual = base.arousal(_voice(-20, 120))
    agitated = base.arousal(_voice(-12, 150, rng=10, wps=4.2))
    calm = base.arousal(_voice(-26, 105, rng=3, wps=2.2))
    assert usual is not None and agitated is not None and calm is not None
    assert calm < 0.3 < usual < 0.7 < agitated
    # a quieter microphone moves the baseline, not the verdict
    quiet = VoiceBaseline()
    for i in range(3):
        quiet.observe(str(i), _voice(-40, 120))
    assert quiet.arousal(_voice(-40, 120)) == pytest.approx(usual, abs=0.01)


def test_combine_keeps_the_text_label_and_moves_arousal_and_confidence() -> None:
    text = Emotion("angry", -0.8, 0.85, 0.7)
    both = combine(text, 0.9)
    assert both.label == "angry" and both.source == "text+voice" and both.voice_arousal == 0.9
    assert both.arousal == pytest.approx(0.875) and both.confidence == pytest.approx(0.8)
    assert combine(text, 0.1).confidence == pytest.approx(0.6)  # a calm voice: less sure
    assert combine(text, None) is text


def test_tts_options_check_the_delivery_fields() -> None:
    from voxloop.engines.types import TTSOptions

    assert TTSOptions(noise_scale=0.5).noise_scale == 0.5 and TTSOptions().noise_w_scale is None
    with pytest.raises(InvalidRequest):
        TTSOptions(noise_scale=3.0)
