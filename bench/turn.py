"""Does Smart Turn v3 let the end-of-turn silence shrink without cutting users off?

For every English clip of ../shared/eval-speech, Silero VAD finds the pauses inside the speech
(silence >= 200 ms between speech: the user is *not* done) and the end of the last speech (the
user *is* done). Smart Turn scores the audio up to each point. We compare endpointing by
silence alone (200 ms / 500 ms) with Smart Turn at 200 ms plus a 1500 ms fallback.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from pathlib import Path

import numpy as np

from voxloop.audio import Audio, decode_file
from voxloop.engines.turn import SmartTurn
from voxloop.engines.vad.silero import SileroVAD

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.sysinfo import machine  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
EVAL = ROOT.parent / "shared" / "eval-speech"
CHUNK_S = 512 / 16000


def pauses(probs: np.ndarray, min_pause_s: float = 0.2) -> tuple[list[tuple[float, float]], float]:
    """Inner pauses (start, length) and the end of the last speech, in seconds."""
    speech = probs > 0.5
    idx = np.flatnonzero(speech)
    if len(idx) == 0:
        return [], 0.0
    first, last = idx[0], idx[-1]
    out, run_start = [], None
    for i in range(first, last + 1):
        if not speech[i] and run_start is None:
            run_start = i
        elif speech[i] and run_start is not None:
            length = (i - run_start) * CHUNK_S
            if length >= min_pause_s:
                out.append((run_start * CHUNK_S, length))
            run_start = None
    return out, (last + 1) * CHUNK_S


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default=str(ROOT / "bench/results/turn.md"))
    args = ap.parse_args()
    vad, turn = SileroVAD(), SmartTurn()
    vad.prewarm()
    turn.prewarm()
    mids: list[tuple[float, float]] = []  # (pause length, p_complete)
    ends: list[float] = []
    for line in (EVAL / "manifest.jsonl").read_text().splitlines():
        m = json.loads(line)
        if m["lang"] != "en" or "concat" in m["audio"]:
            continue
        audio = decode_file(EVAL / m["audio"], 16000)
        inner, end = pauses(vad.speech_probabilities(audio.samples))
        for start, length in inner:
            mids.append((length, turn.probability_sync(Audio(audio.samples[: int(start * 16000)], 16000))))
        ends.append(turn.probability_sync(Audio(audio.samples[: int(end * 16000)], 16000)))
    p_end = np.array(ends)
    n_mid = len(mids)
    rows = []
    for name, silence in (("silence 200 ms", 0.2), ("silence 500 ms", 0.5), ("silence 800 ms", 0.8)):
        cut = sum(1 for length, _ in mids if length >= silence)
        rows.append((name, cut, silence * 1000, silence * 1000))
    early = p_end > 0.5
    for at in (0.2, 0.5):
        for th in (0.5, 0.8, 0.95):
            cut = sum(1 for length, p in mids if (p > th and length >= at) or length >= 1.5)
            wait = np.where(p_end > th, at * 1000, 1500)
            rows.append((f"Smart Turn p > {th} at {at * 1000:.0f} ms, else 1500 ms", cut,
                         float(np.median(wait)), float(np.mean(wait))))
    lines = [
        "# End-of-turn detection: silence vs Smart Turn v3",
        "",
        f"- date: {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC",
        f"- machine: {machine()}",
        "- command: `.venv/bin/python bench/turn.py`",
        f"- {len(ends)} English clips of eval-speech; {n_mid} pauses >= 200 ms inside speech (the user is "
        "not done); each clip's end of speech (the user is done)",
        f"- Smart Turn p(complete) at real ends: median {np.median(p_end):.2f}, > 0.5 for "
        f"{early.mean():.0%}; at inner pauses: > 0.5 for "
        f"{(sum(1 for _, p in mids if p > 0.5) / max(1, n_mid)):.0%}",
        "",
        f"| endpointing | users cut off mid-turn (of {n_mid} pauses) | wait after a real end, median ms | mean ms |",
        "| --- | ---: | ---: | ---: |",
    ]
    lines += [f"| {n} | {c} | {md:.0f} | {mn:.0f} |" for n, c, md, mn in rows]
    text = "\n".join(lines) + "\n"
    print(text)
    Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
