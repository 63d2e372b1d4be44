"""``voxloop serve``: build the engines and the app from CLI arguments, run uvicorn."""

from __future__ import annotations

import argparse
import logging

from voxloop.engines.registry import DEFAULTS
from voxloop.engines.stack import EngineSpecs, EngineStack
from voxloop.server.config import ServerConfig

__all__ = ["serve"]

logger = logging.getLogger(__name__)


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from voxloop.server.app import create_app

    specs = EngineSpecs(
        vad=args.vad or DEFAULTS["vad"],
        asr=args.asr or DEFAULTS["asr"],
        llm=args.llm or DEFAULTS["llm"],
        tts=args.tts or DEFAULTS["tts"],
    )
    kwargs = {"max_sessions": args.max_sessions}
    if args.instructions:
        kwargs["instructions"] = args.instructions
    config = ServerConfig(**kwargs)  # type: ignore[arg-type]
    app = create_app(EngineStack(specs), config, prewarm=not args.no_prewarm)
    print(f"voxloop listening on http://{args.host}:{args.port}  (browser client at /, "
          f"realtime at ws://{args.host}:{args.port}/v1/realtime)", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning",
                ws_max_size=16 << 20, ws_ping_interval=20, ws_ping_timeout=20)
    return 0
