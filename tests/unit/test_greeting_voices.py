"""The greeting in a session (fake engines, virtual clock), named voices, and the scene keys of
``voxloop serve``'s settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fakes import FakeLLM, FakeTTS, quiet, tone
from tests.unit.test_session import Harness
from tests.virtual_time import VirtualTimePolicy
from voxloop.cli.scenes import load_scenes
from voxloop.cli.settings import SettingsError, load_settings
from voxloop.engines.tts.voices import VoiceBank, parse_voices, voice_spec
from voxloop.engines.types import TTSOptions
from voxloop.errors import InvalidRequest
from voxloop.session.config import SessionConfig

CARD = Path(__file__).resolve().parents[1] / "data" / "persona-nova.json"
GREETING = "Ahoy! I am Captain Nova."


@pytest.fixture
def event_loop_policy() -> VirtualTimePolicy:
    return VirtualTimePolicy()


async def test_response_create_on_an_empty_conversation_speaks_the_greeting() -> None:
    llm = FakeLLM("model words")
    h = Harness(SessionConfig(greeting=GREETING, output_modalities=("text",)), llm=llm)
    await h.start()
    try:
        h.session.create_response()
        done = await h.until(lambda e: e["type"] == "response.done")
        text = next(e["text"] for e in h.events if e["type"] == "response.output_text.done")
        assert text == GREETING and done["response"]["status"] == "completed"
        assert llm.requests == []  # no LLM call
        h.session.create_response()  # the next reply is the model's
        await h.until(lambda e: e["type"] == "response.done" and e["response"]["id"] != done["response"]["id"])
        assert len(llm.requests) == 1
    finally:
        await h.aclose()


async def test_the_first_spoken_turn_gets_the_greeting_too() -> None:
    llm = FakeLLM("model words")
    h = Harness(SessionConfig(greeting=GREETING), llm=llm)
    await h.start()
    try:
        await h.feed(tone(0.8))
        await h.feed(quiet(1.0))
        await h.until(lambda e: e["type"] == "response.done")
        transcript = next(e["transcript"] for e in h.events if e["type"] == "response.output_audio_transcript.done")
        assert transcript == GREETING and llm.requests == []
    finally:
        await h.aclose()


class NamedTTS(FakeTTS):
    def __init__(self, rate: int) -> None:
        super().__init__()
        self.sample_rate = rate
        self.calls = 0

    def synthesize_sync(self, text: str, options: TTSOptions = TTSOptions()):  # type: ignore[no-untyped-def]
        self.calls += 1
        assert options.voice is None
        yield from super().synthesize_sync(text, options)


def test_voice_bank_picks_by_name_and_falls_back() -> None:
    default, other = NamedTTS(24000), NamedTTS(16000)
    bank = VoiceBank(default, {"joe": default, "nova": other})
    out = list(bank.synthesize_sync("hello there", TTSOptions(voice="nova")))
    assert other.calls == 1 and len(out[0]) == int(0.1 * 24000)  # resampled to the default's rate
    list(bank.synthesize_sync("hi", TTSOptions(voice="alloy")))  # OpenAI's name: the default, no error
    list(bank.synthesize_sync("hi", TTSOptions(voice=None)))
    assert default.calls == 2 and bank.sample_rate == 24000


def test_voice_specs() -> None:
    assert parse_voices("nova=/v/nova.onnx, robot=espeak:en+f3") == {
        "nova": "piper:/v/nova.onnx", "robot": "espeak:en+f3"}
    assert voice_spec("piper") == "piper"
    for bad in ("nova", "joe=/v/x.onnx", "a=/x.onnx,a=/y.onnx", "a=x.wav"):
        with pytest.raises(InvalidRequest):
            parse_voices(bad)


def test_scene_keys_in_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "cards").mkdir()
    (tmp_path / "cards" / "nova.json").write_text(CARD.read_text())
    path = tmp_path / "voxloop.toml"
    path.write_text('persona = "cards/nova.json"\npersonas = "cards"\npreset = "in-car"\n'
                    '[voices]\nnova = "voices/nova.onnx"\nrobot = "espeak:en"\n')
    s = load_settings(config=str(path))
    assert s.values["persona"] == str(tmp_path / "cards" / "nova.json")
    assert s.values["voices"] == f"nova={tmp_path / 'voices/nova.onnx'},robot=espeak:en"
    scenes = load_scenes(s.values)
    assert scenes.persona is not None and scenes.persona.name == "Captain Nova"
    assert scenes.preset is not None and scenes.preset.name == "in-car"
    flags = load_settings(config=str(path), environ={"VOXLOOP_PRESET": "tutor"}, flags={"preset": "medical-intake"})
    assert load_scenes(flags.values).preset.name == "medical-intake"  # type: ignore[union-attr]
    env = load_settings(config=str(path), environ={"VOXLOOP_PRESET": "tutor"})
    assert load_scenes(env.values).preset.name == "tutor"  # type: ignore[union-attr]
    path.write_text('[voices]\njoe = "x.onnx"\n')
    with pytest.raises(SettingsError, match="embedded Piper voice"):
        load_settings(config=str(path))
    with pytest.raises(InvalidRequest, match="unknown preset 'disco'"):
        load_scenes({"preset": "disco"})
