"""Whisper's special tokens, prompt layout and word splitting over a ``tokenizers`` vocabulary."""

from __future__ import annotations

import string
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from voxloop.errors import BackendUnavailable, InvalidRequest

__all__ = ["NO_SPACE_LANGUAGES", "WhisperTokenizer"]

# Languages written without spaces: words are split at unicode boundaries instead.
NO_SPACE_LANGUAGES = frozenset({"zh", "ja", "th", "lo", "my", "yue"})


class WhisperTokenizer:
    """Thin wrapper over the model directory's ``tokenizer.json``."""

    def __init__(self, tokenizer_json: Path, multilingual: bool) -> None:
        try:
            import tokenizers
        except ImportError as e:  # pragma: no cover - guarded by the registry
            raise BackendUnavailable(
                "the whisper backend needs 'tokenizers': pip install 'voxloop[embedded]'"
            ) from e
        if not tokenizer_json.is_file():
            raise BackendUnavailable(
                f"{tokenizer_json}: tokenizer.json not found in the model directory"
            )
        self._tok: Any = tokenizers.Tokenizer.from_file(str(tokenizer_json))
        self.multilingual = multilingual
        self.eot = self._special("<|endoftext|>")
        self.sot = self._special("<|startoftranscript|>")
        self.sot_prev = self._special("<|startofprev|>")
        self.no_timestamps = self._special("<|notimestamps|>")
        self.transcribe: int | None = self._tok.token_to_id("<|transcribe|>")

    def _special(self, token: str) -> int:
        tid = self._tok.token_to_id(token)
        if tid is None:
            raise BackendUnavailable(f"tokenizer has no {token} token: not a Whisper tokenizer?")
        return int(tid)

    def language_token(self, language: str) -> int:
        tid = self._tok.token_to_id(f"<|{language}|>")
        if tid is None:
            raise InvalidRequest(f"unsupported language {language!r}", param="language")
        return int(tid)

    def sot_sequence(self, language: str) -> list[int]:
        """``<|startoftranscript|>`` plus, for multilingual models, language and task."""
        if not self.multilingual or self.transcribe is None:
            return [self.sot]
        return [self.sot, self.language_token(language), self.transcribe]

    def prompt(
        self,
        language: str,
        hotwords: Sequence[str] = (),
        context: str | None = None,
        max_context: int = 223,
    ) -> list[int]:
        """The decoder prompt: ``<|startofprev|>`` + hotwords and context (if any), then the
        SOT sequence and ``<|notimestamps|>``. Hotwords come first and keep at most half of
        ``max_context`` tokens; the context keeps its most recent tokens."""
        previous: list[int] = []
        words = ", ".join(w.strip() for w in hotwords if w.strip())
        if words:
            previous = self.encode(" " + words)[: max_context // 2]
        if context and context.strip():
            room = max_context - len(previous)
            previous += self.encode(" " + context.strip())[-room:] if room > 0 else []
        head = [self.sot_prev, *previous] if previous else []
        return [*head, *self.sot_sequence(language), self.no_timestamps]

    def languages(self, ids: Sequence[int]) -> tuple[str, ...]:
        """Language codes of the given language-token ids (``<|en|>`` -> ``en``)."""
        out = []
        for tid in ids:
            tok = self._tok.id_to_token(int(tid))
            if tok and tok.startswith("<|") and tok.endswith("|>"):
                out.append(tok[2:-2])
        return tuple(out)

    def encode(self, text: str) -> list[int]:
        return list(self._tok.encode(text, add_special_tokens=False).ids)

    def decode(self, tokens: Sequence[int]) -> str:
        return str(self._tok.decode([t for t in tokens if t < self.eot]))

    def _decode_raw(self, tokens: Sequence[int]) -> str:
        return str(self._tok.decode(list(tokens), skip_special_tokens=False))

    # ------------------------------------------------------------------ word splitting

    def split_words(
        self, tokens: Sequence[int], language: str
    ) -> tuple[list[str], list[list[int]]]:
        """Group text tokens into words (by leading space, or unicode boundary for CJK/Thai)."""
        subwords, groups = self._split_on_unicode(tokens)
        if language in NO_SPACE_LANGUAGES:
            return subwords, groups
        words: list[str] = []
        word_tokens: list[list[int]] = []
        for sub, group in zip(subwords, groups, strict=True):
            special = group[0] >= self.eot
            if special or sub.startswith(" ") or sub.strip() in string.punctuation or not words:
                words.append(sub)
                word_tokens.append(list(group))
            else:
                words[-1] += sub
                word_tokens[-1].extend(group)
        return words, word_tokens

    def _split_on_unicode(self, tokens: Sequence[int]) -> tuple[list[str], list[list[int]]]:
        """Split where the accumulated tokens decode to whole unicode characters."""
        full = self._decode_raw(tokens)
        replacement = "\ufffd"
        words: list[str] = []
        groups: list[list[int]] = []
        current: list[int] = []
        offset = 0
        for token in tokens:
            current.append(token)
            decoded = self._decode_raw(current)
            pos = decoded.find(replacement)
            if pos < 0 or (offset + pos < len(full) and full[offset + pos] == replacement):
                words.append(decoded)
                groups.append(current)
                current = []
                offset += len(decoded)
        return words, groups
