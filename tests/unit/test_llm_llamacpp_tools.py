"""LlamaCppLLM's tool steps (decision, arguments, plain-text history) with fake Llama objects."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from tests.unit.test_llm_llamacpp import FakeLlama, FakeLlamaLLM, wait_idle
from voxloop.engines.llm import llama_steps
from voxloop.engines.llm.tools import ASK_PREFIX
from voxloop.engines.types import (
    ChatMessage,
    LLMChunk,
    LLMOptions,
    ToolCall,
    ToolCallDelta,
    ToolSpec,
)
from voxloop.errors import BackendError

# SmolLM2-135M-Instruct's template, as its GGUF has it
SMOL_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\\n' }}"
    "{% endif %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
WEATHER = ToolSpec("get_weather", "Get the weather in a city",
                   json.dumps({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}))
TIME = ToolSpec("get_time", "Get the time", json.dumps({"type": "object", "properties": {"tz": {"type": "string"}}}))
ASKED = [ChatMessage("system", "Be brief."), ChatMessage("user", "Weather in Paris?")]
CALL = ToolCall("call_1", "get_weather", '{"city": "Paris"}')
ANSWERED = [*ASKED, ChatMessage("assistant", "", tool_calls=(CALL,)),
            ChatMessage("tool", '{"temperature_c": 18}', tool_call_id="call_1", name="get_weather")]


class ToolLlama(FakeLlama):
    """Adds ``create_completion`` (the grammar steps): ``script(grammar)`` gives the pieces."""

    chat_format = "chat_template.default"
    chat_handler = None

    def __init__(self, script: Callable[[str], list[str]], **kw: Any) -> None:
        super().__init__(tokens=3, **kw)
        self.script = script
        self.metadata = {"tokenizer.chat_template": SMOL_TEMPLATE}
        self._model = SimpleNamespace(token_get_text={1: "<|im_start|>", 2: "<|im_end|>"}.__getitem__)
        self.completions: list[tuple[str, str, dict[str, Any]]] = []  # (prompt, grammar, options)
        self._text = ""

    def token_eos(self) -> int:
        return 2

    def token_bos(self) -> int:
        return 1

    def tokenize(self, text: bytes, add_bos: bool = True, special: bool = False) -> list[int]:
        self._text = text.decode()
        return super().tokenize(text, add_bos, special)

    def create_completion(self, prompt: list[int], stream: bool, grammar: Any, **kw: Any) -> Iterator[Any]:
        assert stream
        self.completions.append((self._text, grammar._grammar, kw))
        pieces = self.script(grammar._grammar)

        def chunks() -> Iterator[dict[str, Any]]:
            for piece in pieces:
                if self.gate is not None:
                    assert self.gate.acquire(timeout=5), "test gate never opened"
                self.produced += 1
                yield {"choices": [{"text": piece, "finish_reason": None}]}

        return chunks()


def script(yes_no: str = "yes", name: str = "get_weather",
           arguments: tuple[str, ...] = ('{"city":', ' "Paris"', "}", " ")) -> Callable[[str], list[str]]:
    def answer(grammar: str) -> list[str]:
        if grammar == 'root ::= "yes" | "no"\n':
            return [yes_no]
        if grammar.startswith('root ::= "get_'):
            return [name]
        return list(arguments)
    return answer


@pytest.fixture(autouse=True)
def _grammars_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(llama_steps, "grammar_parses", lambda llama, grammar: True)  # no real vocab


async def collect(llm: FakeLlamaLLM, messages: list[ChatMessage], options: LLMOptions) -> tuple[list[LLMChunk], list[ToolCall]]:
    stream = llm.chat(messages, options)
    chunks = [c async for c in stream]
    return chunks, stream.tool_calls


async def test_a_forced_call_streams_its_id_name_then_the_arguments() -> None:
    fake = ToolLlama(script())
    llm = FakeLlamaLLM(fake)
    chunks, calls = await collect(llm, ASKED, LLMOptions(tools=(WEATHER, TIME), tool_choice="get_weather"))
    first = chunks[0]
    assert isinstance(first, ToolCallDelta) and first.name == "get_weather" and first.arguments == ""
    assert first.call_id is not None and first.call_id.startswith("call_") and len(first.call_id) == 25
    assert chunks[1:] == [ToolCallDelta(0, '{"city":'), ToolCallDelta(0, ' "Paris"'), ToolCallDelta(0, "}")]
    assert calls == [ToolCall(first.call_id, "get_weather", '{"city": "Paris"}')]  # no trailing space
    assert fake.calls == []  # no free text
    [(prompt, grammar, kw)] = fake.completions
    assert prompt.startswith("<|im_start|>system\nBe brief.\n\nYou can call these tools:\n- get_weather: ")
    assert prompt.endswith("<|im_start|>user\nWeather in Paris?<|im_end|>\n<|im_start|>assistant\nCalling get_weather(")
    assert "city-kv" in grammar
    assert kw["temperature"] == 0.0 and kw["repeat_penalty"] == 1.0 and kw["stop"] == ["<|im_end|>"]
    assert llm._pool is not None
    assert llm._pool._slots[0].history[-1] == ("assistant", 'Calling get_weather({"city": "Paris"})')


def lean(monkeypatch: pytest.MonkeyPatch, p: float) -> list[str]:
    """The model's P(yes) to the tool question is ``p``; returns the prompts it was asked."""
    asked: list[str] = []

    def probability(llama: ToolLlama, tokens: list[int]) -> float:
        asked.append(llama._text)
        return p

    monkeypatch.setattr(llama_steps, "yes_probability", probability)
    return asked


