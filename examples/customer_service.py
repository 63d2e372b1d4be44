"""A customer-service voice agent whose order lookup is a Python function.

    python examples/customer_service.py --port 8000

then open http://127.0.0.1:8000 and ask "Where is my order 12345?" (or connect any OpenAI
Realtime client to ws://127.0.0.1:8000/v1/realtime). The model calls ``lookup_order``; the
server runs it, puts its result in the conversation and the agent speaks about it.
"""

from __future__ import annotations

import argparse
import re
import sys

import voxloop

ORDERS: dict[str, dict[str, str]] = {
    "12345": {"status": "shipped", "arrives": "tomorrow", "item": "a blue teapot"},
    "67890": {"status": "being packed", "arrives": "on Friday", "item": "two mugs"},
}


@voxloop.tool(filler="Let me look that up.")
def lookup_order(order_id: str) -> dict[str, str]:
    """Look up the status of an order by its order number.

    Args:
        order_id: The order number the customer gave.
    """
    digits = "".join(re.findall(r"\d", order_id))
    order = ORDERS.get(digits)
    if order is None:  # the model hears this error and can ask for the number again
        raise LookupError(f"there is no order number {order_id}")
    return {"order_id": digits, **order}


agent = voxloop.Agent(
    "You are the customer service agent of a small tea shop. Keep answers to one or two short "
    "sentences. To answer questions about an order, call lookup_order with its number.",
    tools=[lookup_order],
    name="customer-service",
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)
    return voxloop.serve(agent, voxloop.Pipeline(), host=args.host, port=args.port)


if __name__ == "__main__":
    sys.exit(main())
