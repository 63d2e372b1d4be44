"""Any OpenAI-compatible ``/v1/audio/speech`` server, streamed as raw 24 kHz PCM16."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx

from voxloop.audio.pcm import Audio, Float32Array, pcm16_to_float
from voxloop.engines.base import TTSEngine
from voxloop.engines.http import (
    ApiKey,
    AsyncClients,
    http_error,
    parse_base_url,
    transport_error,
)
from voxloop.engines.types import Capabilities, TTSOptions

__all__ = ["RemoteTTS"]

logger = logging.getLogger(__name__)

DEFAULT_OPTIONS = TTSOptions()
PCM_RATE = 24000  # what OpenAI's response_format=pcm means
READ_BYTES = 4096  # ~85 ms of audio per chunk


class _Pcm16:
    """PCM16 bytes arriving in arbitrary pieces -> float32 chunks (an odd byte waits)."""

    def __init__(self) -> None:
        self._odd = b""

    def feed(self, data: bytes) -> Float32Array | None:
        data = self._odd + data
        cut = len(data) - len(data) % 2
        self._odd = data[cut:]
        return pcm16_to_float(data[:cut]) if cut else None


class RemoteTTS(TTSEngine):
    """``openai:http://host:8880/v1`` (query may set ``model`` and ``voice``).

    ``api_key`` is sent as a bearer token; ``api_key_source`` says where it came from (or, with
    no key, how to set one) in the error a 401/403 raises.
    """

    name = "openai"
    sample_rate = PCM_RATE

    def __init__(
        self,
        arg: str | None = None,
        *,
        model: str | None = None,
        voice: str | None = None,
        api_key: str | None = None,
        api_key_source: str | None = None,
        timeout: float = 60,
        workers: int = 2,
    ) -> None:
        super().__init__(workers=workers)
        self.base_url, query = parse_base_url(arg, "openai TTS")
        self.model = model or query.get("model") or "tts-1"
        self.voice = voice or query.get("voice") or "alloy"
        self._timeout = timeout
        self._auth = ApiKey(api_key, api_key_source)
        self._headers = self._auth.headers
        self._clients = AsyncClients(timeout=timeout, headers=self._headers)
        self._sync_client: httpx.Client | None = None
        self._sync_lock = threading.Lock()
        self.capabilities = Capabilities(streaming=True, languages=("en",), sample_rate=PCM_RATE)
        self._loaded = True  # nothing to load

    def describe(self) -> dict[str, str]:
        return {"backend": self.name, "url": self.base_url, "model": self.model, "voice": self.voice}

    def _body(self, text: str, options: TTSOptions) -> dict[str, Any]:
        return {
            "model": self.model,
            "input": text,
            "voice": options.voice or self.voice,
            "response_format": "pcm",
            "speed": options.speed,
        }

    @property
    def _what(self) -> str:
        return f"TTS server {self.base_url}"

    def synthesize(self, text: str, options: TTSOptions = DEFAULT_OPTIONS) -> AsyncIterator[Audio]:
        """Stream the response body as it arrives; closing the iterator closes the response."""

        async def gen() -> AsyncIterator[Audio]:
            if not text.strip():
                return
            pcm = _Pcm16()
            url = f"{self.base_url}/audio/speech"
            try:
                async with self._clients.get().stream("POST", url, json=self._body(text, options)) as response:
                    if response.status_code >= 400:
                        raise http_error(response.status_code, await response.aread(), self._what, self._auth)
                    async for data in response.aiter_bytes(READ_BYTES):
                        samples = pcm.feed(data)
                        if samples is not None:
                            yield Audio(samples, PCM_RATE)
            except httpx.HTTPError as e:
                raise transport_error(e, self._what) from e

        return gen()

    def synthesize_sync(self, text: str, options: TTSOptions = DEFAULT_OPTIONS) -> Iterator[Float32Array]:
        """Blocking variant (for batch use); the same request on a shared ``httpx.Client``."""
        if not text.strip():
            return
        pcm = _Pcm16()
        url = f"{self.base_url}/audio/speech"
        try:
            with self._client_sync().stream("POST", url, json=self._body(text, options)) as response:
                if response.status_code >= 400:
                    raise http_error(response.status_code, response.read(), self._what, self._auth)
                for data in response.iter_bytes(READ_BYTES):
                    samples = pcm.feed(data)
                    if samples is not None:
                        yield samples
        except httpx.HTTPError as e:
            raise transport_error(e, self._what) from e

    def _client_sync(self) -> httpx.Client:
        with self._sync_lock:
            if self._sync_client is None:
                timeout = httpx.Timeout(self._timeout, connect=min(self._timeout, 10.0))
                self._sync_client = httpx.Client(timeout=timeout, headers=self._headers, trust_env=False)
            return self._sync_client

    def close(self) -> None:
        super().close()
        with self._sync_lock:
            if self._sync_client is not None:
                self._sync_client.close()
                self._sync_client = None

