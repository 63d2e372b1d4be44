"""A real server with API keys, over real sockets: keys on REST and the WebSocket, client secrets
minted with the official ``openai`` SDK and used the way a browser does, Origin and Host checks."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.support import running_server, sdk_until

openai = pytest.importorskip("openai")

KEY = "sk-test-voxloop-key"


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with running_server("--no-prewarm", "--api-key", KEY, "--api-key", "sk-second-key") as base:
        yield base


def ws_url(base: str) -> str:
    return base.replace("http", "ws") + "/v1/realtime?model=voxloop"


def assert_openai_error(r: httpx.Response, status: int, code: str) -> None:
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert error["code"] == code and error["message"] and "type" in error and "param" in error


async def first_event(ws: Any) -> dict[str, Any]:
    event: dict[str, Any] = json.loads(await ws.recv())
    return event


async def refused(base: str, **kwargs: Any) -> int:
    with pytest.raises(InvalidStatus) as e:
        async with connect(ws_url(base), **kwargs):
            pass
    return int(e.value.response.status_code)


async def test_rest_refuses_missing_and_wrong_keys(server: str) -> None:
    async with httpx.AsyncClient() as http:
        assert_openai_error(await http.get(f"{server}/v1/models"), 401, "invalid_api_key")
        bogus = {"Authorization": "Bearer sk-bogus"}
        assert_openai_error(await http.get(f"{server}/v1/models", headers=bogus), 401, "invalid_api_key")
        r = await http.post(f"{server}/v1/audio/speech", headers=bogus, json={"model": "tts-1", "input": "hi"})
        assert_openai_error(r, 401, "invalid_api_key")
        ok = await http.get(f"{server}/v1/models", headers={"Authorization": f"Bearer {KEY}"})
        assert ok.status_code == 200 and ok.json()["object"] == "list"
        health = await http.get(f"{server}/healthz")
        assert health.status_code == 200 and health.json() == {"status": "ok"}


async def test_the_sdk_lists_models_only_with_the_key(server: str) -> None:
    good = openai.AsyncOpenAI(api_key=KEY, base_url=f"{server}/v1")
    assert [m.id async for m in good.models.list()]
    bad = openai.AsyncOpenAI(api_key="sk-wrong", base_url=f"{server}/v1", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as e:
        await bad.models.list()
    assert e.value.code == "invalid_api_key"


async def test_websocket_refuses_missing_and_wrong_keys_and_takes_the_right_one(server: str) -> None:
    assert await refused(server) == 401
    assert await refused(server, additional_headers={"Authorization": "Bearer sk-bogus"}) == 401
    assert await refused(server, subprotocols=["realtime", "openai-insecure-api-key.ek_bogus"]) == 401  # type: ignore[list-item]
    client = openai.AsyncOpenAI(api_key=KEY, base_url=f"{server}/v1",
                                websocket_base_url=server.replace("http", "ws") + "/v1")
    async with client.realtime.connect(model="voxloop") as conn:
        created = await sdk_until(conn, [], lambda e: e.type == "session.created", 30)
        assert created.session.id.startswith("sess_")


async def test_sdk_client_secret_opens_a_browser_style_session_with_its_config(server: str) -> None:
    client = openai.AsyncOpenAI(api_key=KEY, base_url=f"{server}/v1")
    secret = await client.realtime.client_secrets.create(
        expires_after={"anchor": "created_at", "seconds": 120},
        session={"type": "realtime", "model": "voxloop", "instructions": "You are a pirate.",
                 "output_modalities": ["text"]})
    assert secret.value.startswith("ek_") and secret.expires_at > 0
    assert secret.session.type == "realtime" and secret.session.instructions == "You are a pirate."
    # a browser: the secret as a subprotocol, its page's Origin, no Authorization header
    async with connect(ws_url(server), origin=server,  # type: ignore[arg-type]
                       subprotocols=["realtime", f"openai-insecure-api-key.{secret.value}"]) as ws:  # type: ignore[list-item]
        assert ws.subprotocol == "realtime"
        created = await first_event(ws)
        assert created["type"] == "session.created"
        assert created["session"]["instructions"] == "You are a pirate."
        assert created["session"]["output_modalities"] == ["text"]
    async with httpx.AsyncClient() as http:  # a client secret is no API key for REST
        r = await http.get(f"{server}/v1/models", headers={"Authorization": f"Bearer {secret.value}"})
        assert_openai_error(r, 401, "invalid_api_key")
        r = await http.post(f"{server}/v1/realtime/client_secrets", json={},
                            headers={"Authorization": f"Bearer {secret.value}"})
        assert_openai_error(r, 401, "invalid_api_key")


async def test_bad_client_secret_requests_are_400s(server: str) -> None:
    client = openai.AsyncOpenAI(api_key=KEY, base_url=f"{server}/v1", max_retries=0)
    with pytest.raises(openai.BadRequestError) as e:
        await client.realtime.client_secrets.create(expires_after={"anchor": "created_at", "seconds": 5})
    assert e.value.body["param"] == "expires_after.seconds"  # type: ignore[index]
    with pytest.raises(openai.BadRequestError):
        await client.realtime.client_secrets.create(session={"type": "realtime", "instructions": 3})  # type: ignore[typeddict-item]


async def test_foreign_origins_and_hosts_are_refused(server: str) -> None:
    auth = {"Authorization": f"Bearer {KEY}"}
    for origin in ("http://evil.example", "null"):
        assert await refused(server, origin=origin, additional_headers=auth) == 403  # type: ignore[arg-type]
    port = server.rsplit(":", 1)[1]
    async with httpx.AsyncClient() as http:
        r = await http.get(f"{server}/v1/models", headers={**auth, "Host": f"rebound.evil.example:{port}"})
        assert_openai_error(r, 400, "invalid_host")
        r = await http.get(f"{server}/healthz", headers={"Host": f"rebound.evil.example:{port}"})
        assert r.status_code == 400
        # what a cross-site page can send without a preflight: a form post and a text/plain body
        form = await http.post(f"{server}/v1/audio/transcriptions", headers={**auth, "Origin": "http://evil.example"},
                               files={"file": ("a.wav", b"RIFF")}, data={"model": "whisper-1"})
        assert_openai_error(form, 403, "origin_not_allowed")
        plain = await http.post(f"{server}/v1/audio/speech", headers={**auth, "Content-Type": "text/plain"},
                                content=json.dumps({"model": "tts-1", "input": "hi"}))
        assert_openai_error(plain, 415, "unsupported_media_type")
        # the server's own page and loopback pages are fine
        r = await http.post(f"{server}/v1/realtime/client_secrets", json={}, headers={**auth, "Origin": server})
        assert r.status_code == 200
