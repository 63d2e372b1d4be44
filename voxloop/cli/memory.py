"""``voxloop memory``: what the server remembers about a user, read from its store directly.

``voxloop memory list --user ID`` prints the user's facts; ``voxloop memory forget --user ID
FACT_ID`` deletes one, ``--all`` deletes every fact and conversation of the user. The store is
the one ``voxloop serve`` uses with the same ``--config`` / ``--store`` (default: the SQLite
file in the user's data directory).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time

from voxloop.cli.memory_keys import store_url
from voxloop.cli.settings import load_settings
from voxloop.errors import InvalidRequest
from voxloop.store.base import ConversationStore

__all__ = ["add_memory_parser", "cmd_memory"]


def add_memory_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    m = sub.add_parser("memory", help="list or delete what is remembered about a user",
                       description="What voxloop remembers about a user (docs/memory.md).")
    actions = m.add_subparsers(dest="action", metavar="ACTION", required=True)
    ls = actions.add_parser("list", help="the user's facts, oldest first")
    ls.add_argument("--json", action="store_true", help="one JSON object per line")
    forget = actions.add_parser("forget", help="delete one fact, or --all of the user")
    forget.add_argument("fact_id", nargs="?", default=None, help="the fact to delete (see list)")
    forget.add_argument("--all", action="store_true", help="every fact and conversation of the user")
    for p in (ls, forget):
        p.add_argument("--user", required=True, help="the user id (session.voxloop.user)")
        p.add_argument("--config", default=None, metavar="FILE", help="the server's config file (its [memory] store)")
        p.add_argument("--store", default=None, metavar="URL", help="sqlite:PATH or redis://... (default: the server's)")


def cmd_memory(args: argparse.Namespace) -> int:
    settings = load_settings(config=args.config, environ=os.environ)
    url = store_url(args.store or str(settings.values.get("memory.store") or ""), os.environ)
    if url == "memory":
        raise InvalidRequest("the store is 'memory' (--no-store): nothing is kept outside the server process")
    if args.action == "forget" and not args.all and not args.fact_id:
        raise InvalidRequest("forget needs a FACT_ID (voxloop memory list shows them) or --all")
    from voxloop.store.open import open_store

    return asyncio.run(_run(open_store(url), args))


async def _run(store: ConversationStore, args: argparse.Namespace) -> int:
    try:
        if args.action == "list":
            facts = await store.facts(args.user)
            for f in facts:
                if args.json:
                    print(json.dumps({"id": f.id, "text": f.text, "key": f.key, "source_item_id": f.source_item,
                                      "conversation_id": f.conversation, "created_at": int(f.created_at)}))
                else:
                    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(f.created_at))
                    print(f"{f.id}  {when}  {f.text}")
            if not facts and not args.json:
                print(f"nothing remembered about {args.user!r}", file=sys.stderr)
            return 0
        if args.all:
            gone = await store.forget_user(args.user)
            print(f"forgot {args.user!r}: {gone} records deleted")
            return 0
        if not await store.delete_fact(args.user, args.fact_id):
            raise InvalidRequest(f"no fact {args.fact_id!r} for user {args.user!r}")
        print(f"deleted {args.fact_id}")
        return 0
    finally:
        await store.aclose()
