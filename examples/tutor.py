"""A tutor persona: a character card (its greeting opens every conversation) and a Python tool
that checks the learner's arithmetic, so the small model never has to.

    python examples/tutor.py --port 8000      (open http://127.0.0.1:8000)
    voxloop talk --agent examples/tutor.py:agent
"""

from __future__ import annotations

import argparse
import sys
from typing import Literal

import voxloop

CARD = {
    "spec": "chara_card_v2",
    "spec_version": "2.0",
    "data": {
        "name": "Ada",
        "description": "{{char}} is a patient maths tutor for children. She explains one step at a time, "
                       "praises effort and asks one short question at a time.",
        "personality": "warm, encouraging, precise",
        "scenario": "{{char}} helps {{user}} practise arithmetic by voice.",
        "first_mes": "Hello! I'm Ada, your maths tutor. Shall we practise some sums together?",
        "extensions": {"voxloop": {"speed": 0.95}},
    },
}


@voxloop.tool
def check_answer(a: int, b: int, operation: Literal["plus", "minus", "times"], answer: int) -> dict[str, object]:
    """Check the learner's answer to an arithmetic question.

    Args:
        a: The first number.
        b: The second number.
        operation: plus, minus or times.
        answer: The learner's answer.
    """
    right = {"plus": a + b, "minus": a - b, "times": a * b}[operation]
    return {"correct": answer == right, "right_answer": right}


agent = voxloop.Agent(
    "When the learner answers a sum, call check_answer, then tell them kindly whether they were right.",
    persona=CARD, tools=[check_answer], name="tutor",
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="A maths tutor persona.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)
    return voxloop.serve(agent, host=args.host, port=args.port)


if __name__ == "__main__":
    sys.exit(main())
