"""voxloop: a self-hosted, real-time voice conversation and dictation engine."""

from voxloop.errors import VoxloopError

__all__ = ["VoxloopError", "__version__"]
__version__ = "0.1.0"
