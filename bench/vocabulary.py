"""Domain vocabulary benchmark: drug names, spoken by Piper, transcribed by Whisper.

    .venv/bin/python bench/vocabulary.py [--model tiny.en] [--out bench/results/vocabulary.md]

Twenty sentences full of drug names are spoken by the embedded Piper voice (resampled to
16 kHz; Piper's synthesis is random, so each sentence is spoken ``--repeats`` times and the
numbers are over all renditions) and transcribed by Whisper in four configurations: plain; hot words (the terms as
prompt biasing, ``TranscribeOptions.hotwords``); vocabulary correction after ASR
(:class:`voxloop.dialogue.vocabulary.Vocabulary`); and both. The correction is also run
with a 120-drug vocabulary, to show that a larger list (too long for a prompt) does not
invent terms. Reported: corpus WER (Whisper's EnglishTextNormalizer + jiwer) and term
accuracy (the fraction of term occurrences transcribed exactly, whole word, any case).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from voxloop.audio import Audio  # noqa: E402
from voxloop.dialogue.vocabulary import Vocabulary  # noqa: E402
from voxloop.engines import ASREngine, TranscribeOptions, TTSEngine, create_engine  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.sysinfo import cpu_model  # noqa: E402

SENTENCES = (
    "The patient takes metformin and atorvastatin daily.",
    "Lisinopril was increased to twenty milligrams because of high blood pressure.",
    "She started amlodipine last week and stopped omeprazole.",
    "Take levothyroxine in the morning on an empty stomach.",
    "Gabapentin helps with the nerve pain in his feet.",
    "Hydrochlorothiazide can lower potassium, so we check it monthly.",
    "Sertraline was switched to escitalopram after two months.",
    "Montelukast is taken at night for asthma.",
    "Rosuvastatin replaced simvastatin because of muscle aches.",
    "Pantoprazole before breakfast, and losartan after dinner.",
    "The albuterol inhaler is for shortness of breath.",
    "Furosemide was given for swelling in both legs.",
    "He takes tramadol for back pain and prednisone for the flare.",
    "Warfarin and clopidogrel together raise the risk of bleeding.",
    "Meloxicam with food, trazodone at bedtime.",
    "Duloxetine and bupropion are both antidepressants.",
    "Fluoxetine was tapered and tamsulosin was added.",
    "Carvedilol and metoprolol are beta blockers.",
    "Continue metformin, lisinopril and atorvastatin as before.",
    "Stop omeprazole and start pantoprazole with levothyroxine an hour apart.",
)
TERMS = (
    "metformin", "atorvastatin", "lisinopril", "amlodipine", "omeprazole", "levothyroxine", "gabapentin",
    "hydrochlorothiazide", "sertraline", "escitalopram", "montelukast", "rosuvastatin", "simvastatin",
    "pantoprazole", "losartan", "albuterol", "furosemide", "tramadol", "prednisone", "warfarin",
    "clopidogrel", "meloxicam", "trazodone", "duloxetine", "bupropion", "fluoxetine", "tamsulosin",
    "carvedilol", "metoprolol",
)
# A realistic formulary: the terms above among ~120 common drugs.
MORE_DRUGS = (
    "aspirin ibuprofen naproxen acetaminophen cetirizine loratadine ondansetron doxycycline amoxicillin "
    "azithromycin ciprofloxacin cephalexin methotrexate allopurinol spironolactone venlafaxine quetiapine "
    "risperidone lorazepam alprazolam clonazepam diazepam zolpidem oxycodone hydrocodone morphine codeine "
    "digoxin diltiazem verapamil propranolol atenolol valsartan enalapril ramipril glipizide glimepiride "
    "pioglitazone sitagliptin empagliflozin dapagliflozin liraglutide semaglutide heparin enoxaparin "
    "apixaban rivaroxaban dabigatran famotidine ranitidine sumatriptan topiramate lamotrigine levetiracetam "
    "carbamazepine phenytoin lithium haloperidol olanzapine aripiprazole buspirone hydroxyzine "
    "cyclobenzaprine baclofen tizanidine finasteride sildenafil tadalafil estradiol progesterone "
    "testosterone prednisolone dexamethasone hydrocortisone fluticasone budesonide tiotropium citalopram "
    "paroxetine mirtazapine nortriptyline amitriptyline clonidine hydralazine isosorbide nitroglycerin "
    "amiodarone rosiglitazone insulin glyburide levocetirizine fexofenadine benzonatate guaifenesin "
    "mupirocin nitrofurantoin"
).split()


@dataclass(frozen=True)
class Result:
    label: str
    hyps: list[str]
    seconds: float


def speak(tts: TTSEngine, text: str) -> Audio:
    samples = np.concatenate(list(tts.synthesize_sync(text))).astype(np.float32)
    return Audio(samples, tts.sample_rate).to(16000)


def normalizer() -> Callable[[str], str]:
    from whisper_normalizer.english import EnglishTextNormalizer

    return EnglishTextNormalizer()  # type: ignore[no-any-return]


def wer(refs: Sequence[str], hyps: Sequence[str]) -> float:
    import jiwer

    norm = normalizer()
    return float(jiwer.wer([norm(r) for r in refs], [norm(h) for h in hyps]))


def term_accuracy(refs: Sequence[str], hyps: Sequence[str], terms: Sequence[str]) -> tuple[int, int]:
    """(term occurrences transcribed exactly, term occurrences in the references)."""
    hit = total = 0
    for ref, hyp in zip(refs, hyps, strict=True):
        for term in terms:
            pattern = re.compile(rf"\b{re.escape(term)}\b", re.IGNORECASE)
            want = len(pattern.findall(ref))
            total += want
            hit += min(want, len(pattern.findall(hyp)))
    return hit, total


def run(asr: ASREngine, audios: Sequence[Audio], options: TranscribeOptions, label: str) -> Result:
    t0 = time.perf_counter()
    hyps = [asr.transcribe_sync(a, options).text for a in audios]
    return Result(label, hyps, time.perf_counter() - t0)


def corrected(result: Result, vocab: Vocabulary, label: str) -> Result:
    t0 = time.perf_counter()
    hyps = [vocab.correct(h) for h in result.hyps]
    return Result(label, hyps, result.seconds + time.perf_counter() - t0)


def false_corrections(vocab: Vocabulary) -> tuple[int, int]:
    """(texts changed, words) when correcting ordinary English: the eval-speech transcripts
    (when ../shared/eval-speech is there) and the correct reference sentences."""
    import json

    texts = list(SENTENCES)
    manifest = REPO.parent / "shared" / "eval-speech" / "manifest.jsonl"
    if manifest.exists():
        texts += [json.loads(line)["text"] for line in manifest.read_text(encoding="utf-8").splitlines() if line]
    return sum(vocab.correct(t) != t for t in texts), sum(len(t.split()) for t in texts)


def runaways(result: Result, refs: Sequence[str]) -> int:
    """Outputs more than twice as long as what was said (a decoder repetition loop)."""
    return sum(len(h.split()) > 2 * len(r.split()) for r, h in zip(refs, result.hyps, strict=True))


def render(results: Sequence[Result], refs: Sequence[str], model: str, audio_s: float,
           examples: list[tuple[str, str, str]], notes: Sequence[str]) -> str:
    lines = [
        "# Domain vocabulary benchmark (drug names)",
        "",
        f"- date: {dt.date.today().isoformat()}",
        f"- machine: `nproc` {len(os.sched_getaffinity(0))}, {cpu_model()}",
        f"- speech: {len(SENTENCES)} sentences x {len(refs) // len(SENTENCES)} renditions ({audio_s:.1f} s), "
        "embedded Piper voice (en_US-joe-medium, random synthesis), resampled to 16 kHz",
        f"- ASR: whisper {model} (CTranslate2 int8, greedy); vocabulary: the {len(TERMS)} drug names of the "
        f"sentences; large vocabulary: those plus {len(MORE_DRUGS)} more",
        "- WER: corpus WER after Whisper's EnglishTextNormalizer (whisper-normalizer) with jiwer; "
        "term accuracy: term occurrences transcribed exactly (whole word, any case)",
        "",
        "| configuration | WER | term accuracy | runaway outputs | ASR + correction time |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in results:
        hit, total = term_accuracy(refs, r.hyps, TERMS)
        lines.append(f"| {r.label} | {100 * wer(refs, r.hyps):.1f} % | {hit}/{total} "
                     f"({100 * hit / total:.0f} %) | {runaways(r, refs)} | {r.seconds:.1f} s |")
    lines += ["", *notes]
    if examples:
        lines += ["", "Examples (plain → corrected):", ""]
        lines += [f"- `{plain}` → `{fixed}`  (said: {said})" for said, plain, fixed in examples]
    lines.append("")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    p.add_argument("--model", default="tiny.en", help="tiny.en, base, small or a CTranslate2 model dir")
    p.add_argument("--repeats", type=int, default=3, help="renditions of each sentence")
    p.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "vocabulary.md")
    args = p.parse_args(argv)
    tts = create_engine("tts")
    asr = create_engine("asr", f"whisper:{args.model}")
    assert isinstance(tts, TTSEngine) and isinstance(asr, ASREngine)
    tts.prewarm()
    asr.prewarm()
    print("speaking ...", file=sys.stderr, flush=True)
    refs = [s for _ in range(args.repeats) for s in SENTENCES]
    audios = [speak(tts, s) for s in refs]
    vocab = Vocabulary(TERMS)
    large = Vocabulary((*TERMS, *MORE_DRUGS))
    asr.transcribe_sync(audios[0])  # warm-up
    print("transcribing ...", file=sys.stderr, flush=True)
    plain = run(asr, audios, TranscribeOptions(), "plain")
    hot = run(asr, audios, TranscribeOptions(hotwords=vocab.hotwords()), "hot words (prompt biasing)")
    results = [
        plain,
        hot,
        corrected(plain, vocab, "vocabulary correction"),
        corrected(hot, vocab, "hot words + vocabulary correction"),
        corrected(plain, large, f"vocabulary correction, {len(large)}-term list"),
    ]
    examples = [(s, h, vocab.correct(h)) for s, h in zip(refs, plain.hyps, strict=True)
                if vocab.correct(h) != h][:8]
    changed, n_words = false_corrections(large)
    notes = [
        "Runaway outputs: hypotheses more than twice as long as the sentence (a repetition loop).",
        f"False corrections: the {len(large)}-term vocabulary changed {changed} of the correct reference "
        f"sentences and eval-speech transcripts ({n_words} words of ordinary English).",
    ]
    table = render(results, refs, args.model, sum(a.duration for a in audios), examples, notes)
    print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(table, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
