"""What every request handler shares: the engines, the config, session accounting."""

from __future__ import annotations

import asyncio
import logging

from voxloop.engines.stack import EngineStack
from voxloop.server.config import ServerConfig
from voxloop.session.transcriber import ASRScheduler

__all__ = ["ServerState"]

logger = logging.getLogger(__name__)


class ServerState:
    def __init__(self, stack: EngineStack, config: ServerConfig) -> None:
        self.stack = stack
        self.config = config
        self.active_sessions = 0
        self.vocabulary: object | None = None  # voxloop.dialogue.vocabulary.Vocabulary
        self._scheduler: ASRScheduler | None = None

    @property
    def scheduler(self) -> ASRScheduler:
        """One ASR scheduler for every stream of this process."""
        if self._scheduler is None:
            workers = self.stack.specs.options.get("asr", {}).get("workers", 1)
            self._scheduler = ASRScheduler(self.stack.asr, slots=workers, max_streams=self.config.max_sessions)
        return self._scheduler

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
