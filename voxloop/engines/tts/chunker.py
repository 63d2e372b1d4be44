"""Split streamed LLM text into clauses a TTS engine can speak.

The first clause is cut short (at the first clause boundary after ``first_min_chars``)
so the first audio starts early; later clauses only split at clause boundaries after
``min_chars``, which gives the voice whole sentences and better prosody. Markdown,
code blocks and emojis, which a voice should not read, are removed. Pure: no I/O.
"""

from __future__ import annotations

import re

__all__ = ["ClauseChunker", "clean_for_speech"]

SENTENCE_END = ".!?…。！？"
CLAUSE_END = ",;:"
DASHES = "—–"  # em and en dash
CLOSERS = "\"'”’)]}*_`»"
# Words that end with a period without ending the sentence (compared lower-case, no dot).
ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof sr jr st mt vs etc e.g i.e cf approx dept inc ltd corp "
    "jan feb mar apr jun jul aug sep sept oct nov dec fig vol pp ca al".split()
)
FENCE = "```"
# Where a long first clause may be cut before punctuation arrives: before these words.
BREATH_WORDS = frozenset(
    "and but or so because which who when while where if though although since unless until".split()
)

_EMOJI = re.compile(
    "["
    "\U0001f000-\U0001faff"  # mahjong .. symbols & pictographs extended-A (all emoji blocks)
    "\u2600-\u27bf"  # misc symbols, dingbats
    "\u2b00-\u2bff"  # misc symbols and arrows (stars, ...)
    "\ufe0f\ufe0e"  # variation selectors
    "\u20e3"  # combining keycap
    "\U000e0020-\U000e007f"  # tag characters (flag sequences)
    "]"
)
_STRAY_ZWJ = re.compile(r"(?<!\w)\u200d|\u200d(?!\w)")
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_LINE_MARKUP = re.compile(r"^\s*(?:#{1,6}\s*|>\s*|[-*+•]\s+)", re.MULTILINE)
_INLINE_MARKUP = re.compile(r"\*\*|__|~~|[*`|]|(?<!\w)_|_(?!\w)")
_SPACES = re.compile(r"\s+")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([.!?,;:…])(?!\w)")
_ALNUM = re.compile(r"\w")
_LIST_NUMBER = re.compile(r"^\s*\d+$")


def clean_for_speech(text: str) -> str:
    """Remove markdown, emojis and extra whitespace; ``""`` when nothing speakable is left."""
    text = _EMOJI.sub("", text)
    text = _STRAY_ZWJ.sub("", text)
    text = _IMAGE.sub(r"\1", text)
    text = _LINK.sub(r"\1", text)
    text = _LINE_MARKUP.sub("", text)
    text = _INLINE_MARKUP.sub("", text)
    text = _SPACES.sub(" ", text).strip()
    text = _SPACE_BEFORE_PUNCT.sub(r"\1", text)  # "Done 😊!" -> "Done!"
    return text if _ALNUM.search(text) else ""


