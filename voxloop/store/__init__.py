"""Persistence: conversations, user facts, resume tokens (``voxloop.store.base``)."""
