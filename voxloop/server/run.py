"""Run the server: the app over the engines, on uvicorn.

The CLI (``voxloop/cli/serve.py``) reads the config file, environment and flags and resolves
each engine's workers and threads for this machine (``voxloop/engines/tuning.py``).
"""

from __future__ import annotations

from voxloop.engines.stack import EngineSpecs, EngineStack
from voxloop.server.config import ServerConfig
from voxloop.server.scenes import Scenes

__all__ = ["serve"]


def serve(
    specs: EngineSpecs,
    config: ServerConfig,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    prewarm: bool = True,
    vocabulary: object | None = None,
    scenes: Scenes | None = None,
    stack: EngineStack | None = None,
) -> int:
    """Serve until interrupted. ``vocabulary`` is a ``voxloop.dialogue.vocabulary.Vocabulary``;
    ``scenes`` the personas and presets sessions may choose (and the defaults); ``stack`` engines
    already built (``voxloop.Pipeline``), else they are made from ``specs``."""
    import uvicorn

    from voxloop.server.app import create_app

    app = create_app(stack or EngineStack(specs), config, prewarm=prewarm)
    app.state.voxloop.vocabulary = vocabulary
    if scenes is not None:
        app.state.voxloop.scenes = scenes
    print(f"voxloop listening on http://{host}:{port}  (browser client at /, "
          f"realtime at ws://{host}:{port}/v1/realtime)", flush=True)
    # uvicorn drops larger frames outright; below this ceiling the realtime endpoint answers a
    # message over config.max_message_bytes with an error event
    ws_max_size = max(16 << 20, 2 * config.max_message_bytes)
    uvicorn.run(app, host=host, port=port, log_level="warning",
                ws_max_size=ws_max_size,
                ws_per_message_deflate=config.ws_compression, ws_ping_interval=20, ws_ping_timeout=20)
    return 0
