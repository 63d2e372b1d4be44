"""Per-reply latencies, measured by the reply and the session, reported as ``voxloop.metrics``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["ReplyMetrics"]


@dataclass(slots=True)
class ReplyMetrics:
    speech_end_wall: float | None = None  # monotonic time the user stopped speaking
    asr_final_ms: float | None = None
    llm_first_token_ms: float | None = None
    tts_first_chunk_ms: float | None = None  # from the first token to the first audio
    first_clause_ms: float | None = None  # of which the LLM took to write the first clause
    voice_to_voice_ms: float | None = None
    barge_in_stop_ms: float | None = None
    speculative: bool = False
    prompt_tokens: int | None = None  # the prompt the reply was started with (Reply.prompt_tokens)

    def as_dict(self) -> dict[str, Any]:
        def r(x: float | None) -> float | None:
            return None if x is None else round(x, 1)

        return {
            "voice_to_voice_ms": r(self.voice_to_voice_ms),
            "asr_final_ms": r(self.asr_final_ms),
            "llm_first_token_ms": r(self.llm_first_token_ms),
            "tts_first_chunk_ms": r(self.tts_first_chunk_ms),
            "first_clause_ms": r(self.first_clause_ms),
            "barge_in_stop_ms": r(self.barge_in_stop_ms),
            "speculative": self.speculative,
            "prompt_tokens": self.prompt_tokens,
        }
