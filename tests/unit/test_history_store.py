"""Conversation items as a store keeps them: order (seq), JSON round trip, summaries, notes."""

from __future__ import annotations

from voxloop.dialogue.history import SUMMARY_HEADER, Conversation, Item
from voxloop.session.events import new_id


def count(text: str) -> int:
    return max(1, len(text) // 4)


def test_ids_are_random_and_unguessable() -> None:
    ids = {new_id("item") for _ in range(1000)}
    assert len(ids) == 1000
    assert all(len(i) == len("item_") + 20 for i in ids)
    assert len(new_id("sess", 16)) == len("sess_") + 32


def test_seq_orders_appends_inserts_and_firsts() -> None:
    c = Conversation()
    a = c.add("user", "a")
    b = c.add("assistant", "b")
    mid = c.add("user", "between", after=a.id)
    first = c.add("system", "first", first=True)
    assert [i.id for i in c.items] == [first.id, a.id, mid.id, b.id]
    seqs = [i.seq for i in c.items]
    assert seqs == sorted(seqs) and len(set(seqs)) == 4


def test_item_json_round_trip() -> None:
    for item in (Item("user", "hello", audio=True, status="incomplete", seq=3.5),
                 Item("assistant", "", type="function_call", call_id="c1", name="f", arguments='{"x": 1}'),
                 Item("user", "42", type="function_call_output", call_id="c1", name="f")):
        back = Item.from_dict(item.to_dict(), item.seq)
        assert back == item


def test_from_dict_tolerates_junk() -> None:
    item = Item.from_dict({"role": "robot", "text": 5, "status": "??", "type": "x"})
    assert item.role == "user" and item.text == "" and item.status == "completed" and item.type == "message"
    assert item.id.startswith("item_")


def test_summary_hides_the_items_it_covers_and_joins_the_system_prompt() -> None:
    c = Conversation("Be brief.")
    old = [c.add("user", f"old question {i}") for i in range(3)]
    new = c.add("user", "new question")
    c.set_summary("The user asked three old questions.", old[-1].id)
    c.notes = "The user's name is Ada."
    msgs = c.messages(1000, count)
    assert msgs[0].role == "system"
    assert msgs[0].content == f"Be brief.\n\nThe user's name is Ada.\n\n{SUMMARY_HEADER} The user asked three old questions."
    assert [m.content for m in msgs[1:]] == [new.text]
    assert c.get(old[0].id) is not None  # still retrievable
    c.remove(old[-1].id)  # deleting the last summarised item does not bring the older ones back
    assert [m.content for m in c.messages(1000, count)[1:]] == [new.text]


def test_restore_sorts_by_seq_and_keeps_the_summary() -> None:
    c = Conversation()
    items = [Item("user", "b", seq=2.0), Item("user", "a", seq=1.0), Item("user", "c", seq=3.0)]
    c.restore(items, "sum", items[1].id)
    assert [i.text for i in c.items] == ["a", "b", "c"]
    assert [m.content for m in c.messages(1000, count)] == [f"{SUMMARY_HEADER} sum", "b", "c"]
    assert c.add("user", "d").seq == 4.0
