"""``voxloop memory list|forget`` on a real SQLite store file."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from voxloop.cli.main import main
from voxloop.store.base import ConversationRecord, Fact
from voxloop.store.sqlite import SQLiteStore


def seed(db: Path) -> None:
    async def run() -> None:
        store = SQLiteStore(db)
        try:
            await store.create(ConversationRecord("sess_1", user="ada", created_at=1.0))
            await store.add_fact(Fact("fact_1", "ada", "The user's name is Ada.", "name", "item_1", "sess_1", 1.0))
            await store.add_fact(Fact("fact_2", "ada", "The user likes jazz.", None, "item_2", "sess_1", 2.0))
            await store.add_fact(Fact("fact_3", "bob", "The user likes tea.", None, "item_3", "sess_2", 2.0))
        finally:
            await store.aclose()

    asyncio.run(run())


def test_list_and_forget(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "voxloop.db"
    seed(db)
    store = ["--store", f"sqlite:{db}"]
    assert main(["memory", "list", "--user", "ada", "--json", *store]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["text"] for r in rows] == ["The user's name is Ada.", "The user likes jazz."]
    assert rows[0]["source_item_id"] == "item_1"
    assert main(["memory", "forget", "--user", "ada", "fact_1", *store]) == 0
    assert main(["memory", "forget", "--user", "ada", "fact_1", *store]) == 1  # gone already
    assert "no fact 'fact_1'" in capsys.readouterr().err
    assert main(["memory", "forget", "--user", "ada", *store]) == 1  # needs an id or --all
    assert main(["memory", "forget", "--user", "ada", "--all", *store]) == 0
    assert "records deleted" in capsys.readouterr().out
    assert main(["memory", "list", "--user", "ada", *store]) == 0
    assert "nothing remembered" in capsys.readouterr().err
    assert main(["memory", "list", "--user", "bob", *store]) == 0  # another user's facts stay
    assert "The user likes tea." in capsys.readouterr().out
    assert main(["memory", "list", "--user", "ada", "--store", "memory"]) == 1
