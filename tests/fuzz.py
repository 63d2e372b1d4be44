"""Hypothesis strategies for hostile clients: every realtime client event and every REST field,
with values of every JSON type where the protocol expects one (tests/unit/test_fuzz_*.py and
tests/e2e/test_fuzz_server.py)."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

SCALAR = (st.none() | st.booleans() | st.integers(min_value=-(10**20), max_value=10**20)
          | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12)
          | st.sampled_from(["", "audio", "text", "realtime", "transcription", "server_vad", "semantic_vad",
                             "auto", "none", "required", "pcm16", "audio/pcm", "inf", "alloy", "message",
                             "function_call", "function_call_output", "user", "assistant", "system",
                             "input_text", "input_audio", "low", "high", "AAAA", "created_at"]))
JSON: st.SearchStrategy[Any] = st.recursive(
    SCALAR, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8)


def obj(**fields: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """An object with any subset of ``fields`` (each may also be any JSON value), or any JSON."""
    return st.fixed_dictionaries({}, optional={k: v | JSON for k, v in fields.items()}) | JSON


TURN = obj(type=SCALAR, eagerness=SCALAR, threshold=SCALAR, silence_duration_ms=SCALAR, prefix_padding_ms=SCALAR,
           create_response=SCALAR, interrupt_response=SCALAR, idle_timeout_ms=SCALAR, min_speech_ms=SCALAR,
           speculative_ms=SCALAR)
FORMAT = obj(type=SCALAR, rate=SCALAR)
TOOL = obj(type=SCALAR, name=SCALAR, description=SCALAR, parameters=JSON)
SESSION = obj(
    type=SCALAR, instructions=SCALAR, output_modalities=st.lists(SCALAR, max_size=2), modalities=JSON,
    max_output_tokens=SCALAR, max_response_output_tokens=SCALAR, temperature=SCALAR, voice=SCALAR,
    input_audio_format=FORMAT, output_audio_format=FORMAT, turn_detection=TURN, speed=SCALAR,
    input_audio_transcription=obj(model=SCALAR, language=SCALAR, prompt=SCALAR),
    audio=obj(input=obj(format=FORMAT, turn_detection=TURN, transcription=obj(model=SCALAR, language=SCALAR),
                        noise_reduction=JSON),
              output=obj(format=FORMAT, voice=SCALAR, speed=SCALAR)),
    tools=st.lists(TOOL, max_size=2), tool_choice=SCALAR | obj(type=SCALAR, name=SCALAR), hotwords=JSON,
    voxloop=obj(events=SCALAR, user=SCALAR, persona=SCALAR, preset=SCALAR, emotion=JSON), tracing=JSON,
)
CONTENT = st.lists(obj(type=SCALAR, text=SCALAR, transcript=SCALAR, audio=SCALAR), max_size=2)
ITEM = obj(id=SCALAR, type=SCALAR, role=SCALAR, content=CONTENT, call_id=SCALAR, name=SCALAR, arguments=SCALAR,
           output=SCALAR)
RESPONSE = obj(output_modalities=JSON, modalities=JSON, instructions=SCALAR, max_output_tokens=SCALAR, tools=JSON,
               tool_choice=JSON, conversation=SCALAR, metadata=JSON)
EVENT_FIELDS: dict[str, dict[str, st.SearchStrategy[Any]]] = {
    "session.update": {"session": SESSION},
    "transcription_session.update": {"session": SESSION},
    "input_audio_buffer.append": {"audio": SCALAR | st.sampled_from(["AAAA", "AAA=", "!!", "A" * 4000])},
    "input_audio_buffer.commit": {},
    "input_audio_buffer.clear": {},
    "conversation.item.create": {"item": ITEM, "previous_item_id": SCALAR},
    "conversation.item.delete": {"item_id": SCALAR},
    "conversation.item.retrieve": {"item_id": SCALAR},
    "conversation.item.truncate": {"item_id": SCALAR, "content_index": SCALAR, "audio_end_ms": SCALAR},
    "response.create": {"response": RESPONSE},
    "response.cancel": {"response_id": SCALAR},
    "output_audio_buffer.clear": {},
}


def client_event() -> st.SearchStrategy[dict[str, Any]]:
    """One client event of any type, with any subset of its fields, each possibly of a wrong type."""
    kinds = [st.fixed_dictionaries({"type": st.just(kind)},
                                   optional={"event_id": SCALAR, **{k: v | JSON for k, v in fields.items()}})
             for kind, fields in EVENT_FIELDS.items()]
    return st.one_of(*kinds)


SPEECH_BODY = obj(model=SCALAR, input=SCALAR, voice=SCALAR | obj(id=SCALAR), response_format=SCALAR,
                  speed=SCALAR, instructions=SCALAR, stream_format=SCALAR)
TRANSCRIPTION_FIELDS = st.fixed_dictionaries({}, optional={
    k: st.text(max_size=10) | st.sampled_from(["whisper-1", "json", "text", "srt", "vtt", "verbose_json", "en",
                                               "true", "false", "word", "segment", "0.5", "-1", "xx"])
    for k in ("model", "language", "prompt", "response_format", "temperature", "stream", "hotwords",
              "timestamp_granularities[]", "chunking_strategy", "include[]")})
SECRET_BODY = obj(expires_after=obj(anchor=SCALAR, seconds=SCALAR), session=SESSION)
