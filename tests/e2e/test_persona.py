"""Personas and presets over a real socket with the real embedded models: a server started with
``--persona`` greets with the card's first_mes (no LLM call), an inline card does the same, and
a preset chosen per session echoes its settings."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.test_realtime import connect
from tests.support import running_server
from voxloop.dialogue.persona import load_card

pytestmark = pytest.mark.models

CARD = Path(__file__).resolve().parents[1] / "data" / "persona-nova.json"


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with running_server("--persona", str(CARD)) as base:
        yield base


async def test_server_persona_greets_with_first_mes(server: str) -> None:
    expected = load_card(CARD).greeting()
    async for c in connect(server):
        created = c.events[0]["session"]
        assert created["voxloop"]["persona"] == "Captain Nova" and "preset" not in created["voxloop"]
        assert "Captain Nova" in created["instructions"]
        await c.send("response.create")
        done = await c.until(lambda e: e["type"] == "response.done")
        assert done["response"]["status"] == "completed"
        transcript = c.of("response.output_audio_transcript.done")[0]["transcript"]
        assert transcript == expected
        assert c.of("response.output_audio.delta")  # spoken, with the real Piper voice


async def test_inline_persona_greets_in_text_mode(server: str) -> None:
    card = {"spec": "chara_card_v2", "spec_version": "2.0",
            "data": {"name": "Doctor Pip", "description": "{{char}} is a friendly robot librarian.",
                     "first_mes": "Beep! I am {{char}}. Which book are you looking for, {{user}}?"}}
    async for c in connect(server):
        await c.send("session.update", session={"type": "realtime", "output_modalities": ["text"],
                                                "voxloop": {"persona": card}})
        updated = await c.until(lambda e: e["type"] == "session.updated", 10)
        assert updated["session"]["voxloop"] == {"persona": "Doctor Pip"}
        await c.send("response.create")
        await c.until(lambda e: e["type"] == "response.done")
        text = c.of("response.output_text.done")[0]["text"]
        assert text == "Beep! I am Doctor Pip. Which book are you looking for, User?"


async def test_in_car_preset_echoes_its_settings(server: str) -> None:
    async for c in connect(server):
        await c.send("session.update", session={"type": "realtime", "voxloop": {"preset": "in-car", "persona": None}})
        s = (await c.until(lambda e: e["type"] in ("session.updated", "error"), 10))["session"]
        assert s["voxloop"] == {"preset": "in-car"}
        assert s["max_output_tokens"] == 48
        assert s["audio"]["input"]["turn_detection"]["silence_duration_ms"] == 350
        assert s["audio"]["output"]["speed"] == 1.1
        assert "car" in s["instructions"] and "Captain Nova" not in s["instructions"]
        await c.send("session.update", session={"voxloop": {"preset": "disco"}})
        err = await c.until(lambda e: e["type"] == "error", 10)
        assert err["error"]["param"] == "session.voxloop.preset"
        await c.send("session.update", session={"audio": {"output": {"voice": "alloy"}}, "output_modalities": ["audio"]})
        await c.until(lambda e: e["type"] == "session.updated", 10)
        await c.send("response.create")  # an unknown voice name speaks with the default voice
        done = await c.until(lambda e: e["type"] == "response.done")
        assert done["response"]["status"] == "completed", json.dumps(done)
        assert c.of("response.output_audio_transcript.done")[0]["transcript"] == "Hi, I'm here. Where are we going?"
