"""A session's memory with fakes on a virtual clock: items written through to the store (only
what was said or heard), facts of a named user, facts in the prompt, rolling summaries."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.fakes import FakeLLM, FakeTTS, quiet, tone
from tests.unit.test_session import Harness
from tests.virtual_time import VirtualTimePolicy
from voxloop.dialogue.facts import FACTS_HEADER
from voxloop.dialogue.history import SUMMARY_HEADER
from voxloop.dialogue.summary import EARLIER_HEADER
from voxloop.engines.types import ChatMessage, LLMOptions, TTSOptions
from voxloop.errors import InvalidRequest
from voxloop.session.config import SessionConfig
from voxloop.session.memory import MemorySettings
from voxloop.store.base import ConversationRecord, Fact
from voxloop.store.memory import MemoryStore


@pytest.fixture
def event_loop_policy() -> VirtualTimePolicy:
    return VirtualTimePolicy()


class Remembering(Harness):
    def __init__(self, memory: MemorySettings = MemorySettings(), **engines: Any) -> None:
        super().__init__(SessionConfig(output_modalities=("text",)), **engines)
        self.store = MemoryStore()
        self.llm: FakeLLM = self.stack.llm  # type: ignore[assignment]
        from voxloop.session.session import Session
        from voxloop.session.transcriber import ASRScheduler

        self.session = Session(self.stack, ASRScheduler(self.stack.asr), self.output, self.session.config,
                               store=self.store, memory=memory)

    async def start(self) -> None:
        await self.store.create(ConversationRecord(self.session.id))
        await super().start()

    async def aclose(self) -> None:
        await super().aclose()
        await self.store.aclose()

    async def turn(self, text: str) -> dict[str, Any]:
        n = len([e for e in self.events if e["type"] == "response.done"])
        self.session.log.create("user", text, f"item_{len(self.events)}_{n}", None)
        self.session.create_response()
        seen = 0

        def nth_done(e: dict[str, Any]) -> bool:
            nonlocal seen
            seen += e["type"] == "response.done"
            return seen > n

        done = await self.until(nth_done)
        await asyncio.sleep(0.05)  # the writer catches up
        return done

    async def script(self, turns: tuple[str, ...]) -> None:
        for text in turns:
            await self.turn(text)

    async def stored(self) -> list[dict[str, Any]]:
        return [i.data for i in await self.store.items(self.session.id)]


SUMMARISED = ("My name is Ada.", "What is two plus two?", "Name a colour.", "Name a fruit.")  # one summary round


@pytest.fixture
async def m() -> Any:
    h = Remembering()
    await h.start()
    yield h
    await h.aclose()


async def test_settled_items_are_written_through_in_order(m: Remembering) -> None:
    await m.turn("Hello there.")
    await m.turn("And again.")
    stored = await m.stored()
    assert [(i["role"], i["text"].strip()) for i in stored] == [
        ("user", "Hello there."), ("assistant", m.llm.reply), ("user", "And again."), ("assistant", m.llm.reply)]
    assert [i["id"] for i in stored] == [i.id for i in m.session.conversation.items]
    m.session.log.delete(stored[0]["id"])
    await asyncio.sleep(0.05)
    assert len(await m.stored()) == 3


async def test_a_reply_cut_off_is_stored_as_far_as_it_was_heard() -> None:
    h = Remembering(tts=FakeTTS(seconds_per_word=0.4), llm=FakeLLM("one two three four five six seven eight. " * 3))
    h.session.config = h.session.config.with_(output_modalities=("audio",))
    await h.start()
    try:
        await h.feed(tone(0.8))
        await h.feed(quiet(0.8))
        await h.until(lambda e: e["type"] == "response.output_audio.delta")
        await asyncio.sleep(0.5)
        await h.feed(tone(0.5))  # barge-in
        await h.until(lambda e: e["type"] == "response.done")
        await asyncio.sleep(0.1)
        assistant = [i for i in await h.stored() if i["role"] == "assistant"][0]
        assert assistant["status"] == "incomplete"
        assert len(assistant["text"].split()) < 24  # not the whole reply
    finally:
        await h.aclose()


async def test_facts_are_remembered_only_for_a_named_user(m: Remembering) -> None:
    await m.turn("My name is Ada.")
    assert await m.store.facts("ada") == []  # anonymous: nothing remembered
    await m.session.memory.bind_user("ada")
    await m.turn("I live in Lyon.")
    facts = await m.store.facts("ada")
    assert [f.text for f in facts] == ["The user lives in Lyon."]
    assert facts[0].source_item == m.session.conversation.items[-2].id
    assert facts[0].conversation == m.session.id
    with pytest.raises(InvalidRequest) as e:
        await m.session.memory.bind_user("eve")
    assert e.value.code == "user_mismatch"


async def test_remembered_facts_start_the_prompt_and_relevant_ones_join_the_turn() -> None:
    h = Remembering(MemorySettings(facts_in_prompt=1, relevant_facts=1))
    await h.start()
    try:
        await h.store.add_fact(Fact("fact_1", "ada", "The user's dog is called Rex.", "dog's name"))
        await h.store.add_fact(Fact("fact_2", "ada", "The user's name is Ada.", "name"))
        await h.session.memory.bind_user("ada")
        await h.turn("What is my dog called?")
        request = h.llm.requests[-1]
        assert request[0].role == "system" and "The user's name is Ada." in request[0].content
        assert "Rex" not in request[0].content  # over facts_in_prompt: not in the stable prefix
        assert request[-1].content == "What is my dog called?"
    finally:
        await h.aclose()


async def test_relevant_facts_are_a_note_just_before_a_spoken_turn() -> None:
    from tests.fakes import FakeASR

    h = Remembering(MemorySettings(facts_in_prompt=0), asr=FakeASR("what is my dog called"))
    await h.start()
    try:
        await h.store.add_fact(Fact("fact_1", "ada", "The user's dog is called Rex.", "dog's name"))
        await h.session.memory.bind_user("ada")
        await h.feed(tone(1.8))  # the fake recogniser hears one word per 0.3 s
        await h.feed(quiet(0.8))
        await h.until(lambda e: e["type"] == "response.done")
        request = h.llm.requests[-1]
        assert request[-2].role == "system" and "Rex" in request[-2].content
        assert sum("Rex" in m.content for m in request) == 1  # not in the system prompt (facts_in_prompt=0)
    finally:
        await h.aclose()


async def test_recalled_summary_lines_and_user_facts_each_have_their_own_header() -> None:
    """A line of this conversation's summary is not a fact "from earlier conversations"."""
    h = Remembering(MemorySettings(facts_in_prompt=0, relevant_facts=2))
    await h.start()
    try:
        await h.store.add_fact(Fact("fact_1", "ada", "The user's dog is called Rex.", "dog's name"))
        await h.session.memory.bind_user("ada")
        h.session.conversation.summary = "The assistant said: dogs need a walk every day.\nThe user asked about tea."
        [note] = await h.session.memory.relevant("my dog needs a walk")
        assert note.content == (f"{EARLIER_HEADER}\n- The assistant said: dogs need a walk every day.\n"
                                f"{FACTS_HEADER}\n- The user's dog is called Rex.")
    finally:
        await h.aclose()


