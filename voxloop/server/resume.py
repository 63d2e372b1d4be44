"""Opening a realtime connection's conversation: a new one, or one resumed with its token.

A resumed conversation comes back with its items (in order, with their ids), its summary and
its settings (every ``session.update`` the client sent, merged, applied again on the server's
current defaults), and the user it belongs to.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from voxloop.dialogue.history import Item
from voxloop.errors import InvalidRequest, VoxloopError
from voxloop.server.conversations import Holder
from voxloop.server.protocol import apply_session_update
from voxloop.server.scenes import base_session_config
from voxloop.server.state import ServerState
from voxloop.session.config import SessionConfig
from voxloop.session.events import new_id
from voxloop.session.session import Session

__all__ = ["Opened", "merge_settings", "open_conversation", "updated_config"]

logger = logging.getLogger(__name__)


def merge_settings(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """``new`` over ``old``; objects merge key by key, everything else (lists too) is replaced."""
    out = dict(old)
    for key, value in new.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict) and key != "persona":
            out[key] = merge_settings(out[key], value)
        else:
            out[key] = value
    return out


@dataclass
class Opened:
    id: str
    config: SessionConfig
    token: str | None  # None: the store is down, this conversation cannot be resumed
    expires_at: float = 0.0
    resumed: bool = False
    settings: dict[str, Any] = field(default_factory=dict)
    items: list[Item] = field(default_factory=list)
    summary: str = ""
    summary_through: str | None = None

    async def restore(self, session: Session) -> None:
        """Put the conversation read from the store into the new session (once it runs)."""
        if self.resumed:
            session.log.items.restore(self.items, self.summary, self.summary_through)
        if self.config.user is not None:
            await session.memory.set_user(self.config.user)  # (reads the new prompt into the cache)
        elif self.resumed:
            session.memory.prompt_changed()


def updated_config(state: ServerState, cfg: SessionConfig, update: Any, beta: bool = False) -> SessionConfig:
    """``cfg`` after a ``session.update``'s ``session`` (scene first; explicit fields win)."""
    if beta:
        return apply_session_update(cfg, update, beta=True)
    base = base_session_config(state.config, cfg.type == "transcription")
    return apply_session_update(state.scenes.update(cfg, base, update), update)


async def open_conversation(state: ServerState, transcription: bool, token: str | None, holder: Holder) -> Opened:
    """The conversation this connection holds (raises for a bad resume token)."""
    base = state.scenes.initial(base_session_config(state.config, transcription))
    conversations = state.conversations
    if not token:
        conversation_id = new_id("sess", 16)
        try:
            new_token, expires = await conversations.start(conversation_id)
        except Exception:  # the store is down: converse anyway, without resume
            logger.exception("conversation store unavailable; this session cannot be resumed")
            return Opened(conversation_id, base, None)
        await conversations.hold(conversation_id, holder)
        return Opened(conversation_id, base, new_token, expires)
    try:
        resumed, expires = await conversations.resume(token, holder)
    except VoxloopError:
        raise
    except Exception as e:
        logger.exception("conversation store unavailable")
        raise VoxloopError("the conversation store is unavailable; try again later", code="store_unavailable",
                           retryable=True) from e
    record = resumed.record
    config = base
    try:
        config = updated_config(state, base, record.settings) if record.settings else base
    except InvalidRequest as e:  # the server's personas or presets changed since: keep the rest
        logger.warning("conversation %s: its settings no longer apply (%s); using the defaults", record.id, e.message)
    if record.user is not None and config.user != record.user:
        config = config.with_(user=record.user)
    logger.info("conversation %s resumed (%d items)", record.id, len(resumed.items))
    return Opened(record.id, config, token, expires, resumed=True, settings=dict(record.settings),
                  items=resumed.items, summary=record.summary, summary_through=record.summary_through)
