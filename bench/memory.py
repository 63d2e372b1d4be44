"""Memory over a long conversation: 40 spoken turns, five facts told at the start, asked back at the end.

    .venv/bin/python bench/memory.py [--turns 40] [--conditions off,rules,user,cross] [--max-tokens 48]

The script (``SCRIPT``): turns 1-5 state five facts the rule extractor (voxloop/dialogue/facts.py)
takes ("My name is Ada.", "I live in the city of Vienna.", "My dog's name is Rex.", "My favorite color is
green.", "I work as a nurse."; not "I live in Lyon.": tiny.en hears Piper's Lyon as "Laion", and
the live ASR heard a short "I live in Berlin." / "I live in Vienna." as "I love and ..." in about
half the trials); turns 6-35 are ordinary questions; turns 36-40 ask each fact back
("What is my name?", ...). A recall counts when the reply's transcript contains the fact's value
(case-insensitive, whole word). ``--turns N`` (>= 10) keeps the facts and the questions and only
the first N - 10 ordinary turns.

Every turn is spoken: Piper (the server's voice, made in this process before any server starts)
says the turn's text, streamed at real time in 100 ms appends, each sent at the end of its 100 ms
(bench/common.py Mic), silence in between; the server's VAD ends the turn; the client waits for
the whole reply to play (response.done + 0.5 s) before the next turn.

Conditions, each a fresh conversation on a fresh ``voxloop serve`` (embedded models: Silero VAD,
Whisper tiny.en, SmolLM2-135M, Piper) with its own SQLite store (``--store sqlite:TMP/voxloop.db``)
and a TOML file passed with ``--config``:
- off:   ``memory.summary = "off"``: the old behaviour, the history is trimmed at its token budget;
- rules: ``memory.summary = "rules"`` (what "auto" is for the embedded model): rolling summaries;
- user:  rolling summaries and ``session.voxloop.user``: facts are also stored, and facts relevant
         to a turn (SQLite FTS5 / BM25) join the prompt just before it;
- cross: the same user tells the facts (turns 1-5) in one session; the server is stopped and a new
         one started on the same store; a NEW, unresumed session of that user asks turns 36-40.
Before each measured conversation an anonymous 2-turn conversation warms the server up (not
recorded; a cold server's first replies are slower).

Definitions (client-side, time.monotonic()):
- voice-to-voice: the turn's last non-silent sample spoken (energy trim, bench/common.py) -> the
  first response.output_audio.delta of its reply; p95 only over >= 30 samples.
- prompt tokens: ``prompt_tokens`` of the reply's ``voxloop.metrics`` (session.voxloop.events):
  the messages the reply was generated from, counted with the model's tokenizer + 4 a message.
- first token: ``llm_first_token_ms`` of the same event (the LLM's prompt evaluation + first token).
- summary rounds: "summarised" lines in the server's log (-v); the last summary is read from the store.
- prompt rewritten: a turn whose prompt is over 50 tokens smaller than the one before it in the same
  session: a summary round replaced older turns (the summary is in the system prompt), or the
  history was trimmed at its budget. The model's KV cache then holds only the unchanged start of
  the prompt, and the rest is read again before the reply. (A relevant-facts note that no longer
  applies takes off fewer tokens, near the end of the prompt.)
- retrieved: what the store's fact search (``search_facts``, the query the session makes with the
  turn's transcript) returns for each question of turns 36-40, checked after the conversation.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sqlite3
import statistics
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import websockets

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.common import (  # noqa: E402
    CHUNK,
    RATE,
    STEP,
    Clip,
    Mic,
    ProcSampler,
    Recorder,
    load,
    ms,
    pct,
    speech_bounds,
    table,
    write_report,
)
from tests.support import server_process  # noqa: E402
from voxloop.audio import float_to_pcm16, resample  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "memory.md"

# (what the user says at turns 1-5, what they ask at turns 36-40, the value a recall must name)
FACTS = [
    ("My name is Ada.", "What is my name?", "Ada"),
    ("I live in the city of Vienna.", "Where do I live?", "Vienna"),
    ("My dog's name is Rex.", "What is my dog's name?", "Rex"),
    ("My favorite color is green.", "What is my favorite color?", "green"),
    ("I work as a nurse.", "What is my job?", "nurse"),
]
ORDINARY = [  # turns 6-35: no facts, none of the five values
    "What is the tallest mountain in the world?", "How do plants make their food?",
    "Can you suggest a quick breakfast?", "Why is the sky blue?", "How many days are there in a leap year?",
    "What is a good way to fall asleep faster?", "Tell me a fun fact about octopuses.", "How does a rainbow form?",
    "What should I pack for a weekend trip?", "How far away is the moon?",
    "Give me a tip for learning a new language.", "What is the capital of Japan?", "How do I boil an egg?",
    "Why do cats purr?", "What is the difference between weather and climate?",
    "Can you recommend a board game for four people?", "How long should I steep black tea?",
    "What makes thunder so loud?", "How can I keep houseplants healthy?", "Tell me a short joke.",
    "What is the speed of sound?", "How do bees make honey?", "What is a healthy snack for the afternoon?",
    "Why do leaves change in autumn?", "How many planets are in the solar system?",
    "What is the best way to save money?", "How do airplanes stay in the air?",
    "Can you suggest a song for a rainy day?", "What is the largest ocean?", "Thanks, that was helpful.",
]
SCRIPT = [f[0] for f in FACTS] + ORDINARY + [f[1] for f in FACTS]
CONDITIONS = {
    "off": ("summaries off (history trimmed at its budget)", {"summary": "off"}, False),
    "rules": ("rolling summaries (rules)", {"summary": "rules"}, False),
    "user": ("rolling summaries + user id (facts stored, relevant ones retrieved)", {"summary": "rules"}, True),
    "cross": ("facts told in session 1; new unresumed session 2 of the user asks", {"summary": "rules"}, True),
}


def script(turns: int) -> list[tuple[int, str]]:
    """(turn number in the 40-turn script, text): the facts, the first ``turns - 10`` ordinary
    turns, the questions."""
    keep = max(0, min(len(ORDINARY), turns - 2 * len(FACTS)))
    numbered = list(enumerate(SCRIPT, start=1))
    return numbered[:len(FACTS)] + numbered[len(FACTS):len(FACTS) + keep] + numbered[-len(FACTS):]


def recalled(value: str, reply: str) -> bool:
    return re.search(rf"\b{re.escape(value)}\b", reply, re.I) is not None


# ---------------------------------------------------------------- speech
def speech_clips(texts: list[str]) -> dict[str, Clip]:
    """Piper (the server's default voice) says each text; 24 kHz clips in 100 ms chunks."""
    import base64

    from voxloop.engines import create_engine

    tts = create_engine("tts")
    tts.prewarm()
    clips: dict[str, Clip] = {}
    for text in dict.fromkeys(texts):
        x = resample(np.concatenate(list(tts.synthesize_sync(text))).astype(np.float32), tts.sample_rate, RATE)
        x = np.concatenate([np.zeros(int(0.2 * RATE), np.float32), x])  # a breath before the words
        x = np.concatenate([x, np.zeros(-len(x) % STEP, np.float32)])
        chunks = [base64.b64encode(float_to_pcm16(x[i : i + STEP])).decode() for i in range(0, len(x), STEP)]
        onset, end, gap = speech_bounds(x, RATE)
        clips[text] = Clip(text, text, resample(x, RATE, 16000), chunks, onset, end, gap)
    return clips


# ---------------------------------------------------------------- one conversation
@dataclass
class Turn:
    n: int  # turn number in the 40-turn script
    said: str
    session: int = 0  # the condition's first or second session (cross)
    heard: str = ""  # the server's transcript of the user turn
    reply: str = ""
    v2v: float | None = None
    prompt_tokens: int | None = None
    first_token_ms: float | None = None
    server_v2v_ms: float | None = None
    status: str = ""


@dataclass
class Conversation:
    id: str = ""
    turns: list[Turn] = field(default_factory=list)
    problems: Counter[str] = field(default_factory=Counter)
    max_send_lag: float = 0.0


def _is(type_: str, rid: str | None = None) -> Any:
    def pred(e: dict[str, Any]) -> bool:
        r = e.get("response_id") or (e.get("response") or {}).get("id")
        return e.get("type") == type_ and (rid is None or r == rid)
    return pred


async def one_turn(rec: Recorder, mic: Mic, clip: Clip, t: Turn, conv: Conversation) -> None:
    start = len(rec.events)
    pb = mic.play(clip)
    await mic.sent(pb.end_idx)
    end_t = mic.spoken_at(pb.end_stream)  # the user's last sound, on the mic's clock
    i = await rec.wait(lambda e: e["type"] == "input_audio_buffer.speech_stopped"
                       and e["audio_end_ms"] >= 1000 * pb.end_stream - 800, start, 30)
    item = rec.events[i][1]["item_id"]
    i = await rec.wait(_is("response.created"), i, 30)
    rid = rec.events[i][1]["response"]["id"]
    j = await rec.wait(lambda e: _is("response.output_audio.delta", rid)(e) or _is("response.done", rid)(e), i, 60)
    if rec.events[j][1]["type"] == "response.output_audio.delta":
        t.v2v = rec.events[j][0] - end_t
    else:
        conv.problems["reply without audio"] += 1
    j = await rec.wait(_is("response.done", rid), j, 90)
    done = rec.events[j][1]["response"]
    t.status = done["status"]
    t.reply = " ".join(c.get("transcript") or c.get("text") or ""
                       for o in done.get("output", []) for c in o.get("content", [])).strip()
    with_metrics = await rec.wait(_is("voxloop.metrics", rid), start, 5)
    m = rec.events[with_metrics][1]["metrics"]
    t.prompt_tokens, t.first_token_ms, t.server_v2v_ms = m.get("prompt_tokens"), m.get("llm_first_token_ms"), \
        m.get("voice_to_voice_ms")
    heard = [e for _, e in rec.events[start:]
             if e["type"] == "conversation.item.input_audio_transcription.completed" and e["item_id"] == item]
    t.heard = heard[0]["transcript"].strip() if heard else "?"
    extra = sum(1 for _, e in rec.events[start:] if e["type"] == "response.created") - 1
    if extra:
        conv.problems["more than one reply to a turn (the VAD split it)"] += extra
    await asyncio.sleep(0.5)  # let the last 300 ms the client buffers play out: talking now would barge in


async def converse(base: str, clips: dict[str, Clip], turns: list[tuple[int, str]], args: argparse.Namespace,
                   user: str | None, record: bool = True) -> Conversation:
    conv = Conversation()
    url = base.replace("http", "ws") + "/v1/realtime?model=voxloop"
    async with websockets.connect(url, max_size=None, open_timeout=30) as ws:
        rec, mic = Recorder(ws), Mic(ws)
        tasks = [asyncio.create_task(rec.run())]
        try:
            created = rec.events[await rec.wait(lambda e: e["type"] in ("session.created", "error"), 0, 30)][1]
            if created["type"] == "error":
                raise RuntimeError(f"connect refused: {created['error']}")
            conv.id = created["session"]["id"]
            ext: dict[str, Any] = {"events": True, **({"user": user} if user else {})}
            await ws.send(json.dumps({"type": "session.update", "session": {
                "type": "realtime", "max_output_tokens": args.max_tokens, "voxloop": ext}}))
            await rec.wait(_is("session.updated"), 0, 30)
            tasks.append(asyncio.create_task(mic.run()))
            mic.pause(0.5)
            for n, text in turns:
                t = Turn(n, text)
                try:
                    await one_turn(rec, mic, clips[text], t, conv)
                except TimeoutError:
                    conv.problems[f"turn {n} timed out"] += 1
                conv.turns.append(t)
                if record:
                    print(f"  {n:2d} v2v {ms(t.v2v):>5} ms  prompt {t.prompt_tokens!s:>5}  "
                          f"heard {t.heard!r} -> {t.reply[:90]!r}", flush=True)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        for _, e in rec.of("error"):
            conv.problems[f"error {e['error'].get('code')}"] += 1
        conv.max_send_lag = mic.max_lag
    return conv


# ---------------------------------------------------------------- one condition
@dataclass
class Result:
    key: str
    turns: list[Turn]
    problems: Counter[str]
    summaries: int
    summary: str
    facts: list[str]
    found: dict[str, list[str]]  # question heard -> facts the per-turn search returns
    cpu: float | None
    others: float | None
    load: str
    wall: float
    send_lag: float


def facts_of(base: str, user: str) -> list[str]:
    with urllib.request.urlopen(f"{base}/v1/voxloop/users/{user}/memory", timeout=10) as r:
        return [f["text"] for f in json.loads(r.read())["data"]]


def last_summary(db: Path, conversation_id: str) -> str:
    with sqlite3.connect(db) as c:
        row = c.execute("SELECT summary FROM conversations WHERE id = ?", (conversation_id,)).fetchone()
    return row[0] if row else ""


async def retrieved(db: Path, user: str, questions: list[str]) -> dict[str, list[str]]:
    """The facts the session's per-turn search finds for each question (docs/memory.md)."""
    from voxloop.store.sqlite import SQLiteStore

    store = SQLiteStore(db)
    try:
        return {q: [f.text for f in await store.search_facts(user, q, 3)] for q in questions}
    finally:
        await store.aclose()


def count_summaries(log: Path) -> int:
    return sum(1 for line in log.read_text(errors="replace").splitlines() if ": summarised " in line)


async def run_condition(key: str, clips: dict[str, Clip], turns: list[tuple[int, str]], args: argparse.Namespace,
                        tmp: Path) -> Result:
    title, memory, with_user = CONDITIONS[key]
    user = f"bench-{key}" if with_user else None  # each condition has a store of its own
    toml = tmp / f"{key}.toml"
    toml.write_text("[memory]\n" + "".join(f'{k} = "{v}"\n' for k, v in memory.items()))
    db = tmp / f"{key}.db"
    logs: list[Path] = []
    warm = [(0, ORDINARY[-1]), (0, ORDINARY[0])]
    parts = [turns] if key != "cross" else [turns[:len(FACTS)], turns[-len(FACTS):]]
    done: list[Turn] = []
    problems: Counter[str] = Counter()
    summary, facts, cpu_s, others, wall, lag = "", [], 0.0, 0.0, 0.0, 0.0
    load_at = load()
    for k, part in enumerate(parts):
        logs.append(tmp / f"{key}-{k}.log")
        with server_process("--config", str(toml), "--store", f"sqlite:{db}", log_path=logs[-1]) as (base, proc):
            print(f"[{key}] server pid {proc.pid} on {base}, log {logs[-1]}; warm-up ...", flush=True)
            await converse(base, clips, warm, args, None, record=False)
            if k == len(parts) - 1 and key == "cross":
                facts = facts_of(base, user or "")  # what the new session starts with
                print(f"[{key}] session 2 starts with the stored facts: {facts}", flush=True)
            print(f"[{key}] {title}: {len(part)} turns (load {load()})", flush=True)
            with ProcSampler(proc.pid) as s:
                t0 = time.monotonic()
                conv = await converse(base, clips, part, args, user)
                wall += time.monotonic() - t0
            cpu_s += (s.cpu_percent or 0.0) * (s._t1 - s._t0) / 100
            others += (s.others_percent or 0.0) * (s._t1 - s._t0) / 100
            if user and key != "cross":
                facts = facts_of(base, user)
            for t in conv.turns:
                t.session = k
            done += conv.turns
            problems += conv.problems
            lag = max(lag, conv.max_send_lag)
            cid = conv.id
        summary = last_summary(db, cid) or summary
    asked = [t.heard for t in done if t.said in {f[1] for f in FACTS}]
    found = await retrieved(db, user, asked) if user else {}
    return Result(key, done, problems, sum(count_summaries(p) for p in logs), summary, facts, found,
                  100 * cpu_s / wall if wall else None, 100 * others / wall if wall else None, load_at, wall, lag)


# ---------------------------------------------------------------- report
def med(xs: list[float]) -> str:
    return f"{statistics.median(xs):.0f}" if xs else "-"


def report(results: list[Result], args: argparse.Namespace) -> tuple[str, list[list[str]]]:
    rows, prompt_rows, answers, notes = [], [], [], []
    for r in results:
        questions = {f[1]: f[2] for f in FACTS}
        asked = [t for t in r.turns if t.said in questions]
        hits = [recalled(questions[t.said], t.reply) for t in asked]
        v2v = [t.v2v for t in r.turns if t.v2v is not None]
        prompts = [t.prompt_tokens for t in r.turns if t.prompt_tokens is not None]
        last = r.turns[-1].prompt_tokens if r.turns else None
        first = [t.first_token_ms for t in r.turns if t.first_token_ms is not None]
        rewritten = {b.n for a, b in zip(r.turns, r.turns[1:], strict=False) if a.session == b.session
                     and a.prompt_tokens is not None and b.prompt_tokens is not None
                     and b.prompt_tokens < a.prompt_tokens - 50}
        starts = {t.n for a, t in zip([None, *r.turns], r.turns, strict=False) if a is None or a.session != t.session}
        v2v_rw = [t.v2v for t in r.turns if t.v2v is not None and t.n in rewritten]
        first_rw = [t.first_token_ms for t in r.turns if t.first_token_ms is not None and t.n in rewritten]
        v2v_rest = [t.v2v for t in r.turns if t.v2v is not None and t.n not in rewritten | starts]
        heard_ok = sum(recalled(f[2], t.heard) for t in r.turns for f in FACTS if t.said == f[0])
        told = sum(1 for t in r.turns for f in FACTS if t.said == f[0])
        rows.append([r.key, CONDITIONS[r.key][0], f"{sum(hits)}/{len(hits)}",
                     " ".join("✓" if h else "✗" for h in hits), str(len(v2v)), ms(pct(v2v, 50)), ms(pct(v2v, 95)),
                     med(first), str(max(prompts, default="-")), str(last if last is not None else "-"),
                     str(r.summaries), f"{len(v2v_rw)}: {ms(pct(v2v_rw, 50))} / {med(first_rw)}",
                     f"{len(v2v_rest)}: {ms(pct(v2v_rest, 50))}"])
        prompt_rows.append(f"- **{r.key}**: " + ", ".join(
            f"{'‖ ' if t.n in starts and t.n != r.turns[0].n else ''}{'**' if t.n in rewritten else ''}"
            f"{t.n}: {t.prompt_tokens} ({ms(t.v2v)}){'**' if t.n in rewritten else ''}"
            for t in r.turns))
        answers.append(f"\n**{r.key}** ({CONDITIONS[r.key][0]})\n")
        answers += [f"- turn {t.n}, {t.said!r} (heard {t.heard!r}) → {t.reply!r} "
                    f"{'✓' if recalled(questions[t.said], t.reply) else '✗'}" for t in asked]
        notes.append(f"- **{r.key}**: fact turns transcribed with the value: {heard_ok}/{told}; "
                     + (f"facts stored for the user: {r.facts}; " if CONDITIONS[r.key][2] else "")
                     + f"server CPU {r.cpu:.0f} % avg, other processes {r.others:.0f} % (of 200 %), "
                     f"load at start {r.load}, {r.wall:.0f} s of conversation, worst append send lag "
                     f"{1000 * r.send_lag:.0f} ms; problems: "
                     + (", ".join(f"{k} x{v}" for k, v in sorted(r.problems.items())) or "none"))
        if r.found:
            notes.append("  - the per-turn fact search for each question: "
                         + "; ".join(f"{q!r} → {v or 'nothing'}" for q, v in r.found.items()))
        if r.summary:
            notes.append(f"  - last summary in the store ({len(r.summary)} chars): {r.summary!r}")
    head = ["condition", "", "recalled at turns 36-40", "name city dog colour job", "replies",
            "voice-to-voice p50 ms", "p95 ms", "first token p50 ms", "prompt tokens max", "prompt tokens at the last turn",
            "summary rounds", "turns with the prompt rewritten: n: v2v p50 / first token p50 ms",
            "other turns (not a session's first): n: v2v p50 ms"]
    body = "\n\n".join([
        "## Recall, latency and prompt size", table(head, rows),
        "## Prompt tokens by turn",
        "turn: prompt tokens (voice-to-voice ms); **bold**: the prompt was rewritten; ‖: a new session starts",
        "\n".join(prompt_rows),
        "## The answers to turns 36-40", "\n".join(answers).strip(),
        "## Per condition", "\n".join(notes),
        "## Definitions", __doc__.split("Definitions (client-side, time.monotonic()):", 1)[1].strip(),
    ])
    return body, [head, *rows]


async def main_async(args: argparse.Namespace) -> None:
    t_start = time.monotonic()
    turns = script(args.turns)
    keys = args.conditions.split(",")
    unknown = [k for k in keys if k not in CONDITIONS]
    if unknown:
        raise SystemExit(f"unknown condition(s) {unknown}; choose from {list(CONDITIONS)}")
    print(f"{len(turns)} turns a conversation; speaking them with Piper ...", flush=True)
    clips = speech_clips([text for _, text in turns] + ORDINARY[:1] + ORDINARY[-1:])
    speech = sum(c.end - c.onset for c in clips.values())
    print(f"{len(clips)} clips, {speech:.0f} s of speech", flush=True)
    load_before = load()
    results = []
    with tempfile.TemporaryDirectory(prefix="voxloop-bench-memory-") as tmp:
        for key in keys:
            results.append(await run_condition(key, clips, turns, args, Path(tmp)))
    load_after = load()
    body, (head, *rows) = report(results, args)
    print(table(head, rows), flush=True)
    took = time.monotonic() - t_start
    intro = [f"- load average (1, 5, 15 min) before: {load_before}; after: {load_after}",
             "- the machine is shared: other engineers' processes (tests, servers) may have been running",
             f"- {len(turns)} spoken user turns a conversation (Piper speech of the script's text, real-time "
             f"100 ms appends, {CHUNK * 1000:.0f} ms chunks sent at the end of their slot), max_output_tokens "
             f"{args.max_tokens}, server defaults otherwise (history budget 1,200 tokens, summaries after 10 "
             "user turns keeping the last 4, 8 facts in a new conversation's prompt, 3 relevant facts a turn)",
             "- each condition on a fresh `voxloop serve` (embedded Silero VAD, Whisper tiny.en, SmolLM2-135M "
             "Q4_1, Piper joe) with its own SQLite store; the cross-session condition restarts the server "
             "between its two sessions; an unrecorded anonymous 2-turn warm-up before each measured session",
             f"- the whole benchmark took {took / 60:.1f} min"]
    write_report(Path(args.out), "Memory over a 40-turn spoken conversation", intro, body)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--turns", type=int, default=len(SCRIPT), help="turns a conversation (>= 10; default 40)")
    p.add_argument("--conditions", default=",".join(CONDITIONS), help="comma-separated: " + ", ".join(CONDITIONS))
    p.add_argument("--max-tokens", type=int, default=48, help="session max_output_tokens")
    p.add_argument("--out", default=str(RESULTS), help="results file (markdown)")
    args = p.parse_args()
    if args.turns < 2 * len(FACTS):
        p.error(f"--turns must be at least {2 * len(FACTS)}")
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
