"""Which server instance holds each live conversation, for several instances on one Redis.

Within one process the server knows who holds a conversation (``voxloop.server.conversations``).
Across instances behind a load balancer, a resume may land on another instance than the one
the old connection is on: :class:`RedisPresence` then asks that instance to let go and waits
until it has (its last writes are in the store), so one connection holds a conversation at a
time across the whole deployment.

Keys and channel, under the store's prefix: ``holder:<conversation id>`` (the instance holding
it) and the pub/sub channel ``presence`` carrying ``{"take": id, "by": instance}`` and
``{"released": id, "by": instance}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, cast

from voxloop.errors import MissingDependency

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["RedisPresence"]

logger = logging.getLogger(__name__)
HOLDER_TTL_S = 24 * 3600  # a crashed instance's claims do not outlive this
_RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"


class RedisPresence:
    def __init__(self, url: str, prefix: str = "voxloop:", *, wait_s: float = 5.0) -> None:
        try:
            import redis.asyncio
        except ImportError as e:
            raise MissingDependency("several instances need the redis package: pip install 'voxloop[store-redis]'") from e
        self._r: Redis = redis.asyncio.Redis.from_url(url, decode_responses=True)
        self._p = prefix
        self.instance = secrets.token_hex(8)
        self._wait_s = wait_s
        self._release = self._r.register_script(_RELEASE)
        self._held: dict[str, Callable[[], Awaitable[None]]] = {}  # conversation → take_over
        self._released: dict[str, asyncio.Event] = {}
        self._listener: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    @property
    def _channel(self) -> str:
        return f"{self._p}presence"

    async def _listen(self) -> None:
        pubsub = self._r.pubsub()
        await pubsub.subscribe(self._channel)
        self._ready.set()
        try:
            async for msg in pubsub.listen():
                if msg.get("type") != "message":
                    continue
                with contextlib.suppress(ValueError, TypeError, AttributeError):
                    data = json.loads(msg["data"])
                    if data.get("by") == self.instance:
                        continue
                    if "take" in data and data["take"] in self._held:
                        logger.info("conversation %s: taken over by another instance", data["take"])
                        await self._held[data["take"]]()
                    elif "released" in data and data["released"] in self._released:
                        self._released[data["released"]].set()
        finally:
            with contextlib.suppress(Exception):
                await cast(Any, pubsub).aclose()  # typed in some redis-py releases, not in others

    async def _start(self) -> None:
        if self._listener is None:
            self._listener = asyncio.get_running_loop().create_task(self._listen(), name="store-presence")
        await asyncio.wait_for(self._ready.wait(), 10.0)

    async def claim(self, conversation_id: str, take_over: Callable[[], Awaitable[None]]) -> None:
        """Hold the conversation here; another instance holding it is asked to let go, and
        waited for (at most ``wait_s``: a crashed instance never answers)."""
        await self._start()
        released = self._released.setdefault(conversation_id, asyncio.Event())
        released.clear()
        previous = await self._r.set(f"{self._p}holder:{conversation_id}", self.instance, ex=HOLDER_TTL_S, get=True)
        self._held[conversation_id] = take_over
        try:
            if previous and previous != self.instance:
                await self._r.publish(self._channel, json.dumps({"take": conversation_id, "by": self.instance}))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(released.wait(), self._wait_s)
        finally:
            self._released.pop(conversation_id, None)

    async def release(self, conversation_id: str) -> None:
        """This instance let go (its session ended, its writes are in)."""
        self._held.pop(conversation_id, None)
        try:
            await self._release(keys=[f"{self._p}holder:{conversation_id}"], args=[self.instance])
            await self._r.publish(self._channel, json.dumps({"released": conversation_id, "by": self.instance}))
        except Exception:
            logger.exception("conversation %s: could not announce its release", conversation_id)

    async def aclose(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(BaseException):
                await self._listener
        await self._r.aclose()