async def test_rolling_summary_replaces_older_turns_and_is_stored() -> None:
    h = Remembering(MemorySettings(summary_after_turns=3, keep_turns=1))
    await h.start()
    try:
        await h.script(SUMMARISED)
        await asyncio.sleep(0.1)
        conv = h.session.conversation
        assert conv.summary and "Ada" in conv.summary
        # while the user is quiet, the new prompt is read into the model's cache (a 1-token request)
        assert SUMMARY_HEADER in h.llm.requests[-1][0].content
        await h.turn("Thanks.")
        request = h.llm.requests[-1]
        assert SUMMARY_HEADER in request[0].content
        assert "My name is Ada." not in [m.content for m in request[1:]]  # replaced by the summary
        record = await h.store.get(h.session.id)
        assert record is not None and record.summary == conv.summary and record.summary_through
        assert len(await h.stored()) == 10  # the items themselves stay
    finally:
        await h.aclose()


async def test_a_session_ending_while_a_reply_plays_keeps_what_was_sent() -> None:
    """The reply is fully produced (faster than real time) but its audio is still being paced
    out when the client goes: the store keeps the part that was sent, marked incomplete."""
    h = Remembering(tts=FakeTTS(seconds_per_word=0.3), llm=FakeLLM("one two three four five six seven eight. " * 3))
    h.session.config = h.session.config.with_(output_modalities=("audio",))
    await h.start()
    try:
        await h.feed(tone(0.8))
        await h.feed(quiet(0.8))
        await h.until(lambda e: e["type"] == "response.output_audio.delta")
        await asyncio.sleep(1.0)
        assert h.session._reply is not None and h.session._reply.ended.is_set()  # all produced, not all sent
        await h.session.aclose()
        assistant = [i for i in await h.stored() if i["role"] == "assistant"][0]
        assert assistant["status"] == "incomplete"
        assert 0 < len(assistant["text"].split()) < 24
    finally:
        await h.aclose()


