"""ASR benchmark: corpus WER, real-time factor and latency on ../shared/eval-speech (English).

    .venv/bin/python bench/asr.py [--model tiny.en] [--threads 1] [--out bench/results/asr.md]

Configurations: 30 s window vs reduced window, greedy vs beam 5, and the path files take
(CLI ``voxloop transcribe`` and REST ``/v1/audio/transcriptions``: VAD long form, beam 5). WER uses Whisper's
English normaliser (``whisper-normalizer``) and ``jiwer``; the derived long-form file
``LJ001-0001_to_0016_concat`` is left out of the aggregate (it repeats 16 clips) and is
reported on its own as a long-form check. Files are read in place, never copied.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from voxloop.audio import Audio, read_wav  # noqa: E402
from voxloop.engines.asr.longform import transcribe_long  # noqa: E402
from voxloop.engines.asr.whisper import WhisperASR  # noqa: E402
from voxloop.engines.base import VADEngine  # noqa: E402
from voxloop.engines.registry import create_engine  # noqa: E402
from voxloop.engines.types import OFFLINE_BEAM_SIZE, TranscribeOptions  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.sysinfo import cpu_model  # noqa: E402

LONGFORM = "LJ001-0001_to_0016_concat"
SWEEP_THREADS = (1, 2, 0)
SHORT_CLIP = "stereo_diarization_left"  # a 5.0 s utterance


@dataclass(frozen=True)
class Clip:
    name: str
    group: str
    text: str
    audio: Audio


@dataclass(frozen=True)
class Config:
    label: str
    window: Literal["auto", "full"]
    beam: int
    files: bool = False  # the file path of the CLI and REST: Silero VAD long form + their defaults
    stock: bool = False  # reference: stock faster-whisper WhisperModel on the same weights


CONFIGS = (
    Config("30 s window, greedy", "full", 1),
    Config("reduced window, greedy (live turns and partials)", "auto", 1),
    Config("30 s window, beam 5", "full", 5),
    Config("reduced window, beam 5", "auto", 5),
    Config(f"files: CLI and REST default (VAD long form, beam {OFFLINE_BEAM_SIZE})", "auto", OFFLINE_BEAM_SIZE,
           files=True),
    Config("reference: stock faster-whisper (30 s window, beam 5, same weights)", "full", 5, stock=True),
)


def group_of(name: str) -> str:
    if name.startswith("LJ"):
        return "LJ Speech"
    if name.startswith("sense_and_sensibility"):
        return "LibriVox"
    if name[:1].isdigit() or name.startswith(("leopard", "librispeech", "stereo_diarization")):
        return "LibriSpeech/LibriTTS"
    return "other (jfk, commands, OSR, AMI)"


def load_clips(root: Path) -> list[Clip]:
    clips = []
    for line in (root / "manifest.jsonl").read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        item = json.loads(line)
        if item["lang"] != "en":
            continue
        name = Path(item["audio"]).stem
        clips.append(Clip(name, group_of(name), item["text"], read_wav(root / item["audio"])))
    return clips


def wer(refs: Sequence[str], hyps: Sequence[str]) -> float:
    import jiwer
    from whisper_normalizer.english import EnglishTextNormalizer

    norm = EnglishTextNormalizer()
    pairs = [(norm(r), norm(h)) for r, h in zip(refs, hyps, strict=True)]
    pairs = [(r, h) for r, h in pairs if r.strip()]
    return float(jiwer.wer([r for r, _ in pairs], [h for _, h in pairs]))


class RetryCounter(logging.Handler):
    """Counts the whisper backend's decoding-loop retries (it logs them at DEBUG)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if "decoding loop" in record.getMessage():
            self.count += 1


@dataclass
class Result:
    config: str
    wer: float
    groups: dict[str, float]
    rtf: float
    mean_latency: float
    short_median: float
    short_min: float
    short_cpu: float
    long_wer: float
    long_rtf: float
    retries: int = 0
    hyps: dict[str, str] = field(default_factory=dict)


_VAD: list[VADEngine] = []


def files_vad() -> VADEngine:
    """The VAD the CLI uses for files (created once)."""
    if not _VAD:
        vad = create_engine("vad")
        assert isinstance(vad, VADEngine)
        vad.prewarm()
        _VAD.append(vad)
    return _VAD[0]


_STOCK: list[Any] = []


def stock_text(audio: Audio, threads: int) -> str:
    """faster-whisper's own pipeline (WhisperModel.transcribe, its defaults: beam 5, 30 s window,
    temperature fallback, no VAD) on the embedded tiny.en weights: the reference to match."""
    if not _STOCK:
        from faster_whisper import WhisperModel

        from voxloop.engines.models import embedded_whisper_path

        _STOCK.append(WhisperModel(str(embedded_whisper_path()), device="cpu", compute_type="int8",
                                   cpu_threads=threads))
    segments, _ = _STOCK[0].transcribe(audio.to(16000).samples, beam_size=5, language="en")
    return " ".join(seg.text.strip() for seg in segments)


