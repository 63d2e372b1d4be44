"""Assemble docs/benchmarks.md: the summary (docs/benchmarks-summary.md), then every
bench/results/*.md, with the scale plot (docs/img/scale.png, written by bench/plot.py), when it
exists, before the realtime results."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ORDER = ["asr", "asr-batch", "tts", "llm", "llm-weights", "llm-batch", "realtime", "dictation", "remote", "soak", "turn",
         "vocabulary"]
PLOT = ROOT / "docs" / "img" / "scale.png"


def main() -> None:
    results = ROOT / "bench" / "results"
    parts = [(ROOT / "docs" / "benchmarks-summary.md").read_text().rstrip()]
    names = ORDER + sorted(p.stem for p in results.glob("*.md") if p.stem not in ORDER)
    for name in names:
        if name == "realtime" and PLOT.exists():  # the scale plot heads the load benchmarks
            parts.append("## Latency against load\n\n"
                         f"![Voice-to-voice and partial-lag p50/p95 against N]({PLOT.relative_to(ROOT / 'docs')})\n\n"
                         "_(`bench/plot.py`, from `bench/results/realtime.json`, `dictation.json` and "
                         "`remote.json`: conversations on the left, dictation streams on the right, log2 N)_")
        path = results / f"{name}.md"
        if path.exists():
            body = path.read_text().rstrip()
            # demote headings one level under the summary's title
            body = "\n".join("#" + line if line.startswith("#") else line for line in body.splitlines())
            parts.append(f"{body}\n\n_(from `bench/results/{name}.md`, written by `bench/{name}.py`)_")
    out = ROOT / "docs" / "benchmarks.md"
    out.write_text("\n\n".join(parts) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
