"""Who may use the server: Host names, web origins, API keys and client secrets (docs/security.md).

One ASGI middleware in front of every route:

* ``Host`` must name this server: an IP literal (DNS rebinding always goes through a domain
  name), a loopback name, the bind address, or a configured name. Stops DNS rebinding.
* A browser's ``Origin`` on a WebSocket handshake or a state-changing request must be this
  server's own origin, a loopback page, or a configured origin. Requests without an ``Origin``
  (SDKs, curl) pass; ``Origin: null`` (sandboxed frames, files) does not.
* With API keys configured, every route but ``/``, ``/healthz`` and ``/static`` needs
  ``Authorization: Bearer KEY``; the WebSocket also takes a client secret, as a bearer token or as
  the subprotocol ``openai-insecure-api-key.VALUE`` (what browsers can send).

Refusals have OpenAI's error shape; a refused WebSocket handshake is answered with an HTTP
status and body where the server supports it, else with a 403.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from voxloop.server.config import ServerConfig
from voxloop.server.secrets import ClientSecret, ClientSecrets

__all__ = ["PUBLIC", "SUBPROTOCOL_PREFIX", "AccessMiddleware", "Principal", "host_allowed", "is_loopback", "origin_allowed", "principal"]

logger = logging.getLogger(__name__)

SUBPROTOCOL_PREFIX = "openai-insecure-api-key."
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})
_PUBLIC = ("/healthz", "/static/")
PUBLIC = "public"  # the principal of a public route without a valid key
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

Scope = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request acts for: ``key`` names the API key (``key-1``…; ``anonymous`` without keys),
    ``secret`` is the client secret it came with (its session config applies)."""

    key: str
    secret: ClientSecret | None = None


def _hostname(authority: str) -> str:
    """``example.com:8000`` -> ``example.com``; ``[::1]:8000`` -> ``::1``."""
    authority = authority.strip().lower()
    if authority.startswith("["):
        return authority[1:authority.find("]")] if "]" in authority else authority
    return authority.rsplit(":", 1)[0] if authority.count(":") == 1 else authority


def is_loopback(name: str) -> bool:
    if name in _LOOPBACK_NAMES or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def host_allowed(host: str, config: ServerConfig) -> bool:
    if "*" in config.allowed_hosts:
        return True
    name = _hostname(host)
    if not name:
        return False
    allowed = {h.lower() for h in config.allowed_hosts} | {config.bind_host.lower()}
    return _is_ip(name) or is_loopback(name) or name in allowed


def origin_allowed(origin: str | None, host: str, config: ServerConfig) -> bool:
    """``origin`` (None: the client sent none, not a browser) for a request to ``host``."""
    if origin is None:
        return True
    origin = origin.strip().lower().rstrip("/")
    if "*" in config.allowed_origins or origin in {o.lower().rstrip("/") for o in config.allowed_origins}:
        return True
    scheme, sep, authority = origin.partition("://")
    if not sep or scheme not in ("http", "https"):
        return False  # "null", file:, extensions: not a page of ours
    return authority == host.strip().lower() or is_loopback(_hostname(authority))


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}


def _bearer(headers: dict[str, str]) -> str | None:
    value = headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _subprotocol_secret(headers: dict[str, str]) -> str | None:
    for proto in headers.get("sec-websocket-protocol", "").split(","):
        proto = proto.strip()
        if proto.startswith(SUBPROTOCOL_PREFIX):
            return proto[len(SUBPROTOCOL_PREFIX):]
    return None


def _error(status: int, message: str, code: str, kind: str = "invalid_request_error") -> tuple[int, bytes]:
    body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    return status, json.dumps(body).encode()


class AccessMiddleware:
    """The checks above, for every HTTP request and WebSocket handshake of ``app``."""

    def __init__(self, app: Any, config: ServerConfig, secrets: ClientSecrets) -> None:
        self.app = app
        self.config = config
        self.secrets = secrets

    def key_name(self, token: str | None) -> str | None:
        """The name of the API key ``token`` is (constant-time compare), or None."""
        if token is None:
            return None
        found = None
        for i, key in enumerate(self.config.api_keys, 1):
            if hmac.compare_digest(token.encode(), key.encode()):
                found = f"key-{i}"
        return found

    def check(self, scope: Scope) -> tuple[int, bytes] | Principal:
        """A refusal (status, body) or who the request acts for."""
        headers = _headers(scope)
        host = headers.get("host", "")
        if not host_allowed(host, self.config):
            return _error(400, f"this server does not answer to the host name {_hostname(host)!r}; add it "
                          "with --allowed-hosts", "invalid_host")
        path: str = scope.get("path", "")
        websocket = scope["type"] == "websocket"
        if (websocket or scope.get("method", "GET") not in _SAFE_METHODS) and not origin_allowed(
                headers.get("origin"), host, self.config):
            return _error(403, f"requests from the web origin {headers.get('origin')!r} are not allowed; add it "
                          "with --allowed-origins", "origin_not_allowed")
        token = _bearer(headers)
        if not self.config.api_keys:
            return Principal("anonymous")
        if not websocket and (path == "/" or path.startswith(_PUBLIC)):
            return Principal(self.key_name(token) or PUBLIC)
        if (name := self.key_name(token)) is not None:
            return Principal(name)
        if websocket:
            offered = token or _subprotocol_secret(headers)
            if (name := self.key_name(offered)) is not None:
                return Principal(name)
            if offered is not None and (secret := self.secrets.get(offered)) is not None:
                return Principal(secret.key, secret)
        if token is None and (not websocket or _subprotocol_secret(headers) is None):
            return _error(401, "You didn't provide an API key. Send it as 'Authorization: Bearer KEY' "
                          "(or a client secret as the WebSocket subprotocol "
                          f"'{SUBPROTOCOL_PREFIX}VALUE').", "invalid_api_key")
        return _error(401, "Incorrect API key provided (or an expired client secret).", "invalid_api_key")

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        verdict = self.check(scope)
        if isinstance(verdict, Principal):
            scope.setdefault("state", {})["voxloop_principal"] = verdict
            await self.app(scope, receive, send)
            return
        status, body = verdict
        logger.info("refused %s %s: %d %s", scope["type"], scope.get("path"), status, body.decode()[:200])
        if scope["type"] == "http":
            await _send_http(send, status, body)
        else:
            await _deny_websocket(scope, receive, send, status, body)


async def _send_http(send: Any, status: int, body: bytes, kind: str = "http.response") -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    await send({"type": f"{kind}.start", "status": status, "headers": headers})
    await send({"type": f"{kind}.body", "body": body})


async def _deny_websocket(scope: Scope, receive: Any, send: Any, status: int, body: bytes) -> None:
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    if "websocket.http.response" in scope.get("extensions", {}):
        await _send_http(send, status, body, kind="websocket.http.response")
    else:
        await send({"type": "websocket.close", "code": 1008})


def principal(scope: Mapping[str, Any]) -> Principal:
    """Who the request acts for (the middleware put it there)."""
    found = scope.get("state", {}).get("voxloop_principal")
    return found if isinstance(found, Principal) else Principal("anonymous")
