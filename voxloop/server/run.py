"""``voxloop serve``: build the engines and the app from CLI arguments, run uvicorn."""

from __future__ import annotations

import argparse
import logging
import os
from typing import Any

from voxloop.engines.registry import DEFAULTS, parse_spec
from voxloop.engines.stack import EngineSpecs, EngineStack
from voxloop.errors import InvalidRequest
from voxloop.server.config import ServerConfig

__all__ = ["serve"]

logger = logging.getLogger(__name__)


def server_engine_options(specs: EngineSpecs) -> dict[str, dict[str, Any]]:
    """Thread settings for a shared server on a small CPU.

    Every engine gets one thread per worker: llama.cpp and CTranslate2 threads spin while they
    wait, and with more threads than free cores (VAD, ASR, TTS and the LLM all run at once in a
    voice loop) first-token latency collapsed from ~30 ms to ~3 s in our measurements. Parallelism
    comes from several workers instead.
    """
    options: dict[str, dict[str, Any]] = {}
    if parse_spec(specs.asr)[0] == "whisper":
        options["asr"] = {"workers": 2, "cpu_threads": 1}
    if parse_spec(specs.llm)[0] == "llama":
        # one llama.cpp instance per core: replies of different sessions generate in parallel
        # (an instance holds one conversation's KV cache; ~100 MB each for SmolLM2)
        options["llm"] = {"workers": max(1, min(4, os.cpu_count() or 1)), "n_threads": 1}
    return options


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from voxloop.server.app import create_app

    specs = EngineSpecs(
        vad=args.vad or DEFAULTS["vad"],
        asr=args.asr or DEFAULTS["asr"],
        llm=args.llm or DEFAULTS["llm"],
        tts=args.tts or DEFAULTS["tts"],
    )
    specs = EngineSpecs(specs.vad, specs.asr, specs.llm, specs.tts, options=server_engine_options(specs))
    kwargs: dict[str, object] = {"max_sessions": args.max_sessions}
    if args.instructions:
        kwargs["instructions"] = args.instructions
    config = ServerConfig(**kwargs)  # type: ignore[arg-type]
    app = create_app(EngineStack(specs), config, prewarm=not args.no_prewarm)
    if args.vocabulary:
        from voxloop.dialogue.vocabulary import Vocabulary

        try:
            app.state.voxloop.vocabulary = Vocabulary.from_file(args.vocabulary)
        except OSError as e:
            raise InvalidRequest(f"{args.vocabulary}: cannot read vocabulary ({e.strerror or e})") from e
    print(f"voxloop listening on http://{args.host}:{args.port}  (browser client at /, "
          f"realtime at ws://{args.host}:{args.port}/v1/realtime)", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning",
                ws_max_size=16 << 20, ws_ping_interval=20, ws_ping_timeout=20)
    return 0
