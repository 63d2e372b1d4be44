"""Persona consistency: does the embedded LLM stay in character over a 30-turn conversation?

Starts ``voxloop serve --persona tests/data/persona-nova.json`` (Captain Nova of the starship
Meridian, who flies cargo between Jupiter's moons) and talks to it over the realtime WebSocket in
text mode: first ``response.create`` on the empty conversation (the card's first_mes, no LLM),
then 30 scripted user turns. At turns 1, 10 and 30 the probe questions are asked on a branch of
the conversation (the probe and its answer are deleted afterwards, so probes never steer the
script). Scoring rule, per answer (case-insensitive): name = the answer contains "Nova"; role =
it contains one of "captain", "cargo", "pilot", "fly"/"flies"; ship = it contains "Meridian";
in character = it contains none of "AI", "language model", "assistant", "SmolLM". Prints a
table and writes bench/results/persona.md.

    .venv/bin/python bench/persona.py [--runs 3] [--max-tokens 60]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

import websockets

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.common import table, write_report  # noqa: E402
from tests.support import server_process  # noqa: E402

CARD = ROOT / "tests" / "data" / "persona-nova.json"
RESULTS = ROOT / "bench" / "results" / "persona.md"
PROBE_TURNS = (1, 10, 30)
PROBES = {"name": "What is your name?", "role": "What do you do?", "ship": "What is the name of your ship?"}
FACTS = {"name": r"\bnova\b", "role": r"\b(captain|cargo|pilot|fly|flies|flying)\b", "ship": r"\bmeridian\b"}
OUT_OF_CHARACTER = re.compile(r"\b(ai|language model|assistant|smollm)\b", re.I)
SCRIPT = [
    "Hello there, nice to meet you.", "It is my first time on a spaceship.", "How fast can we go?",
    "Is it safe out here?", "What does the bridge look like?", "Do you like your job?",
    "What is the best part of space travel?", "Have you ever seen a comet?", "What do we eat on board?",
    "How long is the trip?", "Can I look out of the window?", "What is that bright light?",
    "Do you ever get lonely?", "Tell me about Jupiter.", "Which moon do you like most?",
    "What is in the cargo hold?", "Who else is on the crew?", "What happens if the engine fails?",
    "Do you have a favourite song?", "How did you learn to fly?", "What was your hardest trip?",
    "Are there pirates out here?", "Where do we sleep?", "Can you teach me something about navigation?",
    "What time is it on the ship?", "Do you miss Earth?", "What will you do after this trip?",
    "Can I come back another time?", "Thank you for the tour.", "Goodbye for now.",
]


class Client:
    def __init__(self, ws: Any) -> None:
        self.ws = ws

    async def send(self, type_: str, **fields: Any) -> None:
        await self.ws.send(json.dumps({"type": type_, **fields}))

    async def until(self, type_: str, timeout: float = 120) -> dict[str, Any]:
        while True:
            ev = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
            if ev["type"] == "error":
                raise RuntimeError(ev["error"]["message"])
            if ev["type"] == type_:
                return ev

    async def say(self, text: str, item_id: str | None = None) -> tuple[str, str]:
        """A user text item, then a reply; returns (reply text, reply item id)."""
        item: dict[str, Any] = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}
        if item_id:
            item["id"] = item_id
        await self.send("conversation.item.create", item=item)
        await self.send("response.create")
        done = await self.until("response.done")
        out = done["response"]["output"]
        reply_id = out[0]["id"] if out else ""
        texts = [c.get("text") or c.get("transcript") or "" for o in out for c in o.get("content", [])]
        return " ".join(texts).strip(), reply_id

    async def delete(self, item_id: str) -> None:
        await self.send("conversation.item.delete", item_id=item_id)
        await self.until("conversation.item.deleted")


def score(key: str, answer: str) -> bool:
    return re.search(FACTS[key], answer, re.I) is not None


async def run_once(base: str, run: int, max_tokens: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    url = base.replace("http", "ws") + "/v1/realtime?model=voxloop"
    async with websockets.connect(url, max_size=None) as ws:
        c = Client(ws)
        await c.until("session.created")
        await c.send("session.update", session={"output_modalities": ["text"], "max_output_tokens": max_tokens})
        await c.until("session.updated")
        await c.send("response.create")  # the greeting: first_mes, verbatim
        await c.until("response.done")
        for turn, line in enumerate(SCRIPT, start=1):
            if turn in PROBE_TURNS:
                for key, question in PROBES.items():
                    probe_id = f"probe_{run}_{turn}_{key}"
                    answer, reply_id = await c.say(question, probe_id)
                    await c.delete(probe_id)
                    if reply_id:
                        await c.delete(reply_id)
                    rows.append({"run": run, "turn": turn, "probe": key, "answer": answer,
                                 "fact": score(key, answer), "in_character": not OUT_OF_CHARACTER.search(answer)})
            await c.say(line)
    return rows


def report(rows: list[dict[str, Any]], runs: int, max_tokens: int) -> str:
    head = ["turn", *[f"{k} ({PROBES[k]!r})" for k in PROBES], "in character", "all facts"]
    lines = []
    for turn in PROBE_TURNS:
        at = [r for r in rows if r["turn"] == turn]
        cells = [f"{sum(r['fact'] for r in at if r['probe'] == k)}/{runs}" for k in PROBES]
        lines.append([str(turn), *cells, f"{sum(r['in_character'] for r in at)}/{len(at)}",
                      f"{sum(r['fact'] for r in at)}/{len(at)}"])
    examples = "\n".join(f"- run {r['run']}, turn {r['turn']}, {PROBES[r['probe']]!r}: {r['answer'][:160]!r}"
                         for r in rows if r["run"] == 1)
    return table(head, lines) + "\n\n## Answers of run 1\n\n" + examples + "\n"


async def main_async(args: argparse.Namespace) -> None:
    with tempfile.NamedTemporaryFile("w", prefix="voxloop-bench-", suffix=".log", delete=False) as log:
        log_path = Path(log.name)
    rows: list[dict[str, Any]] = []
    with server_process("--persona", str(CARD), log_path=log_path) as (base, _):
        for run in range(1, args.runs + 1):
            rows += await run_once(base, run, args.max_tokens)
            print(f"run {run} done", flush=True)
    body = report(rows, args.runs, args.max_tokens)
    print(body)
    intro = [f"- persona: `tests/data/persona-nova.json` (Captain Nova, starship Meridian), embedded "
             f"SmolLM2-135M-Instruct, text mode over the realtime WebSocket, {args.runs} conversations of "
             f"{len(SCRIPT)} scripted user turns, replies up to {args.max_tokens} tokens, server defaults "
             "otherwise (temperature 0.4)",
             "- probes at turns 1, 10 and 30, each on a branch of the conversation (deleted afterwards); "
             "a cell is the number of conversations whose answer contains the fact "
             "(name: \"Nova\"; role: captain/cargo/pilot/fly; ship: \"Meridian\"); in character: no "
             "\"AI\", \"language model\", \"assistant\" or \"SmolLM\" in the answer"]
    write_report(RESULTS, "Persona consistency benchmark", intro, body)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--max-tokens", type=int, default=60)
    asyncio.run(main_async(p.parse_args()))


if __name__ == "__main__":
    main()
