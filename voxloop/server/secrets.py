"""Ephemeral client secrets (``POST /v1/realtime/client_secrets``), kept in this process.

A secret is minted with an API key, lives ``expires_after.seconds`` (10 s to 2 h; 10 min by
default, as OpenAI's), opens any number of realtime sessions until then, and carries the
session configuration it was minted with: sessions it opens start from that configuration and
count against the minting key's session cap. It never works on REST routes or to mint more.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["DEFAULT_TTL_S", "MAX_SECRETS", "MAX_TTL_S", "MIN_TTL_S", "ClientSecret", "ClientSecrets"]

DEFAULT_TTL_S = 600
MIN_TTL_S = 10
MAX_TTL_S = 7200
MAX_SECRETS = 10_000  # live secrets kept; the oldest go first


@dataclass(frozen=True, slots=True)
class ClientSecret:
    value: str
    key: str  # the API key (by name) that minted it
    expires_at: float
    session: dict[str, Any] = field(default_factory=dict)  # the session.update it opens sessions with
    model: str | None = None


class ClientSecrets:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._live: dict[str, ClientSecret] = {}

    def mint(self, key: str, ttl_s: int, session: dict[str, Any], model: str | None = None) -> ClientSecret:
        self._purge()
        while len(self._live) >= MAX_SECRETS:
            self._live.pop(next(iter(self._live)))
        value = f"ek_{secrets.token_urlsafe(24)}"
        secret = ClientSecret(value, key, self._clock() + ttl_s, session, model)
        self._live[value] = secret
        return secret

    def get(self, value: str) -> ClientSecret | None:
        """The live secret ``value`` names (None: unknown or expired)."""
        secret = self._live.get(value)
        if secret is None:
            return None
        if secret.expires_at <= self._clock():
            del self._live[value]
            return None
        return secret

    def __len__(self) -> int:
        self._purge()
        return len(self._live)

    def _purge(self) -> None:
        now = self._clock()
        for value in [v for v, s in self._live.items() if s.expires_at <= now]:
            del self._live[value]
