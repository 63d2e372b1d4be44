"""The generation steps of one llama.cpp reply, on a borrowed ``Llama`` instance (worker thread).

``text`` streams words (repeat penalty, loop guard); ``decide`` picks ``reply`` or a tool under a
grammar; ``call`` streams a tool's JSON arguments under its schema's grammar. The grammar steps
decode greedily: a small model's first choice is its best guess at a name or a value, and
sampling there only adds misspelt names and broken JSON. See :mod:`voxloop.engines.llm.tools`.
"""

from __future__ import annotations

import functools
import json
import logging
import threading
from collections.abc import Callable, Generator, Iterator
from typing import Any

from voxloop.engines.llm.repetition import MAX_UNIT, looping
from voxloop.engines.llm.tools import (
    ASK_PREFIX,
    JSON_OBJECT_GBNF,
    YES_LEAN,
    YES_MENTIONED,
    YES_NO,
    Plan,
    Turn,
    arguments_grammar,
    call_prefix,
    decision_grammar,
    mentioned,
    new_call_id,
)
from voxloop.engines.types import LLMChunk, LLMOptions, ToolCallDelta, ToolSpec
from voxloop.errors import BackendError

__all__ = ["Steps", "grammar_parses", "chat_template", "yes_probability"]

logger = logging.getLogger(__name__)

_TAIL = 4 * MAX_UNIT  # enough text for the loop guard


def grammar_parses(llama: Any, grammar: str) -> bool:
    """Does llama.cpp accept ``grammar``? (A grammar it rejects would reach the sampler chain as
    a null sampler and crash the decode, so every grammar built from a schema is checked.)"""
    import llama_cpp

    sampler = llama_cpp.llama_sampler_init_grammar(llama._model.vocab, grammar.encode(), b"root")
    if not sampler:
        return False
    llama_cpp.llama_sampler_free(sampler)
    return True


