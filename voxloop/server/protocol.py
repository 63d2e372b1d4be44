"""OpenAI Realtime wire format ↔ :class:`SessionConfig` (see docs/realtime-protocol.md)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from voxloop.dialogue.tools import parse_tool_choice, parse_tools, tool_choice_wire, tool_wire
from voxloop.errors import InvalidRequest
from voxloop.server.emotion_config import emotion_object, parse_emotion
from voxloop.server.scenes import scene_echo
from voxloop.session.config import SessionConfig, TranscriptionConfig, TurnDetection

__all__ = ["apply_session_update", "session_object"]

_RATES = (8000, 16000, 22050, 24000, 44100, 48000)
# semantic_vad: the longest silence before a turn the model judged unfinished is closed anyway
_EAGERNESS = {"high": 800, "medium": 1500, "auto": 1500, "low": 3000}
# accepted and echoed back as sent, but not acted on (docs/realtime-protocol.md)
_ECHOED = ("tracing", "include", "prompt", "truncation")
_ECHO_DEFAULTS: dict[str, Any] = {"tracing": None, "include": None, "prompt": None, "truncation": "auto",
                                  "noise_reduction": None}


def _obj(value: Any, param: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidRequest(f"'{param}' must be an object", param=param)
    return value


def _num(d: dict[str, Any], key: str, param: str, lo: float, hi: float, default: float) -> float:
    v = d.get(key, default)
    if v is None:
        return default
    if isinstance(v, bool) or not isinstance(v, int | float) or not lo <= v <= hi:
        raise InvalidRequest(f"'{param}.{key}' must be a number between {lo} and {hi}", param=f"{param}.{key}")
    return float(v)


def _bool(d: dict[str, Any], key: str, param: str, default: bool) -> bool:
    v = d.get(key, default)
    if v is None:
        return default
    if not isinstance(v, bool):
        raise InvalidRequest(f"'{param}.{key}' must be a boolean", param=f"{param}.{key}")
    return v


def _format_rate(fmt: Any, param: str, current: int) -> int:
    if fmt is None:
        return current
    if isinstance(fmt, str):  # beta: "pcm16"
        if fmt != "pcm16":
            raise InvalidRequest(f"unsupported audio format {fmt!r}; supported: pcm16 (audio/pcm)", param=param)
        return 24000
    f = _obj(fmt, param)
    if f.get("type") != "audio/pcm":
        raise InvalidRequest(f"unsupported audio format {f.get('type')!r}; supported: audio/pcm", param=param)
    rate = f.get("rate", 24000)
    if rate not in _RATES:
        raise InvalidRequest(f"unsupported sample rate {rate!r}; supported: {', '.join(map(str, _RATES))}",
                             param=f"{param}.rate")
    return int(rate)


def _turn_detection(value: Any, current: TurnDetection | None) -> TurnDetection | None:
    if value is None:
        return None
    d = _obj(value, "turn_detection")
    kind = d.get("type", "server_vad")
    if kind not in ("server_vad", "semantic_vad"):
        raise InvalidRequest(f"unsupported turn_detection.type {kind!r}; supported: server_vad, semantic_vad",
                             param="turn_detection.type")
    base = current or TurnDetection()
    p = "turn_detection"
    semantic = kind == "semantic_vad"
    eagerness = d.get("eagerness") or "auto"
    if not isinstance(eagerness, str) or eagerness not in _EAGERNESS:
        raise InvalidRequest("'turn_detection.eagerness' must be low, medium, high or auto",
                             param="turn_detection.eagerness")
    silence = _EAGERNESS[eagerness] if semantic else base.silence_duration_ms
    if not semantic and base.semantic:
        silence = TurnDetection().silence_duration_ms
    idle = d.get("idle_timeout_ms", base.idle_timeout_ms if not semantic else None)
    if idle is not None and (isinstance(idle, bool) or not isinstance(idle, int) or not 1000 <= idle <= 3_600_000):
        raise InvalidRequest("'turn_detection.idle_timeout_ms' must be null or 1000..3600000",
                             param="turn_detection.idle_timeout_ms")
    if idle is not None and semantic:
        raise InvalidRequest("'turn_detection.idle_timeout_ms' is only supported with server_vad",
                             param="turn_detection.idle_timeout_ms")
    return TurnDetection(
        idle_timeout_ms=idle,
        semantic=semantic,
        eagerness=eagerness,
        threshold=_num(d, "threshold", p, 0.01, 0.99, base.threshold),
        prefix_padding_ms=int(_num(d, "prefix_padding_ms", p, 0, 5000, base.prefix_padding_ms)),
        silence_duration_ms=int(_num(d, "silence_duration_ms", p, 100, 10000, silence)),
        create_response=_bool(d, "create_response", p, base.create_response),
        interrupt_response=_bool(d, "interrupt_response", p, base.interrupt_response),
        min_speech_ms=int(_num(d, "min_speech_ms", p, 32, 5000, base.min_speech_ms)),
        speculative_ms=int(_num(d, "speculative_ms", p, 0, 5000, base.speculative_ms)),
    )


def _transcription(value: Any, current: TranscriptionConfig | None) -> TranscriptionConfig | None:
    if value is None:
        return None
    d = _obj(value, "transcription")
    base = current or TranscriptionConfig()
    for key in ("model", "language", "prompt"):
        if d.get(key) is not None and not isinstance(d[key], str):
            raise InvalidRequest(f"'transcription.{key}' must be a string", param=f"transcription.{key}")
    return TranscriptionConfig(model=d.get("model") or base.model, language=d.get("language", base.language),
                               prompt=d.get("prompt", base.prompt))


def apply_session_update(cfg: SessionConfig, session: Any, *, beta: bool = False) -> SessionConfig:
    """Merge a ``session.update`` (GA) or ``transcription_session.update`` (beta) into ``cfg``."""
    s = _obj(session, "session")
    changes: dict[str, Any] = {}
    kind = s.get("type")
    if kind is not None:
        if kind not in ("realtime", "transcription"):
            raise InvalidRequest("'session.type' must be 'realtime' or 'transcription'", param="session.type")
        changes["type"] = kind
    if "instructions" in s:
        if not isinstance(s["instructions"], str):
            raise InvalidRequest("'session.instructions' must be a string", param="session.instructions")
        changes["instructions"] = s["instructions"]
    mods = s.get("output_modalities", s.get("modalities"))
    if mods is not None:
        if not isinstance(mods, list) or not mods or any(m not in ("audio", "text") for m in mods):
            raise InvalidRequest("'session.output_modalities' must be ['audio'] or ['text']",
                                 param="session.output_modalities")
        changes["output_modalities"] = ("audio",) if "audio" in mods else ("text",)
    if "max_output_tokens" in s or "max_response_output_tokens" in s:
        v = s.get("max_output_tokens", s.get("max_response_output_tokens"))
        changes["echo_inf"] = v == "inf"  # echoed as sent, used as our ceiling
        if v == "inf" or v is None:
            v = 1024
        if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 4096:
            raise InvalidRequest("'session.max_output_tokens' must be 1..4096 or 'inf'",
                                 param="session.max_output_tokens")
        changes["max_output_tokens"] = v
    if "temperature" in s:
        changes["temperature"] = _num(s, "temperature", "session", 0.0, 2.0, cfg.temperature)
    # GA layout: session.audio.input/output; beta layout: flat fields
    audio = _obj(s.get("audio") or {}, "session.audio")
    inp = _obj(audio.get("input") or {}, "session.audio.input")
    out = _obj(audio.get("output") or {}, "session.audio.output")
    if "format" in inp or "input_audio_format" in s:
        changes["input_rate"] = _format_rate(inp.get("format", s.get("input_audio_format")),
                                             "session.audio.input.format", cfg.input_rate)
    if "format" in out or "output_audio_format" in s:
        rate = _format_rate(out.get("format", s.get("output_audio_format")), "session.audio.output.format",
                            cfg.output_rate)
        changes["output_rate"] = rate
    if "turn_detection" in inp or "turn_detection" in s:
        changes["turn_detection"] = _turn_detection(inp.get("turn_detection", s.get("turn_detection")),
                                                    cfg.turn_detection)
    if "transcription" in inp or "input_audio_transcription" in s:
        changes["transcription"] = _transcription(inp.get("transcription", s.get("input_audio_transcription")),
                                                  cfg.transcription)
    voice = out.get("voice", s.get("voice"))
    if voice is not None:
        if not isinstance(voice, str | dict):
            raise InvalidRequest("'session.audio.output.voice' must be a string", param="session.audio.output.voice")
        changes["voice"] = voice if isinstance(voice, str) else str(voice.get("id", cfg.voice))
    if "speed" in out or "speed" in s:
        changes["speed"] = _num(out if "speed" in out else s, "speed", "session.audio.output", 0.25, 4.0, cfg.speed)
    hot = s.get("voxloop.hotwords", s.get("hotwords"))
    if hot is not None:
        if not isinstance(hot, list) or not all(isinstance(h, str) for h in hot):
            raise InvalidRequest("'session.hotwords' must be a list of strings", param="session.hotwords")
        changes["hotwords"] = tuple(hot)
    if "tools" in s:
        changes["tools"] = parse_tools(s["tools"], "session.tools")
    if "tool_choice" in s or "tools" in s:  # a forced tool must be one of the client's or the server's
        tools = (*changes.get("tools", cfg.tools), *(t.spec for t in cfg.server_tools))
        choice = s.get("tool_choice", cfg.tool_choice if cfg.tool_choice in ("auto", "none", "required") or
                       cfg.tool_choice in {t.name for t in tools} else "auto")
        changes["tool_choice"] = parse_tool_choice(choice, tools, "session.tool_choice")
    echo = dict(cfg.echo)
    inf = changes.pop("echo_inf", None)
    if inf is not None:
        if inf:
            echo["max_output_tokens"] = "inf"
        else:
            echo.pop("max_output_tokens", None)
    for key in _ECHOED:
        if key in s:
            echo[key] = s[key]
    if "noise_reduction" in inp or "input_audio_noise_reduction" in s:
        echo["noise_reduction"] = inp.get("noise_reduction", s.get("input_audio_noise_reduction"))
    changes["echo"] = echo
    if "voxloop" in s:
        ext = _obj(s["voxloop"] or {}, "session.voxloop")
        changes["voxloop_events"] = _bool(ext, "events", "session.voxloop", cfg.voxloop_events)
        if "emotion" in ext:
            changes["emotion"] = parse_emotion(ext["emotion"], cfg.emotion)
        if "user" in ext:
            changes["user"] = _user(ext["user"])
    if beta and "type" not in changes:
        changes["type"] = "transcription"
    return replace(cfg, **changes)


def _user(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not 1 <= len(value) <= 128 or not value.isprintable() or value != value.strip():
        raise InvalidRequest("'session.voxloop.user' must be a user id: 1 to 128 printable characters, "
                             "no leading or trailing spaces", param="session.voxloop.user")
    return value


def _td_dict(td: TurnDetection | None) -> dict[str, Any] | None:
    if td is None:
        return None
    if td.semantic:
        return {"type": "semantic_vad", "eagerness": td.eagerness, "create_response": td.create_response,
                "interrupt_response": td.interrupt_response, "silence_duration_ms": td.silence_duration_ms}
    return {"type": "server_vad", "threshold": td.threshold, "prefix_padding_ms": td.prefix_padding_ms,
            "silence_duration_ms": td.silence_duration_ms, "create_response": td.create_response,
            "interrupt_response": td.interrupt_response, "idle_timeout_ms": td.idle_timeout_ms,
            "min_speech_ms": td.min_speech_ms, "speculative_ms": td.speculative_ms}


def session_object(cfg: SessionConfig, session_id: str, model: str) -> dict[str, Any]:
    tc = cfg.transcription
    echo = {**_ECHO_DEFAULTS, **cfg.echo}
    audio_in = {
        "format": {"type": "audio/pcm", "rate": cfg.input_rate},
        "transcription": None if tc is None else {"model": tc.model, "language": tc.language, "prompt": tc.prompt},
        "noise_reduction": echo["noise_reduction"],
        "turn_detection": _td_dict(cfg.turn_detection),
    }
    out: dict[str, Any]
    if cfg.type == "transcription":
        out = {"type": "transcription", "object": "realtime.transcription_session", "id": session_id,
               "audio": {"input": audio_in}, "include": echo["include"]}
    else:
        out = {
            "type": "realtime", "object": "realtime.session", "id": session_id, "model": model,
            "output_modalities": list(cfg.output_modalities), "instructions": cfg.instructions,
            "audio": {"input": audio_in,
                      "output": {"format": {"type": "audio/pcm", "rate": cfg.output_rate}, "voice": cfg.voice,
                                 "speed": cfg.speed}},
            "max_output_tokens": echo.get("max_output_tokens", cfg.max_output_tokens),
            "tools": [tool_wire(t) for t in cfg.tools], "tool_choice": tool_choice_wire(cfg.tool_choice),
            **{k: echo[k] for k in _ECHOED},
        }
    ext = {**({"events": True, **emotion_object(cfg.emotion)} if cfg.voxloop_events else {}), **scene_echo(cfg),
           **({"user": cfg.user} if cfg.user is not None else {})}
    if ext:  # our extension block only for clients that opted in (events, persona, preset)
        out["voxloop"] = ext
    return out
