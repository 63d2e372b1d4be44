"""ClauseChunker: streamed LLM text -> speakable clauses."""

from __future__ import annotations

import pytest

from voxloop.engines.tts.chunker import ClauseChunker, clean_for_speech


def chunk(text: str, step: int = 1, **kw: int) -> list[str]:
    """Feed ``text`` in ``step``-character deltas, then flush."""
    c = ClauseChunker(**kw)
    out: list[str] = []
    for i in range(0, len(text), step):
        out += c.push(text[i : i + step])
    return out + c.flush()


@pytest.mark.parametrize("step", [1, 2, 3, 7, 1000])
def test_result_does_not_depend_on_how_text_is_split(step: int) -> None:
    text = (
        "Sure, I can help with that. Pi is about 3.14, and e.g. Mr. Smith knows it. "
        "Really?! Yes. Well, the answer, in short, is that it depends on many things: the weather, "
        "the time, and so on."
    )
    assert chunk(text, step) == chunk(text, 1)


def test_sentences_are_split_and_nothing_is_lost() -> None:
    assert chunk("Hello there! How are you? I am fine.") == ["Hello there!", "How are you?", "I am fine."]


def test_first_chunk_is_short_then_clauses_are_longer() -> None:
    text = (
        "Well, I think the answer, in short, is yes; but there are caveats: many of them, "
        "in fact, that we should discuss at length, carefully and slowly."
    )
    out = chunk(text)
    assert out[0] == "Well, I think the answer,"  # first comma after the 12-character minimum
    assert all(len(c) >= 40 for c in out[1:])
    assert " ".join(out) == text


def test_short_first_clause_below_minimum_is_not_split() -> None:
    assert chunk("Yes, it is.") == ["Yes, it is."]


def test_sentence_end_splits_even_when_short() -> None:
    assert chunk("No. I don't think so.") == ["No.", "I don't think so."]


@pytest.mark.parametrize(
    "text",
    [
        "Pi is 3.14159 and e is 2.718 more or less.",
        "Ask Mr. Smith or Dr. Jones about it today.",
        "Bring some fruit e.g. apples or i.e. anything sweet.",
        "Call me at 5 p.m. tomorrow if you can.",
        "J. R. R. Tolkien wrote that book.",
        "It costs approx. five dollars in total.",
        "Visit example.com for details today.",
        "It was built in the U.S. during the war.",
    ],
)
def test_no_split_inside_numbers_abbreviations_initials(text: str) -> None:
    assert chunk(text) == [text]


def test_thousands_and_times_are_not_clause_boundaries() -> None:
    text = "The price went from 1,000 to 2,500 dollars at exactly 10:30 in the morning yesterday."
    assert chunk(text) == [text]


def test_ellipsis_and_repeated_marks_stay_with_their_sentence() -> None:
    assert chunk("Wait... What?! Okay!!") == ["Wait...", "What?!", "Okay!!"]
    assert chunk("Hmm… let me think.") == ["Hmm… let me think."]


def test_closing_quotes_and_brackets_stay_with_their_sentence() -> None:
    assert chunk('He said "go." Then he left (quickly.) Done.') == [
        'He said "go."',
        "Then he left (quickly.)",
        "Done.",
    ]


def test_dash_is_a_clause_boundary_after_the_minimum() -> None:
    out = chunk("The first thing to know — and it matters — is this.")
    assert out == ["The first thing to know —", "and it matters — is this."]


def test_waits_for_the_character_after_a_period() -> None:
    c = ClauseChunker()
    assert c.push("It is 3.") == []  # could still become 3.14
    assert c.push("14 now. ") == []  # "now. " might be followed by a lower-case word
    assert c.push("Next") == ["It is 3.14 now."]
    assert c.flush() == ["Next"]


def test_question_mark_waits_only_for_the_next_character() -> None:
    c = ClauseChunker()
    assert c.push("Ready?") == []
    assert c.push(" Go") == ["Ready?"]


def test_long_text_without_boundaries_is_cut_at_a_space() -> None:
    text = "word " * 100
    out = chunk(text, 5, max_chars=100)
    assert all(len(c) <= 100 for c in out)
    assert " ".join(out).split() == text.split()


def test_markdown_is_removed() -> None:
    text = "## Steps\n1. Open the **lid** and `press` it.\n- Then *wait* ~~long~~.\n> Quoted [link](http://a.b/c.d)."
    assert chunk(text) == ["Steps", "1. Open the lid and press it.", "Then wait long.", "Quoted link."]


def test_code_fences_are_not_spoken() -> None:
    text = "Here is code:\n```python\nprint('a. b, c')\nx = 1\n```\nThat prints it."
    for step in (1, 2, 4, 1000):
        assert chunk(text, step) == ["Here is code:", "That prints it."]


def test_unclosed_code_fence_is_dropped_at_flush() -> None:
    assert chunk("Look. ```\nrm -rf /") == ["Look."]


def test_inline_backticks_split_across_deltas() -> None:
    c = ClauseChunker()
    out = c.push("Use `") + c.push("`") + c.push("x`` now.")
    assert out + c.flush() == ["Use x now."]


def test_emojis_are_removed() -> None:
    assert chunk("Great job 👍🏽! Family 👨‍👩‍👧 time 🎉. Flags 🇫🇷 too ✨.") == [
        "Great job!",
        "Family time.",
        "Flags too.",
    ]


def test_nothing_speakable_gives_no_clause() -> None:
    assert chunk("🎉🎉 *** --- \n\n") == []
    assert chunk("") == []


def test_flush_emits_pending_text_and_resets_for_more() -> None:
    c = ClauseChunker()
    assert c.push("Hello there") == []
    assert c.flush() == ["Hello there"]
    assert c.flush() == []
    assert c.push("Again. ") == []
    assert c.flush() == ["Again."]


def test_first_chunk_minimum_applies_again_after_reset() -> None:
    c = ClauseChunker(first_min_chars=5, min_chars=50)
    assert c.push("Okay then, we go on, and on. Next") == ["Okay then,", "we go on, and on."]
    c.reset()
    assert c.push("Okay then, x") == ["Okay then,"]


def test_invalid_settings() -> None:
    with pytest.raises(ValueError):
        ClauseChunker(first_min_chars=50, min_chars=10)


def test_clean_for_speech() -> None:
    assert clean_for_speech("**Note:** see `x_y` and _this_ | ok |") == "Note: see x_y and this ok"
    assert clean_for_speech("![a cat](cat.png) C# is fine, snake_case too") == "a cat C# is fine, snake_case too"
    assert clean_for_speech("  \n ") == ""


def test_early_first_cut_before_a_breath_word() -> None:
    c = ClauseChunker(first_min_words=5)
    out: list[str] = []
    for tok in "The capital of France is Paris which is a beautiful city. It has art.".split(" "):
        out += c.push(tok + " ")
    out += c.flush()
    assert out[0] == "The capital of France is Paris"
    assert out[1] == "which is a beautiful city."


def test_early_first_cut_is_off_by_default_and_short_sentences_stay_whole() -> None:
    c = ClauseChunker(first_min_words=5)
    out: list[str] = []
    for tok in "Paris is the capital of France.".split(" "):
        out += c.push(tok + " ")
    assert out + c.flush() == ["Paris is the capital of France."]


def test_early_cut_never_splits_a_sentence_whose_end_has_arrived() -> None:
    c = ClauseChunker(first_min_words=4)
    out: list[str] = []
    for tok in "Sure, I can help with that. The weather is warm.".split(" "):
        out += c.push(tok + " ")
    assert (out + c.flush())[0] == "Sure, I can help with that."
