"""What every request handler shares: the engines, the config, session accounting."""

from __future__ import annotations

import asyncio
import logging

from voxloop.engines.stack import EngineStack
from voxloop.server.config import ServerConfig

__all__ = ["ServerState"]

logger = logging.getLogger(__name__)


class ServerState:
    def __init__(self, stack: EngineStack, config: ServerConfig) -> None:
        self.stack = stack
        self.config = config
        self.active_sessions = 0

    async def prewarm(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self.stack.prewarm)
        logger.info("engines loaded")

    def try_acquire_session(self) -> bool:
        if self.active_sessions >= self.config.max_sessions:
            return False
        self.active_sessions += 1
        return True

    def release_session(self) -> None:
        self.active_sessions = max(0, self.active_sessions - 1)

    async def aclose(self) -> None:
        self.stack.close()
