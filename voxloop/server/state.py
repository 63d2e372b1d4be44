"""What every request handler shares: the engines, the config, session accounting."""

from __future__ import annotations

import asyncio
import collections
import logging

from voxloop.engines.stack import EngineStack
from voxloop.errors import VoxloopError
from voxloop.server.config import ServerConfig
from voxloop.server.conversations import Conversations
from voxloop.server.scenes import Scenes
from voxloop.server.secrets import ClientSecrets
from voxloop.session.transcriber import ASRScheduler

__all__ = ["ServerState"]

logger = logging.getLogger(__name__)


class ServerState:
    def __init__(self, stack: EngineStack, config: ServerConfig) -> None:
        self.stack = stack
        self.config = config
        self.active_sessions = 0
        self.secrets = ClientSecrets()
        self.sessions_by: collections.Counter[str] = collections.Counter()  # "ip:…" / "key:…" -> open sessions
        self.rest_jobs = asyncio.Semaphore(config.rest_jobs)  # REST's share of the engines
        self.vocabulary: object | None = None  # voxloop.dialogue.vocabulary.Vocabulary
        self.scenes = Scenes()  # personas and presets (set by the CLI at start)
        self._scheduler: ASRScheduler | None = None
        self._conversations: Conversations | None = None

    @property
    def conversations(self) -> Conversations:
        """The conversation store, resume tokens and who holds each conversation (opened at start)."""
        if self._conversations is None:
            from voxloop.store.open import open_presence, open_store

            self._conversations = Conversations(open_store(self.config.store), resume_ttl_s=self.config.resume_ttl_s,
                                                anonymous_ttl_s=self.config.anonymous_ttl_s,
                                                presence=open_presence(self.config.store))
        return self._conversations

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
        await self._warm_up()
        logger.info("engines loaded and warmed up")

    async def _warm_up(self) -> None:
        """One tiny inference per engine: first calls allocate buffers, and the LLM caches the
        default instructions' tokens, so the first user turn is as fast as the next ones."""
        import numpy as np

        from voxloop.audio.pcm import Audio
        from voxloop.engines.types import ChatMessage, LLMOptions

        try:
            await self.stack.asr.transcribe(Audio(np.zeros(16000, np.float32), 16000))
            async for _ in self.stack.tts.synthesize("Hello."):
                pass
            stream = self.stack.llm.chat([ChatMessage("system", self.config.instructions),
                                          ChatMessage("user", "Hi.")], LLMOptions(max_tokens=1))
            async for _ in stream:
                pass
            await stream.aclose()
        except VoxloopError as e:  # a remote backend may be down at start: serve anyway
            logger.warning("warm-up failed: %s", e.message)

    def try_acquire_session(self) -> bool:
        if self.active_sessions >= self.config.max_sessions:
            return False
        self.active_sessions += 1
        return True

    def release_session(self) -> None:
        self.active_sessions = max(0, self.active_sessions - 1)

    def acquire_client(self, ip: str, key: str) -> str | None:
        """Count a session for client ``ip`` and API key ``key``; the reason when a cap is reached."""
        caps = ((f"ip:{ip}", self.config.max_sessions_per_ip, f"this address has {self.config.max_sessions_per_ip}"),
                (f"key:{key}", self.config.max_sessions_per_key, f"this API key has {self.config.max_sessions_per_key}"))
        for slot, cap, says in caps:
            if self.sessions_by[slot] >= cap:
                return f"{says} sessions open, the most it may; close one first"
        for slot, _, _ in caps:
            self.sessions_by[slot] += 1
        return None

    def release_client(self, ip: str, key: str) -> None:
        for slot in (f"ip:{ip}", f"key:{key}"):
            self.sessions_by[slot] -= 1
            if self.sessions_by[slot] <= 0:
                del self.sessions_by[slot]

    async def aclose(self) -> None:
        if self._conversations is not None:
            await self._conversations.aclose()
        self.stack.close()
