"""The tutor and dictation examples with the real embedded models, in process: the tutor's
persona greets and its tool checks a sum; dictation writes SRT cues for spoken sentences."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import voxloop
from tests.e2e.test_python_api import _example
from tests.support import silence, speak
from voxloop.audio import float_to_pcm16, to_srt
from voxloop.engines.stack import EngineStack

pytestmark = pytest.mark.models


@pytest.fixture(scope="module")
def stack() -> EngineStack:
    return voxloop.Pipeline().stack()


async def test_the_tutor_greets_in_character_and_checks_a_sum(stack: EngineStack) -> None:
    tutor = _example("tutor")
    async with voxloop.Conversation(tutor.agent, stack=stack) as conv:
        conv.send_text("Hello!")
        first = await conv.until(lambda e: e["type"] == "response.done")
        said = first["response"]["output"][0]["content"][0]["transcript"]
        assert said == "Hello! I'm Ada, your maths tutor. Shall we practise some sums together?"
        conv.send_text("Three plus four is seven.", respond=False)
        conv.session.create_response(tool_choice="check_answer")
        output = await conv.until(lambda e: e["type"] == "conversation.item.done"
                                  and e["item"]["type"] == "function_call_output")
        result = json.loads(output["item"]["output"])
        assert set(result) == {"correct", "right_answer"}, result  # the Python tool ran
        answer = await conv.until(lambda e: e["type"] == "response.done")
        assert answer["response"]["status"] == "completed"
        assert answer["response"]["output"][0]["content"][0]["transcript"]


async def test_dictation_writes_srt_cues(stack: EngineStack, tmp_path: Path) -> None:
    dictation = _example("dictation")
    samples = np.concatenate([silence(0.3, 16000), speak("The quick brown fox jumps.", 16000), silence(1.2, 16000),
                              speak("Good morning everyone.", 16000), silence(0.5, 16000)])
    source = voxloop.BufferSource(float_to_pcm16(samples), 16000)
    segments: list[Any] = await dictation.dictate(source.chunks(), stack=stack)
    assert len(segments) == 2, segments
    assert "fox" in segments[0].text.lower() and "morning" in segments[1].text.lower(), segments
    assert 0 < segments[0].start < segments[0].end <= segments[1].start < segments[1].end
    srt = to_srt(segments)
    assert srt.startswith("1\n00:00:00,") and "\n2\n" in srt