def timed(asr: WhisperASR, audio: Audio, opts: TranscribeOptions, files: bool = False,
          stock: bool = False) -> tuple[str, float, float]:
    """Text, wall seconds and process CPU seconds of one call."""
    t0, c0 = time.perf_counter(), time.process_time()
    if stock:
        text = stock_text(audio, 1)
    elif files:
        text = transcribe_long(asr, files_vad(), audio, opts).text
    else:
        text = asr.transcribe_sync(audio, opts).text
    return text, time.perf_counter() - t0, time.process_time() - c0


def run_config(asr: WhisperASR, clips: Sequence[Clip], cfg: Config, repeats: int) -> Result:
    opts = TranscribeOptions(window=cfg.window, beam_size=cfg.beam)
    scored = [c for c in clips if c.name != LONGFORM]
    hyps: dict[str, str] = {}
    latencies: list[float] = []
    counter = RetryCounter()
    logger = logging.getLogger("voxloop.engines.asr.whisper")
    logger.addHandler(counter)
    logger.setLevel(logging.DEBUG)
    try:
        for clip in scored:
            hyps[clip.name], wall, _ = timed(asr, clip.audio, opts, cfg.files, cfg.stock)
            latencies.append(wall)
    finally:
        logger.removeHandler(counter)
    groups = sorted({c.group for c in scored})
    by_group = {
        g: wer(
            [c.text for c in scored if c.group == g], [hyps[c.name] for c in scored if c.group == g]
        )
        for g in groups
    }
    short = next(c for c in clips if c.name == SHORT_CLIP)
    timed(asr, short.audio, opts, cfg.files, cfg.stock)  # warm
    runs = [timed(asr, short.audio, opts, cfg.files, cfg.stock) for _ in range(repeats)]
    long = next((c for c in clips if c.name == LONGFORM), None)
    long_wer = long_rtf = float("nan")
    if long is not None:
        text, wall, _ = timed(asr, long.audio, opts, cfg.files, cfg.stock)
        long_rtf = wall / long.audio.duration
        long_wer = wer([long.text], [text])
    return Result(
        config=cfg.label,
        wer=wer([c.text for c in scored], [hyps[c.name] for c in scored]),
        groups=by_group,
        rtf=sum(latencies) / sum(c.audio.duration for c in scored),
        mean_latency=statistics.mean(latencies),
        short_median=statistics.median(r[1] for r in runs),
        short_min=min(r[1] for r in runs),
        short_cpu=statistics.median(r[2] for r in runs),
        long_wer=long_wer,
        long_rtf=long_rtf,
        retries=counter.count,
        hyps=hyps,
    )


NOTES = """Notes:

- Reduced window: short audio is padded with silence (in the waveform) to 10 s, then the
  next multiple of 10 s, instead of 30 s. On its own it sends tiny.en into decoding loops on a
  few clips ("not only by Schoeffer, not only by Schoeffer, ..."); the backend detects a
  loop and decodes that clip again with the full 30 s window (then beam 5, then without the
  prompt). "loop retries" counts those second decodes over the 55 clips.
- Every configuration decodes with a token budget of 12 tokens per second of audio (+24),
  about twice the fastest speech in the set, so a loop or an invented continuation stops early.
- `speech_recognition-english` ("one two three") scores 300 % WER in every configuration:
  the normaliser turns the reference into "123" and the hypothesis "1, 2, 3." into "one 2 3".
  `LJ001-0024` gets a memorised next sentence of LJ Speech appended by tiny.en in every
  configuration.
- CPU time is the process's total (all threads); with cpu_threads=1 it is what one call costs
  on an idle core. Wall-clock numbers move with the load of other work on this shared machine.
"""


def thread_sweep(
    model: str, window_s: float, short: Clip, repeats: int
) -> list[tuple[int, float, float]]:
    """5 s latency (median wall, median CPU) of the default configuration per cpu_threads."""
    out = []
    for threads in SWEEP_THREADS:
        asr = WhisperASR(model, cpu_threads=threads, window_s=window_s)
        try:
            timed(asr, short.audio, TranscribeOptions())
            runs = [timed(asr, short.audio, TranscribeOptions()) for _ in range(repeats)]
        finally:
            asr.close()
        out.append(
            (threads, statistics.median(r[1] for r in runs), statistics.median(r[2] for r in runs))
        )
    return out


