from __future__ import annotations

import pytest

from voxloop.errors import InvalidRequest
from voxloop.server.protocol import apply_session_update, session_object
from voxloop.session.config import SessionConfig


def test_ga_session_update_merges() -> None:
    cfg = apply_session_update(SessionConfig(), {
        "type": "realtime", "instructions": "Be nice.", "output_modalities": ["text"],
        "audio": {"input": {"format": {"type": "audio/pcm", "rate": 16000},
                            "turn_detection": {"type": "server_vad", "silence_duration_ms": 300, "threshold": 0.6},
                            "transcription": {"model": "whisper-1", "language": "en"}},
                  "output": {"voice": "alloy", "speed": 1.5}}})
    assert cfg.instructions == "Be nice." and cfg.output_modalities == ("text",)
    assert cfg.input_rate == 16000 and cfg.turn_detection and cfg.turn_detection.silence_duration_ms == 300
    assert cfg.transcription and cfg.transcription.language == "en"
    assert cfg.voice == "alloy" and cfg.speed == 1.5
    obj = session_object(cfg, "sess_1", "m")
    assert obj["audio"]["input"]["turn_detection"]["threshold"] == 0.6


def test_turn_detection_null_is_push_to_talk() -> None:
    cfg = apply_session_update(SessionConfig(), {"audio": {"input": {"turn_detection": None}}})
    assert cfg.turn_detection is None


def test_beta_transcription_session_update() -> None:
    cfg = apply_session_update(SessionConfig(), {"input_audio_format": "pcm16",
                                                 "input_audio_transcription": {"model": "x", "prompt": "drugs"}},
                               beta=True)
    assert cfg.type == "transcription" and cfg.transcription and cfg.transcription.prompt == "drugs"
    assert session_object(cfg, "s", "m")["type"] == "transcription"


@pytest.mark.parametrize("session,param", [
    ({"type": "nope"}, "session.type"),
    ({"output_modalities": ["smell"]}, "session.output_modalities"),
    ({"audio": {"input": {"format": {"type": "audio/pcmu"}}}}, "session.audio.input.format"),
    ({"audio": {"input": {"turn_detection": {"type": "server_vad", "threshold": 7}}}}, "turn_detection.threshold"),
    ({"audio": {"output": {"speed": 9}}}, "session.audio.output.speed"),
    ({"max_output_tokens": 0}, "session.max_output_tokens"),
    ("not an object", "session"),
])
def test_bad_session_fields_name_the_field(session: object, param: str) -> None:
    with pytest.raises(InvalidRequest) as e:
        apply_session_update(SessionConfig(), session)
    assert e.value.param == param
