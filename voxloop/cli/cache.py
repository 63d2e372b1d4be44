"""``voxloop cache stats|clear``: the speech cache on disk (the one ``voxloop serve`` uses with the
same ``--config``; its memory level lives and dies with the server process)."""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Mapping
from pathlib import Path

from voxloop.cli.settings import Settings, load_settings

__all__ = ["add_cache_parser", "cache_dir", "cmd_cache"]


def add_cache_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    c = sub.add_parser("cache", help="show or clear the speech cache on disk",
                       description="The speech cache on disk (docs/metrics.md#speech-cache).")
    actions = c.add_subparsers(dest="action", metavar="ACTION", required=True)
    for name, text in (("stats", "files, bytes and the bound"), ("clear", "delete every cached phrase")):
        p = actions.add_parser(name, help=text)
        p.add_argument("--config", default=None, metavar="FILE", help="the server's config file ([tts] cache_dir)")
        p.add_argument("--dir", default=None, metavar="DIR", help="the cache directory (default: the server's)")
        if name == "stats":
            p.add_argument("--json", action="store_true", help="as one JSON object")


def cache_dir(settings: Settings, environ: Mapping[str, str]) -> Path:
    """The configured directory, else ``tts-cache`` in the user's data directory."""
    from voxloop.store.open import default_data_dir

    configured = settings.server.tts_cache.directory
    return Path(configured) if configured else default_data_dir(environ) / "tts-cache"


def cmd_cache(args: argparse.Namespace) -> int:
    from voxloop.store.speech import DiskSpeechCache

    settings = load_settings(config=args.config, environ=os.environ)
    directory = Path(args.dir) if args.dir else cache_dir(settings, os.environ)
    cache = DiskSpeechCache(directory, settings.server.tts_cache.disk_bytes)
    if args.action == "clear":
        print(f"deleted {cache.clear()} cached phrases from {directory}")
        return 0
    s = cache.stats()
    if args.json:
        print(json.dumps({"directory": s.directory, "files": s.files, "bytes": s.bytes, "max_bytes": s.max_bytes}))
    else:
        print(f"{s.directory}: {s.files} phrases, {s.bytes / 1e6:.1f} MB of {s.max_bytes / 1e6:.0f} MB")
    return 0
