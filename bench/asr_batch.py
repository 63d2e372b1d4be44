"""Would batching Whisper decodes across streams pay on a CPU? Times CTranslate2's encode and
greedy generate for B utterances of 4 s (10 s window, as live finals use) as one batch and one
after another, on the embedded tiny.en, 1 thread.

    .venv/bin/python bench/asr_batch.py [--batches 1,2,4,8] [--reps 3]

Writes bench/results/asr-batch.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import table, write_report  # noqa: E402
from voxloop.engines.asr.features import log_mel_spectrogram  # noqa: E402
from voxloop.engines.asr.whisper import WhisperASR  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "asr-batch.md"


def main() -> None:
    import ctranslate2

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batches", default="1,2,4,8")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--out", default=str(RESULTS))
    a = p.parse_args()
    asr = WhisperASR(workers=1, cpu_threads=1)
    asr.prewarm()
    model, tok = asr._model, asr._tokenizer
    assert model is not None and tok is not None
    rng = np.random.default_rng(0)
    t = np.arange(4 * 16000) / 16000
    speechy = (0.1 * np.sin(2 * np.pi * 180 * t) * (1 + np.sin(2 * np.pi * 3 * t)) + 0.01 * rng.standard_normal(len(t)))
    feats = log_mel_spectrogram(speechy.astype(np.float32), 80, pad_to=10 * 16000)
    prompt = tok.prompt("en", (), None, 0)
    rows = []
    for b in (int(x) for x in a.batches.split(",")):
        batch = np.stack([feats] * b)
        one, many = [], []
        for _ in range(a.reps):
            t0 = time.perf_counter()
            for _ in range(b):
                enc = model.encode(ctranslate2.StorageView.from_array(feats[None]))
                model.generate(enc, [prompt], beam_size=1, max_length=64)
            one.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            enc = model.encode(ctranslate2.StorageView.from_array(batch))
            model.generate(enc, [prompt] * b, beam_size=1, max_length=64)
            many.append(time.perf_counter() - t0)
        s, m = min(one), min(many)
        rows.append([str(b), f"{1000 * s:.0f}", f"{1000 * m:.0f}", f"{s / m:.2f}"])
        print(rows[-1], flush=True)
    body = table(["B utterances", "one by one ms", "one batch ms", "speed-up"], rows)
    print(body)
    write_report(Path(a.out), "ASR: batched Whisper decodes vs one by one", [
        "tiny.en int8, 1 thread, 4 s utterances in a 10 s window, greedy; best of "
        f"{a.reps}.",
    ], body)


if __name__ == "__main__":
    main()