UNNAMED = [ChatMessage("system", "Be brief."), ChatMessage("user", "Is it hot in Paris?")]


async def test_auto_asks_whether_to_call_then_which_tool(monkeypatch: pytest.MonkeyPatch) -> None:
    asked = lean(monkeypatch, 0.7)
    fake = ToolLlama(script(name="get_time", arguments=('{"tz": "UTC"}',)))
    llm = FakeLlamaLLM(fake)
    chunks, calls = await collect(llm, UNNAMED, LLMOptions(tools=(WEATHER, TIME)))
    assert [c.name for c in calls] == ["get_time"] and calls[0].arguments == '{"tz": "UTC"}'
    [ask] = asked
    assert ask.endswith("<|im_start|>assistant\n" + ASK_PREFIX)
    (pick, g2, _), (args, _, _) = fake.completions
    assert pick.endswith("<|im_start|>assistant\n") and g2 == 'root ::= "get_weather" | "get_time"\n'
    assert args.endswith("Calling get_time(")


@pytest.mark.parametrize(("p", "messages", "called"), [
    (0.3, UNNAMED, None),  # leans no, names no tool: reply
    (0.3, ASKED, "get_weather"),  # "Weather in Paris?" names get_weather: a weak yes is enough
    (0.1, ASKED, None),  # a firm no wins even then
    (0.6, ASKED, "get_weather"),  # the named tool, without asking which
])
async def test_the_decision_weighs_the_models_lean_and_what_the_request_names(
        monkeypatch: pytest.MonkeyPatch, p: float, messages: list[ChatMessage], called: str | None) -> None:
    lean(monkeypatch, p)
    fake = ToolLlama(script())
    _, calls = await collect(FakeLlamaLLM(fake), messages, LLMOptions(tools=(WEATHER, TIME)))
    assert [c.name for c in calls] == ([called] if called else [])
    assert not [g for _, g, _ in fake.completions if g.startswith('root ::= "get_weather" |')]


async def test_auto_answering_no_replies_in_words_with_the_tool_list_in_the_prompt(
        monkeypatch: pytest.MonkeyPatch) -> None:
    lean(monkeypatch, 0.05)
    fake = ToolLlama(script(yes_no="no"))
    llm = FakeLlamaLLM(fake)
    chunks, calls = await collect(llm, ASKED, LLMOptions(tools=(WEATHER,)))
    assert chunks == ["t0 ", "t1 ", "t2 "] and calls == []
    [(messages, kw)] = fake.calls
    assert "You can call these tools:" in messages[0]["content"] and kw["repeat_penalty"] == 1.1
    assert fake.completions == []  # the yes/no question is scored, not generated


async def test_required_with_one_tool_calls_it_without_asking() -> None:
    fake = ToolLlama(script())
    llm = FakeLlamaLLM(fake)
    _, calls = await collect(llm, ASKED, LLMOptions(tools=(WEATHER,), tool_choice="required"))
    assert [c.name for c in calls] == ["get_weather"] and len(fake.completions) == 1
    assert llm.idle_workers == 1


async def test_after_a_tool_result_auto_answers_in_words_from_plain_text_history() -> None:
    fake = ToolLlama(script())
    llm = FakeLlamaLLM(fake)
    chunks, calls = await collect(llm, ANSWERED, LLMOptions(tools=(WEATHER,)))
    assert calls == [] and all(isinstance(c, str) for c in chunks) and fake.completions == []
    [(messages, _)] = fake.calls
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert messages[2]["content"] == 'Calling get_weather({"city": "Paris"})'
    assert messages[3]["content"].startswith('Here is the result of get_weather: {"temperature_c": 18}')


