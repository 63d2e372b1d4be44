"""One exception tree for the whole package.

Every error carries a stable ``code`` (used on the wire as the ``error.code`` of an
OpenAI-style error event or HTTP body) and whether retrying may help. Inside a session,
errors become events sent to the client; they never kill the process.
"""

from __future__ import annotations

__all__ = [
    "AudioDecodeError",
    "BackendError",
    "BackendUnavailable",
    "InvalidRequest",
    "MissingDependency",
    "OverloadedError",
    "UnknownBackend",
    "VoxloopError",
]


class VoxloopError(Exception):
    """Base of every error voxloop raises on purpose."""

    code: str = "voxloop_error"
    retryable: bool = False
    http_status: int = 500

    def __init__(self, message: str, *, code: str | None = None, retryable: bool | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if retryable is not None:
            self.retryable = retryable


class InvalidRequest(VoxloopError):
    """The caller sent something we cannot act on (bad field, bad event, bad option)."""

    code = "invalid_request_error"
    http_status = 400

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None):
        super().__init__(message, code=code)
        self.param = param


class AudioDecodeError(InvalidRequest):
    """Input audio is empty, corrupt, or not audio at all."""

    code = "invalid_audio"


class UnknownBackend(InvalidRequest):
    """A backend name that is not in the registry; the message lists the valid ones."""

    code = "unknown_backend"


class MissingDependency(VoxloopError):
    """An optional dependency is not installed; the message names the pip extra."""

    code = "missing_dependency"
    http_status = 501


class BackendError(VoxloopError):
    """A backend failed while working (model crashed, remote server returned an error)."""

    code = "backend_error"
    retryable = True
    http_status = 502


class BackendUnavailable(BackendError):
    """A backend cannot be reached or loaded at all."""

    code = "backend_unavailable"
    http_status = 503


class OverloadedError(VoxloopError):
    """The server is at capacity; try again later."""

    code = "server_busy"
    retryable = True
    http_status = 503
