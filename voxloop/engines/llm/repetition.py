"""Stop a small model that has started to loop ("980,980,980,980", "the the the the ...").

llama.cpp's repeat penalty makes loops rarer; this catches the ones that still happen, so a
voice reply does not read the same phrase until ``max_tokens``.
"""

from __future__ import annotations

__all__ = ["MAX_UNIT", "MIN_REPEATS", "MIN_SPAN", "looping"]

MAX_UNIT = 64  # longest repeating unit looked for, in characters
MIN_REPEATS = 3  # a unit must come back at least this many times in a row...
MIN_SPAN = 16  # ...and the repeats must cover at least this many characters


def looping(text: str, max_unit: int = MAX_UNIT, min_repeats: int = MIN_REPEATS, min_span: int = MIN_SPAN) -> bool:
    """Does ``text`` end in one unit of up to ``max_unit`` characters repeated back to back, at
    least ``min_repeats`` times and over at least ``min_span`` characters?

    "980,980,980,980" (unit "980," or ",980") and "I am. I am. I am. I am." are loops;
    "ha ha" (too short) and ordinary prose are not. The test is periodicity of the tail
    (``tail[:-unit] == tail[unit:]``), so it does not matter where in the unit the text ends.
    """
    n = len(text)
    for unit in range(1, min(max_unit, n // min_repeats) + 1):
        span = max(unit * min_repeats, min_span)
        if span > n:
            break
        tail = text[-span:]
        if tail[:-unit] == tail[unit:]:
            return True
    return False
