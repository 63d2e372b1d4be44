"""What every request handler shares: the engines, the config, session accounting."""

from __future__ import annotations

import asyncio
import collections
import logging
from typing import cast

from voxloop.engines.base import Engine, TTSEngine
from voxloop.engines.stack import EngineStack
from voxloop.engines.tts.cache import CachedTTS
from voxloop.engines.types import PRIORITY_LIVE
from voxloop.errors import VoxloopError
from voxloop.server.config import ServerConfig
from voxloop.server.conversations import Conversations
from voxloop.server.scenes import Scenes
from voxloop.server.secrets import ClientSecrets
from voxloop.server.telemetry import Telemetry
from voxloop.server.trim import Lane, Trimmer
from voxloop.session.transcriber import BACKGROUND, FINAL, PARTIAL, ASRScheduler

__all__ = ["ServerState"]

logger = logging.getLogger(__name__)


class ServerState:
    def __init__(self, stack: EngineStack, config: ServerConfig) -> None:
        self.stack = stack
        self.config = config
        self.active_sessions = 0
        self.secrets = ClientSecrets()
        self.sessions_by: collections.Counter[str] = collections.Counter()  # "ip:…" / "key:…" -> open sessions
        self.trimmer = Trimmer.for_this_process()  # freed heap back to the system after large work
        self.rest_jobs = Lane(config.rest_jobs, self.trimmer)  # REST's share of the engines
        self.vocabulary: object | None = None  # voxloop.dialogue.vocabulary.Vocabulary
        self.scenes = Scenes()  # personas and presets (set by the CLI at start)
        self._scheduler: ASRScheduler | None = None
        self._conversations: Conversations | None = None
        self.telemetry = Telemetry()  # what /metrics shows
        self.tts_cache: CachedTTS | None = None
        if config.tts_cache.memory_bytes > 0:
            stack.wrap("tts", self._cached_tts)
        stack.wrap("llm", self._observed_llm)
        self.telemetry.watch({
            "voxloop_active_sessions": ("Realtime sessions open now", lambda: self.active_sessions),
            "voxloop_max_sessions": ("Realtime sessions this server accepts", lambda: config.max_sessions),
            "voxloop_asr_streams": ("Live transcription streams open now", lambda: self.scheduler.streams),
            "voxloop_engine_busy_asr": ("ASR slots decoding now", lambda: self.scheduler.busy),
            "voxloop_engine_queue_depth_asr": ("ASR decodes waiting for a slot", lambda: self.scheduler.queued),
            "voxloop_engine_queue_depth_llm": ("LLM generations waiting for an instance (embedded models)",
                                               lambda: self._llm_stat("queued")),
            "voxloop_engine_busy_llm": ("LLM sequences (batched) or instances generating now (embedded models)",
                                        self._llm_busy),
            "voxloop_tts_cache_bytes": ("Bytes of speech in the memory cache",
                                        lambda: 0 if self.tts_cache is None else self.tts_cache.memory.bytes),
            "voxloop_llm_prompt_cache_bytes": ("Bytes of conversations' KV caches held in host memory (batched "
                                               "embedded LLM)", lambda: self._prompt_cache_stat("bytes")),
        }, counters={
            "voxloop_tts_cache_hits_memory": ("Phrases served from the speech cache in memory",
                                              lambda: self._cache_stat("hits_memory")),
            "voxloop_tts_cache_hits_disk": ("Phrases served from the speech cache on disk",
                                            lambda: self._cache_stat("hits_disk")),
            "voxloop_tts_cache_misses": ("Cacheable phrases synthesised afresh", lambda: self._cache_stat("misses")),
            "voxloop_asr_batched_decodes": ("ASR decodes that shared one batched call with others",
                                            lambda: self.scheduler.batched),
            "voxloop_llm_prompt_cache_restores": ("Turns whose conversation's KV cache came back from host memory",
                                                  lambda: self._prompt_cache_stat("restored")),
            "voxloop_llm_prompt_cache_restored_tokens": ("Prompt tokens those turns did not have to read",
                                                         lambda: self._prompt_cache_stat("restored_tokens")),
            "voxloop_llm_preempted": ("Background generations (summaries, fact extraction, cache warm-ups) "
                                      "that gave their sequence to a live reply and resumed later",
                                      lambda: self._llm_stat("preempted")),
            "voxloop_llm_taken": ("Generations a batched context with a free sequence took from a busy one",
                                  lambda: self._llm_stat("taken")),
        })

    def _cached_tts(self, engine: Engine) -> Engine:
        settings = self.config.tts_cache
        disk = None
        if settings.disk_bytes > 0 and settings.directory:
            from voxloop.store.speech import DiskSpeechCache

            disk = DiskSpeechCache(settings.directory, settings.disk_bytes)
        self.tts_cache = CachedTTS(cast(TTSEngine, engine), settings, disk)
        return self.tts_cache

    def _observed_llm(self, engine: Engine) -> Engine:
        if hasattr(engine, "on_wait"):  # an embedded model: it queues generations (by priority)
            wait = self.telemetry.queue_wait
            engine.on_wait = lambda s, p: wait.labels("llm", "live" if p <= PRIORITY_LIVE else "background").observe(s)
        return engine

    def _llm_busy(self) -> float:
        engine = self.stack.loaded("llm")
        capacity, idle = getattr(engine, "capacity", None), getattr(engine, "idle_workers", None)
        return float(capacity - idle) if isinstance(capacity, int) and isinstance(idle, int) else 0.0

    def _llm_stat(self, field: str) -> float:
        value = getattr(self.stack.loaded("llm"), field, 0)  # the embedded LLM only (0 when not loaded)
        return float(value) if isinstance(value, int) else 0.0

    def _prompt_cache_stat(self, field: str) -> float:
        cache = getattr(self.stack.loaded("llm"), "prompt_cache", None)  # the batched embedded LLM only
        return float(getattr(cache, field, 0))

    def _cache_stat(self, field: str) -> float:
        return 0.0 if self.tts_cache is None else float(getattr(self.tts_cache.stats, field))

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
            self._scheduler = ASRScheduler(self.stack.asr, slots=workers, max_streams=self.config.max_sessions,
                                           max_batch=self.config.asr_batch)
            wait = self.telemetry.queue_wait
            kinds = {FINAL: "final", PARTIAL: "partial", BACKGROUND: "background"}
            self._scheduler.on_wait = lambda s, p: wait.labels("asr", kinds.get(p, "background")).observe(s)
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
