"""The generation steps of one reply (:class:`~voxloop.engines.llm.llama_steps.Steps`) run as jobs
of a shared :class:`~voxloop.engines.llm.llama_batch.BatchDecoder` instead of on an instance of
their own: the reply, the grammar-constrained tool steps and the yes/no probe each become one
job, decoded in the same token steps as the other conversations' replies.

Needs the model's Jinja chat template (the GGUF's own, the usual case): the prompt is rendered to
tokens here, and generation ends at an end-of-generation token.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator, Iterator

from voxloop.engines.llm.llama_batch import BatchDecoder, Job, Sampling
from voxloop.engines.llm.llama_steps import Steps
from voxloop.engines.llm.tools import YES_NO, Turn
from voxloop.engines.types import LLMOptions
from voxloop.errors import BackendError

__all__ = ["BatchSteps"]


class BatchSteps(Steps):
    def __init__(self, decoder: BatchDecoder, turns: tuple[Turn, ...], options: LLMOptions,
                 stop: threading.Event, count: Callable[[], None]) -> None:
        super().__init__(decoder.llama, turns, options, stop, count)
        self.decoder = decoder
        self.jobs: list[Job] = []

    def _job(self, tokens: list[int], sampling: Sampling, max_tokens: int, stops: tuple[str, ...] = (),
             probe: tuple[int, int] | None = None) -> Job:
        job = Job(tokens, sampling, max_tokens, stops, self.stop, self.options.priority, self.turns,
                  probe=probe, on_token=self.count)
        self.jobs.append(job)
        return self.decoder.submit(job)

    def _tokens(self, assistant_prefix: str) -> list[int]:
        tokens = self._prompt(assistant_prefix)
        if tokens is None:
            raise BackendError("batched llama.cpp decoding needs the model's Jinja chat template")
        return tokens

    def _reply_pieces(self) -> Generator[str, None, None]:
        o = self.options
        sampling = Sampling(o.temperature, o.top_p, o.repeat_penalty, o.seed, min_tokens=1)  # never empty
        yield from self._job(self._tokens(""), sampling, o.max_tokens, o.stop).pieces()

    def _constrained(self, grammar: str, assistant_prefix: str, max_tokens: int) -> Iterator[str]:
        sampling = Sampling(temperature=0.0, repeat_penalty=1.0, grammar=grammar)
        yield from self._job(self._tokens(assistant_prefix), sampling, max_tokens).pieces()

    def _probe(self, tokens: list[int]) -> float | None:
        yes, no = (self.llama.tokenize(w.encode(), add_bos=False)[0] for w in YES_NO)
        return self._job(tokens, Sampling(), 0, probe=(yes, no)).probability()