def render(
    results: Sequence[Result],
    sweep: Sequence[tuple[int, float, float]],
    args: argparse.Namespace,
    asr: WhisperASR,
    clips: Sequence[Clip],
    load: str,
) -> str:
    scored = [c for c in clips if c.name != LONGFORM]
    groups = sorted({g for r in results for g in r.groups})
    ms = 1000.0
    lines = [
        "# ASR benchmark",
        "",
        f"- date: {dt.date.today().isoformat()}",
        f"- machine: `nproc` {len(os.sched_getaffinity(0))}, {cpu_model()}; load average {load}",
        f"- model: whisper {args.model} ({asr.describe()['source'].split(' at ')[0]}), "
        f"CTranslate2 int8, cpu_threads={args.threads}, reduced window {args.window_s:g} s",
        f"- data: {len(scored)} English clips of eval-speech, "
        f"{sum(c.audio.duration for c in scored):.1f} s of audio "
        f"(`{LONGFORM}` left out of WER, reported as long-form)",
        "- WER: corpus WER after Whisper's EnglishTextNormalizer (whisper-normalizer), jiwer",
        "- RTF: processing time / audio duration, one call per clip, clips in turn",
        f"- 5 s utterance: `{SHORT_CLIP}` (5.0 s), {args.repeats} warm calls: wall-clock median "
        "and minimum, and the median process CPU time (what it costs on an idle core)",
        "",
        "| configuration | WER | RTF | mean latency per clip "
        "| 5 s utterance: median / min / CPU | long-form 112 s: WER, RTF | loop retries |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        lines.append(
            f"| {r.config} | {100 * r.wer:.2f} % | {r.rtf:.3f} | {ms * r.mean_latency:.0f} ms "
            f"| {ms * r.short_median:.0f} / {ms * r.short_min:.0f} / {ms * r.short_cpu:.0f} ms "
            f"| {100 * r.long_wer:.2f} %, {r.long_rtf:.3f} | {r.retries} |"
        )
    lines += ["", "WER per source:", "", "| configuration | " + " | ".join(groups) + " |"]
    lines.append("| --- |" + " --- |" * len(groups))
    for r in results:
        cells = [f"{100 * r.groups.get(g, float('nan')):.2f} %" for g in groups]
        lines.append(f"| {r.config} | " + " | ".join(cells) + " |")
    if sweep:
        lines += ["", "5 s utterance, reduced window, greedy, by CTranslate2 `cpu_threads`:", ""]
        lines += ["| cpu_threads | wall median | CPU median |", "| --- | --- | --- |"]
        for threads, wall, cpu in sweep:
            label = f"{threads} (CTranslate2 default)" if threads == 0 else str(threads)
            lines.append(f"| {label} | {ms * wall:.0f} ms | {ms * cpu:.0f} ms |")
    lines += ["", NOTES]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument(
        "--model", default="tiny.en", help="tiny.en, base, small or a CTranslate2 model dir"
    )
    p.add_argument("--data", type=Path, default=REPO.parent / "shared" / "eval-speech")
    p.add_argument(
        "--threads", type=int, default=1, help="CTranslate2 intra-op threads (0 = its default)"
    )
    p.add_argument("--window-s", type=float, default=10.0)
    p.add_argument("--repeats", type=int, default=10, help="calls for the 5 s latency")
    p.add_argument(
        "--configs", default="all", help="comma-separated indexes into the 6 configs, or 'all'"
    )
    p.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "asr.md")
    p.add_argument("--dump", type=Path, help="write every hypothesis as JSON here")
    p.add_argument(
        "--no-sweep", dest="sweep", action="store_false", help="skip the cpu_threads sweep"
    )
    args = p.parse_args(argv)
    if not (args.data / "manifest.jsonl").exists():
        print(f"no eval-speech at {args.data}", file=sys.stderr)
        return 2
    configs = (
        CONFIGS
        if args.configs == "all"
        else tuple(CONFIGS[int(i)] for i in args.configs.split(","))
    )
    clips = load_clips(args.data)
    asr = WhisperASR(args.model, cpu_threads=args.threads, window_s=args.window_s)
    asr.prewarm()
    asr.transcribe_sync(clips[0].audio)  # warm-up
    load_before = " ".join(f"{x:.1f}" for x in os.getloadavg())
    results = []
    for cfg in configs:
        print(f"running: {cfg.label} ...", file=sys.stderr, flush=True)
        results.append(run_config(asr, clips, cfg, args.repeats))
    sweep: list[tuple[int, float, float]] = []
    if args.sweep:
        print("running: cpu_threads sweep ...", file=sys.stderr, flush=True)
        short = next(c for c in clips if c.name == SHORT_CLIP)
        sweep = thread_sweep(args.model, args.window_s, short, args.repeats)
    load = f"{load_before} before, {' '.join(f'{x:.1f}' for x in os.getloadavg())} after"
    table = render(results, sweep, args, asr, clips, load)
    print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(table, encoding="utf-8")
    if args.dump:
        args.dump.write_text(
            json.dumps({r.config: r.hyps for r in results}, indent=1), encoding="utf-8"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