async def prompt_sizes(memory: MemorySettings, turns: int) -> list[int]:
    """``prompt_tokens`` of each reply's ``voxloop.metrics`` over ``turns`` turns; checks that
    it is the size of the messages the model was given."""
    h = Remembering(memory)
    h.session.config = h.session.config.with_(voxloop_events=True)
    await h.start()
    try:
        sizes: list[int] = []
        for n in range(turns):
            question = f"Question number {n}: tell me a long story about the sea and its ships."
            done = await h.turn(question)
            metrics = await h.until(lambda e, rid=done["response"]["id"]: e["type"] == "voxloop.metrics"
                                    and e["response_id"] == rid)
            request = next(r for r in reversed(h.llm.requests) if r[-1].content == question)  # not a cache warm-up
            assert metrics["metrics"]["prompt_tokens"] == sum(h.llm.count_tokens(m.content) + 4 for m in request)
            sizes.append(metrics["metrics"]["prompt_tokens"])
        return sizes
    finally:
        await h.aclose()


async def test_summary_lines_about_the_turn_join_it_as_a_note() -> None:
    h = Remembering(MemorySettings(summary_after_turns=3, keep_turns=1))
    await h.start()
    try:
        await h.script(SUMMARISED)
        await h.turn("What is my name?")
        request = next(r for r in reversed(h.llm.requests) if r[-1].content == "What is my name?")
        assert request[-2].role == "system" and "The user's name is Ada." in request[-2].content
    finally:
        await h.aclose()


async def test_metrics_carry_the_size_of_each_prompt_and_summaries_bound_it() -> None:
    without = await prompt_sizes(MemorySettings(summary="off"), 8)
    assert all(a < b for a, b in zip(without, without[1:], strict=False))  # grows every turn (under the budget)
    summarised = await prompt_sizes(MemorySettings(summary_after_turns=3, keep_turns=1), 8)
    assert summarised[:3] == without[:3]
    assert max(summarised[3:]) == max(summarised[3:5]) < without[-1] / 2  # stopped growing


def test_a_reply_whose_model_cannot_count_reports_no_prompt_size() -> None:
    from voxloop.errors import BackendUnavailable
    from voxloop.session.reply import Reply

    class Broken(FakeLLM):
        def count_tokens(self, text: str) -> int:
            raise BackendUnavailable("no model")

    reply = Reply(None, Broken(), FakeTTS(), [ChatMessage("user", "Hi.")], LLMOptions(), TTSOptions())  # type: ignore[arg-type]
    assert reply.prompt_tokens() is None
    reply = Reply(None, FakeLLM(), FakeTTS(), [ChatMessage("system", "Be brief."), ChatMessage("user", "Hi.")],  # type: ignore[arg-type]
                  LLMOptions(), TTSOptions())
    assert reply.prompt_tokens() == (9 // 4 + 4) + (1 + 4)  # the fake counts 4 characters a token