async def test_tool_choice_none_never_calls_and_lists_no_tools() -> None:
    fake = ToolLlama(script())
    llm = FakeLlamaLLM(fake)
    chunks, calls = await collect(llm, ASKED, LLMOptions(tools=(WEATHER,), tool_choice="none"))
    assert calls == [] and fake.completions == []
    assert fake.calls[0][0][0] == {"role": "system", "content": "Be brief."}


async def test_arguments_cut_short_are_a_backend_error_and_free_the_instance() -> None:
    fake = ToolLlama(script(arguments=('{"city": "Par',)))
    llm = FakeLlamaLLM(fake)
    with pytest.raises(BackendError, match="arguments for get_weather were cut short"):
        await collect(llm, ASKED, LLMOptions(tools=(WEATHER,), tool_choice="get_weather"))
    await wait_idle(llm, fake)


async def test_a_looping_reply_is_stopped() -> None:
    fake = FakeLlama(tokens=200, delay=0)
    original = fake.create_chat_completion

    def looped(messages: list[dict[str, str]], stream: bool, **kw: Any) -> Iterator[Any]:
        chunks = original(messages, stream, **kw)
        return ({"choices": [{"delta": {"content": "980,"}}]} if "content" in c["choices"][0]["delta"] else c
                for c in chunks)

    fake.create_chat_completion = looped  # type: ignore[method-assign]
    llm = FakeLlamaLLM(fake)
    chunks, _ = await collect(llm, ASKED, LLMOptions())
    assert chunks == ["980,"] * 4  # stopped once four repeats (16 characters) were out


async def test_stopping_during_the_arguments_stops_within_one_token() -> None:
    fake = ToolLlama(script(arguments=('{"city": "', *["a"] * 500, '"}')))
    fake.gate = threading.Semaphore(3)  # the worker can make 3 argument pieces, then waits
    llm = FakeLlamaLLM(fake)
    stream = llm.chat(ASKED, LLMOptions(tools=(WEATHER,), tool_choice="get_weather", max_tokens=600))
    got = [await stream.__anext__() for _ in range(4)]  # the name, then 3 argument pieces
    assert isinstance(got[0], ToolCallDelta) and got[0].name == "get_weather"
    await stream.aclose()
    for _ in range(50):
        fake.gate.release()
    await wait_idle(llm, fake)
    assert fake.produced in (3, 4)  # at most the piece in progress when aclose came


async def test_a_follow_up_after_a_call_returns_to_the_same_instance() -> None:
    a, b = ToolLlama(script()), ToolLlama(script())
    llm = FakeLlamaLLM(a, b)
    options = LLMOptions(tools=(WEATHER,), tool_choice="get_weather")
    _, calls = await collect(llm, ASKED, options)
    first = a if a.completions else b
    other = [ChatMessage("system", "Be brief."), ChatMessage("user", "other")]
    await collect(llm, other, LLMOptions(tools=(WEATHER,), tool_choice="none"))  # the idle instance
    follow = [*ASKED, ChatMessage("assistant", "", tool_calls=calls),
              ChatMessage("tool", "{}", tool_call_id=calls[0].call_id, name="get_weather")]
    before = len(first.calls)
    await collect(llm, follow, LLMOptions(tools=(WEATHER,)))
    assert len(first.calls) == before + 1  # the instance that holds the call in its cache


class BuiltinFormatLlama(ToolLlama):
    """A built-in chat format (``chat_format="chatml"``): no Jinja template to render."""

    chat_format = "chatml"

    def create_chat_completion(self, messages: list[dict[str, str]], stream: bool, **kw: Any) -> Iterator[Any]:
        if kw.get("grammar") is None:
            return super().create_chat_completion(messages, stream, **kw)
        self.calls.append((messages, kw))
        pieces = self.script(kw["grammar"]._grammar)
        return ({"choices": [{"delta": {"content": p}}]} for p in pieces)


async def test_a_built_in_chat_format_gets_the_grammar_steps_as_chat_completions() -> None:
    fake = BuiltinFormatLlama(script())
    llm = FakeLlamaLLM(fake)
    _, calls = await collect(llm, ASKED, LLMOptions(tools=(WEATHER,), tool_choice="get_weather"))
    assert [(c.name, c.arguments) for c in calls] == [("get_weather", '{"city": "Paris"}')]
    [(messages, kw)] = fake.calls
    assert messages[-1] == {"role": "user", "content": "Write only 'Calling get_weather(' and its JSON arguments."}
    assert kw["temperature"] == 0.0 and fake.completions == []