class Steps:
    """One reply's steps on ``llama`` for the rendered ``turns``. ``said`` collects what the
    assistant turn holds afterwards (for the instance's cache history); ``count`` is called
    once per generated token; ``stop`` is checked after every token."""

    def __init__(self, llama: Any, turns: tuple[Turn, ...], options: LLMOptions, stop: threading.Event,
                 count: Callable[[], None]) -> None:
        self.llama = llama
        self.turns = turns
        self.options = options
        self.stop = stop
        self.count = count
        self.said: list[str] = []

    def _messages(self, extra: tuple[Turn, ...] = ()) -> list[dict[str, str]]:
        return [{"role": role, "content": content} for role, content in (*self.turns, *extra)]

    def text(self) -> Iterator[str]:
        """The reply in words, stopped early if it starts to loop."""
        tail = ""
        pieces = self._reply_pieces()
        try:
            for delta in pieces:
                if self.stop.is_set():
                    return
                self.said.append(delta)
                yield delta
                tail = (tail + delta)[-_TAIL:]
                if looping(tail):
                    logger.info("llama.cpp reply stopped: it repeats itself (%r)", tail[-40:])
                    return
        finally:
            pieces.close()

    def _reply_pieces(self) -> Generator[str, None, None]:
        """The reply's text deltas as the instance generates them."""
        o = self.options
        chunks = self.llama.create_chat_completion(
            messages=self._messages(), stream=True, temperature=o.temperature, top_p=o.top_p,
            max_tokens=o.max_tokens, stop=list(o.stop), seed=o.seed, repeat_penalty=o.repeat_penalty,
        )
        try:
            for chunk in chunks:
                self.count()
                if self.stop.is_set():
                    return
                delta = chunk["choices"][0]["delta"].get("content")
                if delta:
                    yield delta
        finally:
            chunks.close()  # leaves llama.cpp's generator (and its state) consistent

    def _prompt(self, assistant_prefix: str) -> list[int] | None:
        """The chat template's prompt for ``turns`` plus the start of the assistant turn, as
        tokens; None when the chat format is not a Jinja template we can render."""
        template = chat_template(self.llama)
        if template is None:
            return None
        model = self.llama._model
        formatter = _formatter(template, model.token_get_text(self.llama.token_eos()),
                               model.token_get_text(self.llama.token_bos()))
        messages: Any = self._messages()
        result = formatter(messages=messages)
        text = result.prompt + assistant_prefix
        tokens: list[int] = self.llama.tokenize(text.encode(), add_bos=not result.added_special, special=True)
        return tokens

    def _constrained(self, grammar: str, assistant_prefix: str, max_tokens: int) -> Iterator[str]:
        """Greedy text under ``grammar``, as the assistant turn's continuation of ``prefix``."""
        from llama_cpp.llama_grammar import LlamaGrammar

        gbnf = LlamaGrammar.from_string(grammar, verbose=False)
        prompt = self._prompt(assistant_prefix)
        common: dict[str, Any] = {"stream": True, "temperature": 0.0, "max_tokens": max_tokens,
                                  "grammar": gbnf, "repeat_penalty": 1.0}
        if prompt is not None:
            eos = self.llama._model.token_get_text(self.llama.token_eos())
            chunks = self.llama.create_completion(prompt=prompt, stop=[eos] if eos else [], **common)
            key = None
        else:  # a built-in chat format: say in words what comes next
            hint = f"Write only {assistant_prefix.strip()!r} and its JSON arguments." if assistant_prefix else ""
            extra = (("user", hint),) if hint else ()
            chunks = self.llama.create_chat_completion(messages=self._messages(extra), **common)
            key = "delta"
        try:
            for chunk in chunks:
                self.count()
                if self.stop.is_set():
                    return
                choice = chunk["choices"][0]
                piece = choice["text"] if key is None else choice["delta"].get("content")
                if piece:
                    yield piece
        finally:
            chunks.close()

    def _pick(self, choices: tuple[str, ...], prefix: str = "") -> str | None:
        """Which of ``choices`` the model writes first after ``prefix`` (None if stopped)."""
        written = "".join(self._constrained(decision_grammar(choices), prefix, max(len(c) for c in choices) + 2))
        if self.stop.is_set():
            return None
        written = written.strip()
        if written not in choices:  # cut short: the choice it was writing, else the first
            logger.info("llama.cpp tool decision %r is not a choice", written)
            return next((c for c in choices if written and c.startswith(written)), choices[0])
        return written

    def _yes_probability(self) -> float | None:
        """P(yes) against no as the assistant's answer to ``ASK_PREFIX`` (None: no template)."""
        tokens = self._prompt(ASK_PREFIX)
        if tokens is None:
            return None
        self.count()
        return self._probe(tokens)

    def _probe(self, tokens: list[int]) -> float | None:
        return yes_probability(self.llama, tokens)

    def _last_user(self) -> str:
        return next((text for role, text in reversed(self.turns) if role == "user"), "")

    def decide(self, step: Plan) -> str | None:
        """``step.reply`` or the name of the tool to call (None if stopped meanwhile)."""
        names = tuple(c for c in step.choices if c != step.reply)
        hinted = mentioned(names, self._last_user())
        if step.reply in step.choices:  # auto: a tool at all?
            p = self._yes_probability()
            if p is None:
                answer = self._pick(YES_NO, ASK_PREFIX)
                if answer != "yes":
                    return None if answer is None else step.reply
            elif not (p > YES_LEAN or (hinted and p > YES_MENTIONED)):
                logger.info("llama.cpp tool decision: reply (P(yes) %.2f, mentioned %s)", p, hinted or "none")
                return step.reply
            if self.stop.is_set():
                return None
        if len(hinted) == 1:
            return hinted[0]
        return names[0] if len(names) == 1 else self._pick(names)

    def call(self, spec: ToolSpec) -> Iterator[LLMChunk]:
        """A call of ``spec``: a first piece with id and name, then the arguments as they come."""
        grammar = arguments_grammar(spec)
        if grammar is not JSON_OBJECT_GBNF and not grammar_parses(self.llama, grammar):
            logger.info("tool %s: llama.cpp rejects the schema's grammar; any JSON object allowed", spec.name)
            grammar = JSON_OBJECT_GBNF
        yield ToolCallDelta(0, "", call_id=new_call_id(), name=spec.name)
        prefix = call_prefix(spec.name)
        self.said.append(prefix)
        arguments: list[str] = []
        tail = held = ""
        for piece in self._constrained(grammar, prefix, self.options.max_tokens):
            tail = (tail + piece)[-_TAIL:]
            body = (held + piece).rstrip()  # whitespace is held back: none trails the object
            held = (held + piece)[len(body):]
            if body:
                arguments.append(body)
                self.said.append(body)
                yield ToolCallDelta(0, body)
            if looping(tail):
                logger.info("llama.cpp tool arguments stopped: they repeat (%r)", tail[-40:])
                break
        if self.stop.is_set():
            return
        self.said.append(")")
        text = "".join(arguments)
        try:
            valid = isinstance(json.loads(text), dict)
        except ValueError:
            valid = False
        if not valid:
            raise BackendError(f"the model's arguments for {spec.name} were cut short (max_tokens "
                               f"{self.options.max_tokens}, or a repetition loop): {text[:200]!r}")


def yes_probability(llama: Any, tokens: list[int]) -> float:
    """Evaluate ``tokens`` (reusing the instance's cached prefix) and compare the next-token
    logits of ``yes`` and ``no``: P(yes) among the two."""
    import math

    import llama_cpp

    common = 0
    for a, b in zip(llama._input_ids, tokens[:-1], strict=False):
        if a != b:
            break
        common += 1
    llama.n_tokens = common  # eval() drops the KV cache past it
    llama.eval(tokens[common:])
    logits = llama_cpp.llama_get_logits_ith(llama._ctx.ctx, -1)
    yes, no = (llama.tokenize(w.encode(), add_bos=False)[0] for w in YES_NO)
    return 1 / (1 + math.exp(float(logits[no]) - float(logits[yes])))


@functools.lru_cache(maxsize=8)
def _formatter(template: str, eos: str, bos: str) -> Any:
    """The compiled chat template (llama-cpp-python's own renderer, as its chat handler uses)."""
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    return Jinja2ChatFormatter(template=template, eos_token=eos, bos_token=bos)


def chat_template(llama: Any) -> str | None:
    """The Jinja chat template the instance uses (from the GGUF), if it uses one."""
    fmt = getattr(llama, "chat_format", None)
    if getattr(llama, "chat_handler", None) is not None or not isinstance(fmt, str):
        return None
    metadata = getattr(llama, "metadata", {}) or {}
    if fmt == "chat_template.default":
        template = metadata.get("tokenizer.chat_template")
    elif fmt.startswith("chat_template."):
        template = metadata.get(f"tokenizer.{fmt}")
    else:
        template = None
    return template if isinstance(template, str) else None
