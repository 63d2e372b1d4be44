"""The default store: one SQLite file (WAL), facts searched with FTS5 and ``bm25()``.

Every call runs on one dedicated thread (``voxloop-store``) that owns the only connection, so
the event loop never waits on the disk and SQLite never sees two threads.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from voxloop.errors import InvalidRequest, VoxloopError
from voxloop.store.base import ConversationRecord, Fact, StoredItem, changed_fields
from voxloop.store.rank import query_words

__all__ = ["SCHEMA_VERSION", "SQLiteStore", "fts_query"]

T = TypeVar("T")

# MIGRATIONS[n]: the statements that take a file from schema version n to n + 1.
MIGRATIONS: tuple[tuple[str, ...], ...] = ((
    """CREATE TABLE conversations (
        id TEXT PRIMARY KEY, user TEXT, created_at REAL NOT NULL, updated_at REAL NOT NULL,
        settings TEXT NOT NULL, summary TEXT NOT NULL, summary_through TEXT)""",
    "CREATE INDEX conversations_user ON conversations (user, updated_at)",
    "CREATE INDEX conversations_anonymous ON conversations (updated_at) WHERE user IS NULL",
    """CREATE TABLE items (
        conversation_id TEXT NOT NULL, item_id TEXT NOT NULL, seq REAL NOT NULL, data TEXT NOT NULL,
        PRIMARY KEY (conversation_id, item_id))""",
    "CREATE INDEX items_seq ON items (conversation_id, seq)",
    """CREATE TABLE tokens (
        token_hash TEXT PRIMARY KEY, conversation_id TEXT NOT NULL, expires_at REAL NOT NULL,
        revoked INTEGER NOT NULL DEFAULT 0)""",
    "CREATE INDEX tokens_conversation ON tokens (conversation_id)",
    "CREATE INDEX tokens_expiry ON tokens (expires_at)",
    """CREATE TABLE facts (
        n INTEGER PRIMARY KEY, id TEXT NOT NULL, user TEXT NOT NULL, key TEXT, text TEXT NOT NULL,
        source_item TEXT, conversation TEXT, created_at REAL NOT NULL, UNIQUE (user, id))""",
    "CREATE INDEX facts_key ON facts (user, key)",
    """CREATE VIRTUAL TABLE facts_fts USING fts5(
        text, content='facts', content_rowid='n', tokenize='unicode61 remove_diacritics 2')""",
    """CREATE TRIGGER facts_insert AFTER INSERT ON facts BEGIN
        INSERT INTO facts_fts (rowid, text) VALUES (new.n, new.text); END""",
    """CREATE TRIGGER facts_delete AFTER DELETE ON facts BEGIN
        INSERT INTO facts_fts (facts_fts, rowid, text) VALUES ('delete', old.n, old.text); END""",
),)
SCHEMA_VERSION = len(MIGRATIONS)

_CONVERSATION = "id, user, created_at, updated_at, settings, summary, summary_through"
_FACT = "facts.id, facts.user, facts.text, facts.key, facts.source_item, facts.conversation, facts.created_at"


def fts_query(text: str) -> str | None:
    """An FTS5 query matching any non-stopword of ``text`` (each one quoted); ``None`` if none."""
    terms = query_words(text)
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in terms) if terms else None


def _record(row: sqlite3.Row) -> ConversationRecord:
    settings: dict[str, Any] = json.loads(row["settings"])
    return ConversationRecord(row["id"], row["user"], row["created_at"], row["updated_at"],
                              settings, row["summary"], row["summary_through"])


def _fact(row: sqlite3.Row) -> Fact:
    return Fact(row["id"], row["user"], row["text"], row["key"], row["source_item"],
                row["conversation"], row["created_at"])


@contextmanager
def _transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        if db.in_transaction:  # SQLite may have rolled back already (disk full, …)
            db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def _migrate(db: sqlite3.Connection) -> None:
    with _transaction(db):
        db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        row = db.execute("SELECT version FROM schema_version").fetchone()
        version = 0 if row is None else int(row[0])
        if version > SCHEMA_VERSION:
            raise VoxloopError(f"the store was written by a newer voxloop (schema {version}; "
                               f"this one knows up to {SCHEMA_VERSION})", code="store_too_new")
        for step in MIGRATIONS[version:]:
            for statement in step:  # not executescript: it would commit the transaction
                db.execute(statement)
        if row is None:
            db.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
        else:
            db.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION,))


class SQLiteStore:
    """:class:`~voxloop.store.base.ConversationStore` in one SQLite file (created if missing)."""

    def __init__(self, path: str | Path, *, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self._clock = clock
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="voxloop-store")
        self._db: sqlite3.Connection | None = None
        self._closed = False

    # -- the worker thread ---------------------------------------------------------------
    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.touch(mode=0o600, exist_ok=True)  # user facts: owner only (-wal/-shm follow)
            db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            try:
                db.row_factory = sqlite3.Row
                db.execute("PRAGMA journal_mode = WAL")
                db.execute("PRAGMA synchronous = NORMAL")
                db.execute("PRAGMA busy_timeout = 5000")
                _migrate(db)
            except BaseException:
                db.close()
                raise
            self._db = db
        return self._db

    async def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        if self._closed:
            raise RuntimeError("the SQLite store is closed")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, lambda: work(self._connection()))

    # -- conversations -----------------------------------------------------------------
    async def create(self, record: ConversationRecord) -> None:
        created = record.created_at or self._clock()
        row = (record.id, record.user, created, record.updated_at or created,
               json.dumps(record.settings), record.summary, record.summary_through)

        def work(db: sqlite3.Connection) -> None:
            try:
                db.execute(f"INSERT INTO conversations ({_CONVERSATION}) VALUES (?, ?, ?, ?, ?, ?, ?)", row)
            except sqlite3.IntegrityError:
                raise InvalidRequest(f"conversation {record.id!r} already exists",
                                     code="conversation_exists") from None
        await self._run(work)

    async def get(self, conversation_id: str) -> ConversationRecord | None:
        def work(db: sqlite3.Connection) -> ConversationRecord | None:
            row = db.execute(f"SELECT {_CONVERSATION} FROM conversations WHERE id = ?",
                             (conversation_id,)).fetchone()
            return None if row is None else _record(row)
        return await self._run(work)

    async def update(self, conversation_id: str, *, user: str | None = None,
                     settings: dict[str, Any] | None = None, summary: str | None = None,
                     summary_through: str | None = None) -> None:
        changes: dict[str, Any] = {"updated_at": self._clock(), **({"user": user} if user is not None else {}),
                                   **changed_fields(settings, summary, summary_through)}
        assignments = ", ".join(f"{column} = ?" for column in changes)  # fixed column names only
        await self._run(lambda db: db.execute(f"UPDATE conversations SET {assignments} WHERE id = ?",
                                              (*changes.values(), conversation_id)))

    async def put_items(self, conversation_id: str, items: Sequence[StoredItem]) -> None:
        rows = [(conversation_id, item.id, item.seq, json.dumps(item.data)) for item in items]
        now = self._clock()

        def work(db: sqlite3.Connection) -> None:
            with _transaction(db):
                if db.execute("UPDATE conversations SET updated_at = ? WHERE id = ?",
                              (now, conversation_id)).rowcount:
                    db.executemany("INSERT INTO items (conversation_id, item_id, seq, data) "
                                   "VALUES (?, ?, ?, ?) ON CONFLICT DO UPDATE SET "
                                   "seq = excluded.seq, data = excluded.data", rows)
        await self._run(work)

    async def delete_items(self, conversation_id: str, item_ids: Sequence[str]) -> None:
        rows = [(conversation_id, item_id) for item_id in item_ids]
        now = self._clock()

        def work(db: sqlite3.Connection) -> None:
            with _transaction(db):
                if db.execute("UPDATE conversations SET updated_at = ? WHERE id = ?",
                              (now, conversation_id)).rowcount:
                    db.executemany("DELETE FROM items WHERE conversation_id = ? AND item_id = ?", rows)
        await self._run(work)

    async def items(self, conversation_id: str) -> list[StoredItem]:
        def work(db: sqlite3.Connection) -> list[StoredItem]:
            rows = db.execute("SELECT item_id, seq, data FROM items WHERE conversation_id = ? "
                              "ORDER BY seq, item_id", (conversation_id,)).fetchall()
            return [StoredItem(r["item_id"], r["seq"], json.loads(r["data"])) for r in rows]
        return await self._run(work)

    async def delete_conversation(self, conversation_id: str) -> None:
        def work(db: sqlite3.Connection) -> None:
            with _transaction(db):
                _delete_conversations(db, [conversation_id])
        await self._run(work)

    async def conversations(self, user: str) -> list[ConversationRecord]:
        def work(db: sqlite3.Connection) -> list[ConversationRecord]:
            rows = db.execute(f"SELECT {_CONVERSATION} FROM conversations WHERE user = ? "
                              "ORDER BY updated_at DESC, id", (user,)).fetchall()
            return [_record(r) for r in rows]
        return await self._run(work)

    # -- resume tokens -------------------------------------------------------------------
    async def put_token(self, token_hash: str, conversation_id: str, expires_at: float) -> None:
        await self._run(lambda db: db.execute(
            "INSERT OR REPLACE INTO tokens (token_hash, conversation_id, expires_at, revoked) "
            "VALUES (?, ?, ?, 0)", (token_hash, conversation_id, expires_at)))

    async def token_conversation(self, token_hash: str, now: float) -> str | None:
        def work(db: sqlite3.Connection) -> str | None:
            row = db.execute("SELECT conversation_id FROM tokens WHERE token_hash = ? "
                             "AND revoked = 0 AND expires_at > ?", (token_hash, now)).fetchone()
            return None if row is None else str(row[0])
        return await self._run(work)

    async def revoke_token(self, token_hash: str) -> bool:
        def work(db: sqlite3.Connection) -> bool:
            return db.execute("UPDATE tokens SET revoked = 1 WHERE token_hash = ? AND revoked = 0",
                              (token_hash,)).rowcount > 0
        return await self._run(work)

    # -- facts -------------------------------------------------------------------------------
    async def add_fact(self, fact: Fact) -> None:
        row = (fact.id, fact.user, fact.key, fact.text, fact.source_item, fact.conversation,
               fact.created_at or self._clock())

        def work(db: sqlite3.Connection) -> None:
            with _transaction(db):
                db.execute("DELETE FROM facts WHERE user = ? AND (id = ? OR key = ?)",
                           (fact.user, fact.id, fact.key))
                db.execute("INSERT INTO facts (id, user, key, text, source_item, conversation, "
                           "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)", row)
        await self._run(work)

    async def facts(self, user: str) -> list[Fact]:
        def work(db: sqlite3.Connection) -> list[Fact]:
            rows = db.execute(f"SELECT {_FACT} FROM facts WHERE user = ? ORDER BY created_at, id",
                              (user,)).fetchall()
            return [_fact(r) for r in rows]
        return await self._run(work)

    async def search_facts(self, user: str, query: str, limit: int) -> list[Fact]:
        match = fts_query(query)
        if match is None or limit <= 0:
            return []

        def work(db: sqlite3.Connection) -> list[Fact]:
            rows = db.execute(
                f"SELECT {_FACT} FROM facts_fts JOIN facts ON facts.n = facts_fts.rowid "
                "WHERE facts_fts MATCH ? AND facts.user = ? "
                "ORDER BY bm25(facts_fts), facts.created_at, facts.id LIMIT ?",
                (match, user, limit)).fetchall()
            return [_fact(r) for r in rows]
        return await self._run(work)

    async def delete_fact(self, user: str, fact_id: str) -> bool:
        def work(db: sqlite3.Connection) -> bool:
            return db.execute("DELETE FROM facts WHERE user = ? AND id = ?", (user, fact_id)).rowcount > 0
        return await self._run(work)

    async def forget_user(self, user: str) -> int:
        def work(db: sqlite3.Connection) -> int:
            with _transaction(db):
                facts = db.execute("DELETE FROM facts WHERE user = ?", (user,)).rowcount
                ids = [r[0] for r in db.execute("SELECT id FROM conversations WHERE user = ?", (user,))]
                _delete_conversations(db, ids)
            return facts + len(ids)
        return await self._run(work)

    # -- housekeeping ------------------------------------------------------------------------
    async def purge(self, now: float, anonymous_before: float) -> int:
        def work(db: sqlite3.Connection) -> int:
            with _transaction(db):
                db.execute("DELETE FROM tokens WHERE revoked = 1 OR expires_at <= ?", (now,))
                ids = [r[0] for r in db.execute(
                    "SELECT id FROM conversations WHERE user IS NULL AND updated_at < ?",
                    (anonymous_before,))]
                _delete_conversations(db, ids)
            return len(ids)
        return await self._run(work)

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True  # calls already queued still run, before the close

        def close() -> None:
            if self._db is not None:
                self._db.close()
                self._db = None
        await asyncio.get_running_loop().run_in_executor(self._executor, close)
        self._executor.shutdown(wait=False)


def _delete_conversations(db: sqlite3.Connection, ids: Sequence[str]) -> None:
    rows = [(i,) for i in ids]
    db.executemany("DELETE FROM items WHERE conversation_id = ?", rows)
    db.executemany("DELETE FROM tokens WHERE conversation_id = ?", rows)
    db.executemany("DELETE FROM conversations WHERE id = ?", rows)
