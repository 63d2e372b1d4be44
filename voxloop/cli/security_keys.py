"""Who may use ``voxloop serve`` (docs/security.md): inbound API keys, web origins, Host names.

``api_keys`` (``--api-key KEY``, repeatable; ``VOXLOOP_API_KEYS=k1,k2``) are the keys clients
must send. Not the ``[asr|llm|tts] api_key`` of remote backends: those go out, these come in.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any

__all__ = ["check_exposure", "security_keys", "security_server_fields", "split_list"]


def security_keys(key: Callable[..., Any]) -> list[Any]:
    """The keys (``key`` is :class:`voxloop.cli.settings.Key`)."""
    return [
        key("api_keys", str, None, "API keys clients must send (Authorization: Bearer KEY); repeat the flag or "
            "separate with commas; none: no key is asked for (loopback only unless --open-access)", "--api-key",
            secret=True, repeat=True),
        key("allowed_origins", str, None, "web origins (https://app.example.com,...) whose pages may use the "
            "server, beyond its own origin and loopback pages; * for any", "--allowed-origins"),
        key("allowed_hosts", str, None, "Host names the server answers to, beyond IP addresses, loopback names and "
            "the bind address (stops DNS rebinding); * for any", "--allowed-hosts"),
        key("open_access", bool, False, "serve without API keys even when listening beyond loopback (anyone who "
            "can reach the port may use it)", "--open-access"),
    ]


def split_list(value: object) -> tuple[str, ...]:
    if not isinstance(value, str):
        return ()
    return tuple(part.strip() for part in value.split(",") if part.strip())


def security_server_fields(get: Callable[[str], Any]) -> dict[str, Any]:
    return {"api_keys": split_list(get("api_keys")), "allowed_origins": split_list(get("allowed_origins")),
            "allowed_hosts": split_list(get("allowed_hosts")), "bind_host": str(get("host"))}


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_exposure(host: str, api_keys: tuple[str, ...], open_access: bool) -> str | None:
    """Why serving is refused: listening beyond loopback with no key, unless asked for knowingly."""
    if api_keys or open_access or _loopback(host):
        return None
    return (f"listening on {host} without an API key would let anyone who can reach the port use this server; "
            "set --api-key KEY (or VOXLOOP_API_KEYS, or api_keys in the config file), or pass --open-access "
            "to serve without keys knowingly (docs/security.md)")
