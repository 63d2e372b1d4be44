"""Latency against load: docs/img/scale.png from bench/results/{realtime,dictation,remote}.json.

    .venv/bin/python bench/plot.py [--out docs/img/scale.png]

Left: conversations (bench/realtime.py), voice-to-voice p50 and p95 against N sessions, with the
issue 11 target line (2 x the N=1 p50 of the same run) and, when bench/remote.py has run, its
voice-to-voice with remote inference. Right: dictation (bench/dictation.py), partial lag p50 and
p95 against N streams; hollow markers are N where not every stream kept real time. The x axes are
log2. A result file that is missing is left out (and said so); with none, nothing is written.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
OUT = ROOT / "docs" / "img" / "scale.png"


def load_json(results: Path, name: str) -> dict[str, Any] | None:
    path = results / f"{name}.json"
    if not path.exists():
        print(f"no {path}: run bench/{name}.py first (left out of the plot)")
        return None
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def series(data: dict[str, Any], key: str) -> tuple[list[int], list[float]]:
    """(N, value in seconds) for the rows that have ``key``."""
    pts = [(r["n"], r[key] / 1000) for r in data["rows"] if r.get(key) is not None]
    return [n for n, _ in pts], [v for _, v in pts]


def subtitle(data: dict[str, Any]) -> str:
    cpu = data["machine"]["cpu"].split(" (")[0]
    return f"{data['date'][:10]}, {data['machine']['cpus']} CPUs, {cpu}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--results", default=str(RESULTS), help="directory of realtime.json, dictation.json, remote.json")
    p.add_argument("--out", default=str(OUT), help="PNG to write")
    args = p.parse_args()
    realtime, dictation, remote = (load_json(Path(args.results), n) for n in ("realtime", "dictation", "remote"))
    if not (realtime or dictation):
        print("nothing to plot")
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True)
    ns: dict[Any, set[int]] = {left: set(), right: set()}
    if realtime:
        for key, style, label in (("v2v_p50_ms", "o-", "p50"), ("v2v_p95_ms", "s-", "p95")):
            x, y = series(realtime, key)
            ns[left].update(x)
            left.plot(x, y, style, label=f"voice-to-voice {label}")
        x1, y1 = series(realtime, "v2v_p50_ms")
        if 1 in x1:
            left.axhline(2 * y1[x1.index(1)], color="grey", ls="--", lw=1, label="target: 2 x p50 at N=1")
        left.set_title(f"Conversations ({subtitle(realtime)})", fontsize=9)
    if remote:
        for key, style, label in (("v2v_p50_ms", "o:", "p50"), ("v2v_p95_ms", "s:", "p95")):
            x, y = series(remote, key)
            ns[left].update(x)
            left.plot(x, y, style, alpha=0.7, label=f"remote inference {label}")
    left.set_xlabel("concurrent conversations N")
    left.set_ylabel("voice-to-voice latency (s)")
    if dictation:
        live = {r["n"]: r.get("real_time", True) for r in dictation["rows"]}
        for key, marker, label in (("partial_lag_p50_ms", "o", "p50"), ("partial_lag_p95_ms", "s", "p95")):
            x, y = series(dictation, key)
            ns[right].update(x)
            (line,) = right.plot(x, y, "-", label=f"partial lag {label}")
            for xi, yi in zip(x, y, strict=True):
                right.plot([xi], [yi], marker, color=line.get_color(),
                           markerfacecolor=line.get_color() if live.get(xi, True) else "none")
        right.plot([], [], "o", color="grey", markerfacecolor="none", label="not all streams real time")
        right.set_title(f"Dictation ({subtitle(dictation)})", fontsize=9)
    right.set_xlabel("concurrent dictation streams N")
    right.set_ylabel("partial transcript lag (s)")
    for ax in (left, right):
        ax.set_xscale("log", base=2)
        ticks = sorted(ns[ax]) or [1]
        ax.set_xticks(ticks, [str(t) for t in ticks])
        ax.set_ylim(bottom=0)
        ax.grid(True, alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
