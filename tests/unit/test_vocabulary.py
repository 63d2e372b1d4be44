"""Domain vocabulary correction: near misses fixed, ordinary English left alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from voxloop.dialogue.vocabulary import Vocabulary, phonetic_key

DRUGS = (
    "metformin atorvastatin lisinopril amlodipine omeprazole levothyroxine gabapentin "
    "hydrochlorothiazide sertraline montelukast escitalopram rosuvastatin pantoprazole losartan "
    "simvastatin albuterol furosemide tramadol prednisone warfarin clopidogrel meloxicam trazodone "
    "duloxetine bupropion fluoxetine tamsulosin carvedilol metoprolol codeine morphine aspirin"
).split()
VOCAB = Vocabulary([*DRUGS, "insulin glargine", "Lipitor", "Zyrtec", "HbA1c"])


@pytest.mark.parametrize(
    ("heard", "fixed"),
    [
        ("The patient takes met formin and a torva statin daily.",
         "The patient takes metformin and atorvastatin daily."),
        ("Metforman 500 mg and lysinaprel 10 mg", "Metformin 500 mg and lisinopril 10 mg"),
        ("Start Amlo-dipine and omeprozol.", "Start Amlodipine and omeprazole."),
        ("levothyroxin in the morning", "levothyroxine in the morning"),
        ("Gabba Pentin at night", "Gabapentin at night"),
        ("hydro chloro thiazide twice", "hydrochlorothiazide twice"),
        ("Montelucast and Escitalipram", "Montelukast and Escitalopram"),
        ("Rosa Vastatin or pan to prazole", "Rosuvastatin or pantoprazole"),
        ("insulin glargeen at bedtime", "insulin glargine at bedtime"),  # multi-word term
        ("insulinglargine", "insulin glargine"),  # merged by the recognizer
        ("codine for the cough", "codeine for the cough"),
    ],
)
def test_near_misses_are_corrected(heard: str, fixed: str) -> None:
    assert VOCAB.correct(heard) == fixed


def test_case_is_preserved() -> None:
    assert VOCAB.correct("Metforman") == "Metformin"
    assert VOCAB.correct("take metforman") == "take metformin"
    assert VOCAB.correct("TAKE METFORMAN") == "TAKE METFORMIN"
    assert VOCAB.correct("lipitor's dose") == "Lipitor's dose"  # listed with a capital: kept
    assert VOCAB.correct("hba1c is high") == "HbA1c is high"
    assert VOCAB.correct("zyrtek, please.") == "Zyrtec, please."


def test_punctuation_and_spacing_around_a_correction_are_kept() -> None:
    assert VOCAB.correct("(met formin), then sertralin!") == "(metformin), then sertraline!"
    assert VOCAB.correct("  metforman\n") == "  metformin\n"


def test_words_are_not_joined_across_punctuation() -> None:
    # "met. Formin" is two sentences: never merged into one term
    assert VOCAB.correct("We met. Formin is a word") == "We met. Formin is a word"


ORDINARY = [
    "The patient went to the pharmacy and met a friend for lunch.",
    "I am not sure, let me form an opinion about the information first.",
    "He was lost on the road to the station with a lot of trouble.",
    "We have a metropolitan planning meeting in the afternoon.",
    "The formation of a partnership takes time and patience.",
    "Call the doctor in the afternoon about the prescription.",
    "The sermon at the cathedral was long and the choir sang.",
    "Return code in the attribute, then write the code in the file.",
    "She took a tram a dollar a ride to the warehouse and the warfare museum.",
    "Present your passport at the border, the prednisone is not needed.",
    "My sister trained for the marathon in the mountains last summer.",
    "The lawyer read the statement to the court and the jury listened.",
    "Pass the salt and pepper, and the aspiring chef will cook dinner.",
    "Two aspirins and three codeines are in the cabinet.",
    "The amplifier and the loudspeaker were in the storage room downstairs.",
    "A simple statistic can mislead; the estimate is not a promise.",
]


@pytest.mark.parametrize("sentence", ORDINARY)
def test_ordinary_english_is_left_alone(sentence: str) -> None:
    assert VOCAB.correct(sentence) == sentence


def test_ordinary_words_only_join_into_distinctive_terms() -> None:
    vocab = Vocabulary(["Notable", "metformin"])
    assert vocab.correct("I am not able to come") == "I am not able to come"
    assert vocab.correct("notable changes") == "Notable changes"
    assert vocab.correct("continue met for men daily") == "continue metformin daily"


def test_correct_words_merges_split_words_and_keeps_affixes() -> None:
    words = [" The", " patient", " takes", " met", " formin,", " and", " Lipitor's."]
    assert VOCAB.correct_words(words) == [(3, 5, " metformin,"), (6, 7, " Lipitor's.")]
    assert VOCAB.correct_words([" nothing", " here."]) == []


def test_from_file_reads_terms_and_skips_comments(tmp_path: Path) -> None:
    path = tmp_path / "drugs.txt"
    path.write_text("# cardiology\nmetformin\n\n  atorvastatin   # a statin\nmetformin\ninsulin  glargine\n",
                    encoding="utf-8")
    vocab = Vocabulary.from_file(path)
    assert vocab.terms == ("metformin", "atorvastatin", "insulin glargine")
    assert len(vocab) == 3 and vocab
    assert vocab.correct("a torva statin") == "atorvastatin"


def test_prompt_and_hotwords() -> None:
    vocab = Vocabulary(["metformin", "atorvastatin", "lisinopril"])
    assert vocab.as_prompt() == "metformin, atorvastatin, lisinopril"
    assert vocab.hotwords(max_chars=25) == ("metformin", "atorvastatin")
    assert Vocabulary([]).as_prompt() == ""


def test_empty_vocabulary_and_empty_text() -> None:
    assert not Vocabulary([])
    assert Vocabulary([]).correct("met formin") == "met formin"
    assert VOCAB.correct("") == ""
    assert Vocabulary(["metformin"]).merged(["lisinopril"]).terms == ("metformin", "lisinopril")


def test_short_terms_are_only_fixed_exactly() -> None:
    vocab = Vocabulary(["Uvo", "Zyx"])
    assert vocab.correct("uvo and uva") == "Uvo and uva"


def test_phonetic_key_groups_sound_alikes() -> None:
    assert phonetic_key("lisinopril") == phonetic_key("lysinaprel")
    assert phonetic_key("phone") == phonetic_key("fone")
    assert phonetic_key("Knight") == phonetic_key("night")
    assert phonetic_key("") == ""
