"""What batching Whisper decodes across streams buys: B real utterances (2-8 s, from
../shared/eval-speech) decoded one by one with ``WhisperASR.transcribe_sync`` and as one batch
with ``transcribe_batch_sync`` (what the ASR scheduler runs when B streams' decodes wait together),
on the embedded tiny.en, 1 thread, live settings (10 s window, greedy). Also checks that a batch
gives every clip the transcript it gets alone.

    .venv/bin/python bench/asr_batch.py [--batches 1,2,4,8] [--reps 3]

Writes bench/results/asr-batch.md (and .json).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import EVAL, load_clips, table, write_json, write_report  # noqa: E402
from voxloop.audio import Audio  # noqa: E402
from voxloop.engines.asr.whisper import WhisperASR  # noqa: E402
from voxloop.engines.types import TranscribeOptions  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "asr-batch.md"


def best(fn: object, reps: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(reps):
        t0 = time.perf_counter()
        out = fn()  # type: ignore[operator]
        times.append(time.perf_counter() - t0)
    return min(times), out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batches", default="1,2,4,8")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--threads", type=int, default=1, help="CTranslate2 threads (the server gives ASR 1 per worker)")
    p.add_argument("--out", default=str(RESULTS))
    a = p.parse_args()
    if not (EVAL / "manifest.jsonl").exists():
        sys.exit("../shared/eval-speech is not available: this benchmark needs its English clips")
    clips = load_clips(lambda item: 2.0 <= float(item["duration_s"]) <= 8.0)
    asr = WhisperASR(workers=1, cpu_threads=a.threads)
    asr.prewarm()
    options = TranscribeOptions()
    audios = [Audio(c.audio16, 16000) for c in clips]
    asr.transcribe_sync(audios[0], options)  # warm
    rows, records = [], []
    for b in (int(x) for x in a.batches.split(",")):
        group = [(audios[i % len(audios)], options) for i in range(b)]
        seconds = sum(x.duration for x, _ in group)
        alone_s, alone = best(lambda g=group: [asr.transcribe_sync(x, o) for x, o in g], a.reps)
        batch_s, together = best(lambda g=group: asr.transcribe_batch_sync(g), a.reps)
        same = sum(x.text == y.text for x, y in zip(alone, together, strict=True))  # type: ignore[call-overload]
        rows.append([str(b), f"{seconds:.1f}", f"{1000 * alone_s:.0f}", f"{1000 * batch_s:.0f}",
                     f"{alone_s / batch_s:.2f}x", f"{same}/{b}"])
        records.append({"batch": b, "audio_s": seconds, "alone_ms": 1000 * alone_s, "batch_ms": 1000 * batch_s,
                        "same_transcripts": same})
        print(rows[-1], flush=True)
    body = table(["B utterances", "audio s", "one by one ms", "one batch ms", "speed-up", "same transcript"], rows)
    print(body)
    intro = [f"- tiny.en int8, {a.threads} thread(s), live settings (10 s window, greedy); B real "
             f"eval-speech utterances of 2-8 s; best of {a.reps}."]
    write_report(Path(a.out), "ASR: batched Whisper decodes vs one by one", intro, body)
    write_json(Path(a.out).with_suffix(".json"), "asr_batch", records, threads=a.threads)


if __name__ == "__main__":
    main()