class ClauseChunker:
    """Streaming text in, speakable clauses out.

    ``push(delta)`` returns the clauses that are complete; ``flush()`` returns what is
    left (call it at the end of a reply). A new reply needs a new chunker or ``reset()``.
    """

    def __init__(self, *, first_min_chars: int = 12, min_chars: int = 60, max_chars: int = 240,
                 first_min_words: int = 0, first_max_words: int = 10) -> None:
        if not 0 < first_min_chars <= min_chars < max_chars:
            raise ValueError("need 0 < first_min_chars <= min_chars < max_chars")
        if not 0 <= first_min_words <= first_max_words:
            raise ValueError("need 0 <= first_min_words <= first_max_words (0 turns early cuts off)")
        self.first_min_words = first_min_words
        self.first_max_words = first_max_words
        self.first_min_chars = first_min_chars
        self.min_chars = min_chars
        self.max_chars = max_chars
        self.reset()

    def reset(self) -> None:
        self._buf = ""  # text of the clause being built (fences already removed)
        self._tail = ""  # raw text held back: a possible partial code fence
        self._in_fence = False
        self._emitted = 0

    # ------------------------------------------------------------------ public

    def push(self, delta: str) -> list[str]:
        out: list[str] = []
        self._feed(delta, out)
        self._split(out, final=False)
        return out

    def flush(self) -> list[str]:
        out: list[str] = []
        if not self._in_fence:
            self._buf += self._tail
        self._tail = ""
        self._in_fence = False
        self._split(out, final=True)
        self._emit(self._buf, out)
        self._buf = ""
        return out

    # ------------------------------------------------------------------ internals

    def _feed(self, delta: str, out: list[str]) -> None:
        """Move ``delta`` into the buffer, dropping code fences and emojis."""
        text = self._tail + _EMOJI.sub("", delta)
        self._tail = ""
        while text:
            at = text.find(FENCE)
            if at < 0:
                keep = len(text) - len(text.rstrip("`"))  # maybe the start of a fence
                keep = min(keep, len(FENCE) - 1)
                self._tail = text[len(text) - keep :] if keep else ""
                if not self._in_fence:
                    self._buf += text[: len(text) - keep]
                return
            if not self._in_fence:
                self._buf += text[:at]
                # A code block interrupts the sentence: speak what came before it.
                self._split(out, final=True)
                self._emit(self._buf, out)
                self._buf = ""
            self._in_fence = not self._in_fence
            text = text[at + len(FENCE) :]

    def _min_chars(self) -> int:
        return self.first_min_chars if self._emitted == 0 else self.min_chars

    def _split(self, out: list[str], *, final: bool) -> None:
        """Emit every complete clause at the front of the buffer."""
        start = 0
        i = 0
        buf = self._buf
        while i < len(buf):
            end = self._boundary(buf, start, i, final)
            if end is None:  # undecided: wait for more text
                break
            if end > i:
                self._emit(buf[start:end], out)
                start = i = end
                continue
            i += 1
        rest = buf[start:]
        if self._emitted == 0 and not final and self.first_min_words:
            cut = self._early_cut(rest)
            if cut:
                self._emit(rest[:cut], out)
                rest = rest[cut:]
        while len(rest) > self.max_chars:  # no boundary for too long: cut at a space
            cut = rest.rfind(" ", 0, self.max_chars)
            cut = cut if cut > 0 else self.max_chars
            self._emit(rest[:cut], out)
            rest = rest[cut:]
        self._buf = rest

    def _early_cut(self, text: str) -> int:
        """Where to cut a long first clause that has no punctuation yet (0: not yet).

        First audio waits for the first clause, so after ``first_min_words`` words we cut
        before a conjunction or preposition (a natural breath point), and after
        ``first_max_words`` at any word boundary. Only complete words (followed by a space)
        count.
        """
        words = [m.start() for m in re.finditer(r"(?<=\s)\S", text)]
        if len(words) < self.first_min_words or any(c in SENTENCE_END for c in text):
            return 0  # too short, or the sentence end is already here: no need to cut
        for n in range(self.first_min_words, len(words)):
            word = re.match(r"\w+", text[words[n] :])
            if word and word.group(0).lower() in BREATH_WORDS and text.find(" ", words[n]) > 0:
                return words[n]
        return words[self.first_max_words] if len(words) > self.first_max_words else 0

    def _boundary(self, buf: str, start: int, i: int, final: bool) -> int | None:
        """End index of a clause that ends at ``buf[i]``; ``i`` if none; None if undecided."""
        c = buf[i]
        if c == "\n":
            return i + 1 if _ALNUM.search(buf[start:i]) else i
        if c in SENTENCE_END:
            j = i + 1
            while j < len(buf) and buf[j] in SENTENCE_END:
                j += 1
            while j < len(buf) and buf[j] in CLOSERS:
                j += 1
            if c in "。！？":  # no space follows in CJK text
                return j
            if j == len(buf):
                return j if final else None
            if not buf[j].isspace():
                return i  # 3.14, e.g.x, example.com
            if c == "." and j == i + 1 and not self._is_sentence_period(buf, start, i):
                return i
            if buf[j - 1] in ".…":  # "approx. five", "Hmm… let me": lower case goes on
                nxt = self._next_letter(buf, j)
                if nxt is None:
                    return j if final else None
                if nxt.islower():
                    return i
            return j
        if c in CLAUSE_END or c in DASHES:
            if i + 1 - start < self._min_chars():
                return i
            j = i + 1
            while j < len(buf) and buf[j] in CLOSERS:
                j += 1
            if c in DASHES:
                return j
            if j == len(buf):
                return None if not final else j
            return j if buf[j].isspace() else i  # 1,000 and 10:30 are not boundaries
        return i

    @staticmethod
    def _next_letter(buf: str, j: int) -> str | None:
        for ch in buf[j:]:
            if not ch.isspace():
                return ch
        return None

    @staticmethod
    def _is_sentence_period(buf: str, start: int, i: int) -> bool:
        """False when the period at ``buf[i]`` ends an abbreviation, initial or list number."""
        line_start = max(start, buf.rfind("\n", start, i) + 1)
        word_start = max(buf.rfind(" ", line_start, i) + 1, line_start)
        word = buf[word_start:i].lstrip("\"'“‘([{*_").lower()
        if word in ABBREVIATIONS:
            return False
        if len(word) == 1 and word.isalpha():  # an initial: J. R. R. Tolkien
            return False
        if re.fullmatch(r"(?:[a-z]\.)+[a-z]", word):  # u.s, a.m, p.m
            return False
        return not _LIST_NUMBER.match(buf[line_start:i])  # "1. " starting a list item

    def _emit(self, raw: str, out: list[str]) -> None:
        text = clean_for_speech(raw)
        if text:
            out.append(text)
            self._emitted += 1
