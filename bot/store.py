"""The log: one SQLite file, behind a small interface.

What is stored is pseudonymous: a keyed hash of the sender (never a phone number or a
chat id) and the message text after redaction. Editors read it for the unanswered
questions and the "did this help?" answers; everything is purged after the retention
period and erased on request.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import re
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import aiosqlite

from .noise import logged_kind
from .files import private_database
from .redaction import redact

SCHEMA_VERSION = 1
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,              -- UTC, ISO 8601
    channel TEXT NOT NULL,
    sender TEXT NOT NULL,          -- keyed hash, never a raw id
    text TEXT NOT NULL,            -- redacted
    outcome TEXT NOT NULL,
    topic TEXT,
    score REAL NOT NULL DEFAULT 0,
    options TEXT NOT NULL DEFAULT '[]',
    kind TEXT
);
CREATE INDEX IF NOT EXISTS messages_at ON messages (at);
CREATE INDEX IF NOT EXISTS messages_sender ON messages (sender);
CREATE INDEX IF NOT EXISTS messages_outcome ON messages (outcome, at);
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY,
    message_id INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    at TEXT NOT NULL,
    sender TEXT NOT NULL,
    helpful INTEGER NOT NULL,
    UNIQUE (message_id, sender)
);
CREATE TABLE IF NOT EXISTS opt_outs (sender TEXT PRIMARY KEY, channel TEXT NOT NULL, at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS deliveries (
    channel TEXT NOT NULL,
    delivery_id TEXT NOT NULL,     -- the channel's message id (Twilio MessageSid, Telegram update id)
    sender TEXT NOT NULL,
    reply TEXT NOT NULL,           -- what we answered, so a retry gets the same reply
    at TEXT NOT NULL,
    PRIMARY KEY (channel, delivery_id)
);
-- The editors' triage of unanswered questions (bot/editors/triage.py): every action, undoable.
CREATE TABLE IF NOT EXISTS editor_actions (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    editor TEXT NOT NULL,          -- who: the CLI user, or the page and a tag of the session
    action TEXT NOT NULL,          -- add-phrasing, out-of-scope, not-send, dismiss, needs-answer, undo
    entry TEXT,                    -- the knowledge entry it touched, if any
    detail TEXT NOT NULL,          -- JSON: message ids, their previous triage, phrasings written
    undone_by INTEGER
);
CREATE TABLE IF NOT EXISTS triage (
    message_id INTEGER PRIMARY KEY REFERENCES messages (id) ON DELETE CASCADE,
    state TEXT NOT NULL,           -- noise, not-send, out-of-scope, phrasing, gap
    entry TEXT,
    action_id INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS question_vectors (  -- sentence vectors of unanswered questions, for grouping
    message_id INTEGER PRIMARY KEY REFERENCES messages (id) ON DELETE CASCADE,
    model TEXT NOT NULL,
    vector BLOB NOT NULL
);
"""


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


_LONE_SURROGATES = re.compile("[\ud800-\udfff]")


def storable(text: str) -> str:
    """Text SQLite can hold: a lone surrogate (undecodable stdin bytes, a JSON "\\udcff") would make the INSERT raise."""
    return _LONE_SURROGATES.sub("\ufffd", text)


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class LogRecord:
    channel: str
    sender: str
    text: str  # raw; redacted by the store before it is written
    outcome: str
    topic: str | None = None
    score: float = 0.0
    options: tuple[str, ...] = ()
    kind: str | None = None
    at: dt.datetime | None = None


class Store(Protocol):
    """What the bot needs from storage. SQLiteStore is the one implementation."""

    async def log(self, record: LogRecord) -> int: ...
    async def record_feedback(self, message_id: int, sender: str, helpful: bool) -> bool: ...
    async def forget(self, sender: str) -> int: ...
    async def purge(self, older_than_days: int) -> int: ...
    async def set_opted_out(self, sender: str, channel: str, opted_out: bool) -> None:
        if opted_out:
            await self._write("INSERT OR REPLACE INTO opt_outs (sender, channel, at) VALUES (?, ?, ?)",
                              (sender, channel, _iso(utcnow())))
            self._opted_out.add(sender)
        else:
            await self._write("DELETE FROM opt_outs WHERE sender = ?", (sender,))
            self._opted_out.discard(sender)

    async def is_opted_out(self, sender: str) -> bool:
        return sender in self._opted_out

    async def recall_delivery(self, channel: str, delivery_id: str) -> str | None: ...
    async def remember_delivery(self, channel: str, delivery_id: str, sender: str, reply: str) -> None: ...


RECENT_DELIVERIES = 50_000  # replies kept in memory for retries: days of traffic at council scale
RETRY_WINDOW = dt.timedelta(days=2)  # Twilio retries within seconds or minutes; two days is ample
CHECKPOINT_RETRY_SECONDS = 0.5  # while a reader holds the WAL, erased text stays in it: try again until it folds
CHECKPOINT_RETRIES = 1200  # ten minutes; an editors' report holds a read for a second or two


def default_db_path() -> Path:
    return Path("data") / "signpost.sqlite3"


class SQLiteStore:
    """aiosqlite on one connection; a lock makes each transaction whole.

    Tasks sharing one connection share its transaction, so without the lock one task's
    commit would commit another's half-done write.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._db: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()
        # A copy of opt_outs: every SMS asks, few senders are in it, and one process owns the file.
        self._opted_out: set[str] = set()
        # Recent deliveries, so a new message's "is this a retry?" needs no trip to the file:
        # (channel, delivery_id) -> (sender, reply, at). When something had to be evicted,
        # `_recent_complete` is False and a miss is looked up in the file after all.
        self._recent: OrderedDict[tuple[str, str], tuple[str, str, str]] = OrderedDict()
        self._recent_complete = True
        self._folding: asyncio.Task | None = None  # a checkpoint retried after a reader held the WAL

    async def open(self) -> "SQLiteStore":
        private_database(self.path)  # 0600 before SQLite makes its -wal and -shm (which copy the mode)
        self._db = await aiosqlite.connect(self.path, isolation_level=None)
        self._db.row_factory = aiosqlite.Row
        # WAL persists in the file; synchronous, busy_timeout and foreign keys reset per connection.
        # secure_delete zeroes erased rows (FORGET, purge); Debian's SQLite does it by default, others do not.
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=5000", "foreign_keys=ON",
                       "secure_delete=ON"):
            await self._db.execute(f"PRAGMA {pragma}")
        await self._migrate()
        rows = await (await self.db.execute("SELECT sender FROM opt_outs")).fetchall()
        self._opted_out = {row[0] for row in rows}
        await self._load_recent_deliveries()
        if os.name == "posix":
            os.chmod(self.path, 0o600)  # family messages: readable by the service account only
        return self

    async def close(self) -> None:
        if self._folding is not None:
            self._folding.cancel()
        if self._db is not None:
            await self._db.close()
            self._db = None

    async def __aenter__(self) -> "SQLiteStore":
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def db(self) -> aiosqlite.Connection:
        if self._db is None:
            raise RuntimeError("the store is not open")
        return self._db

    async def _migrate(self) -> None:
        async with self._lock:
            await self.db.executescript(SCHEMA)
            row = await (await self.db.execute("SELECT value FROM meta WHERE key = 'schema_version'")).fetchone()
            version = int(row[0]) if row else 0
            if version > SCHEMA_VERSION:
                raise RuntimeError(f"{self.path} has schema version {version}; this bot knows up to {SCHEMA_VERSION}")
            await self.db.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )

    async def _transaction(self, statements: list[tuple[str, tuple]]) -> list[aiosqlite.Cursor]:
        """Run statements as one whole transaction, under the lock."""
        async with self._lock:
            await self.db.execute("BEGIN IMMEDIATE")
            try:
                cursors = [await self.db.execute(sql, params) for sql, params in statements]
                await self.db.execute("COMMIT")
                return cursors
            except BaseException:
                await self.db.execute("ROLLBACK")
                raise

    async def _write(self, sql: str, params: tuple = ()) -> aiosqlite.Cursor:
        """One statement: SQLite's autocommit makes it atomic, one trip to the database thread
        instead of three (BEGIN, the statement, COMMIT)."""
        async with self._lock:
            return await self.db.execute(sql, params)

    async def log(self, record: LogRecord) -> int:
        cursor = await self._write(
            "INSERT INTO messages (at, channel, sender, text, outcome, topic, score, options, kind)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (_iso(record.at or utcnow()), record.channel, record.sender, storable(redact(record.text)), record.outcome,
             record.topic, float(record.score), json.dumps(list(record.options)),
             logged_kind(record.outcome, record.kind, record.text)),  # "exit", "1", "thanks x": not gaps
        )
        return int(cursor.lastrowid or 0)

    async def record_feedback(self, message_id: int, sender: str, helpful: bool) -> bool:
        """Store a "did this help?" answer against the sender's own logged answer; the latest one counts."""
        cursor = await self._write(
            "INSERT INTO feedback (message_id, at, sender, helpful)"
            " SELECT id, ?, ?, ? FROM messages WHERE id = ? AND sender = ?"
            " ON CONFLICT (message_id, sender) DO UPDATE SET helpful = excluded.helpful, at = excluded.at",
            (_iso(utcnow()), sender, int(helpful), message_id, sender),
        )
        return cursor.rowcount > 0

    async def forget(self, sender: str) -> int:
        """Erase everything kept about one sender; returns the number of rows removed."""
        tables = ("feedback", "messages", "opt_outs")
        self._opted_out.discard(sender)
        self._blank_recent(lambda kept_sender, at: kept_sender == sender)
        # Deliveries keep their id with no sender and no reply, so a replayed request is known and brings nothing back.
        blank = ("UPDATE deliveries SET sender = '', reply = '' WHERE sender = ?", (sender,))
        return await self._delete([(f"DELETE FROM {t} WHERE sender = ?", (sender,)) for t in tables] + [blank])  # noqa: S608

    async def purge(self, older_than_days: int) -> int:
        """Delete rows older than the retention period (opt-outs are kept: they must be honoured)."""
        cutoff = _iso(utcnow() - dt.timedelta(days=older_than_days))
        tables = ("feedback", "messages", "deliveries", "editor_actions")
        self._drop_recent(lambda sender, at: at >= cutoff)
        # A reply is kept only as long as Twilio may retry; the id stays until the cutoff to spot replays.
        stale = _iso(utcnow() - RETRY_WINDOW)
        self._blank_recent(lambda sender, at: at < stale)
        await self._write("UPDATE deliveries SET sender = '', reply = '' WHERE at < ? AND reply != ''", (stale,))
        return await self._delete([(f"DELETE FROM {t} WHERE at < ?", (cutoff,)) for t in tables])  # noqa: S608

    async def _delete(self, statements: list[tuple[str, tuple]]) -> int:
        removed = sum(cursor.rowcount for cursor in await self._transaction(statements))
        await self._checkpoint()
        return removed

    async def _checkpoint(self) -> None:
        """Fold the WAL back into the file so erased text does not linger in it.

        A reader on another connection (a report) keeps the WAL busy; then keep trying in the
        background, without waiting on the busy handler, until the fold succeeds.
        """
        if not await self._try_checkpoint() and (self._folding is None or self._folding.done()):
            self._folding = asyncio.get_running_loop().create_task(self._checkpoint_later())

    async def _try_checkpoint(self) -> bool:
        async with self._lock:
            await self.db.execute("PRAGMA busy_timeout=0")
            try:
                row = await (await self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")).fetchone()
            finally:
                await self.db.execute("PRAGMA busy_timeout=5000")
        return row is None or row[0] == 0

    async def _checkpoint_later(self) -> None:
        for _ in range(CHECKPOINT_RETRIES):
            await asyncio.sleep(CHECKPOINT_RETRY_SECONDS)
            if self._db is None or await self._try_checkpoint():
                return

    async def set_opted_out(self, sender: str, channel: str, opted_out: bool) -> None:
        if opted_out:
            await self._write("INSERT OR REPLACE INTO opt_outs (sender, channel, at) VALUES (?, ?, ?)",
                              (sender, channel, _iso(utcnow())))
        else:
            await self._write("DELETE FROM opt_outs WHERE sender = ?", (sender,))

    async def is_opted_out(self, sender: str) -> bool:
        async with self._lock:
            row = await (await self.db.execute("SELECT 1 FROM opt_outs WHERE sender = ?", (sender,))).fetchone()
        return row is not None

    async def _load_recent_deliveries(self) -> None:
        since = _iso(utcnow() - RETRY_WINDOW)
        rows = await (await self.db.execute(
            "SELECT channel, delivery_id, sender, reply, at FROM deliveries WHERE at >= ? ORDER BY at DESC LIMIT ?",
            (since, RECENT_DELIVERIES + 1),
        )).fetchall()
        self._recent_complete = len(rows) <= RECENT_DELIVERIES
        for channel, delivery_id, sender, reply, at in reversed(rows[:RECENT_DELIVERIES]):
            self._recent[(channel, delivery_id)] = (sender, reply, at)

    def _keep_recent(self, key: tuple[str, str], sender: str, reply: str, at: str) -> None:
        self._recent.setdefault(key, (sender, reply, at))
        while len(self._recent) > RECENT_DELIVERIES:
            self._recent.popitem(last=False)
            self._recent_complete = False

    async def recall_delivery(self, channel: str, delivery_id: str) -> str | None:
        kept = self._recent.get((channel, delivery_id))
        if kept is not None:
            return kept[1]
        if self._recent_complete:  # every recent delivery is in memory: this one is new
            return None
        async with self._lock:
            row = await (await self.db.execute(
                "SELECT reply FROM deliveries WHERE channel = ? AND delivery_id = ?", (channel, delivery_id)
            )).fetchone()
        return row[0] if row else None

    async def remember_delivery(self, channel: str, delivery_id: str, sender: str, reply: str) -> None:
        at = _iso(utcnow())
        await self._write(
            "INSERT OR IGNORE INTO deliveries (channel, delivery_id, sender, reply, at) VALUES (?, ?, ?, ?, ?)",
            (channel, delivery_id, sender, reply, at),
        )
        self._keep_recent((channel, delivery_id), sender, reply, at)

    def _blank_recent(self, blank) -> None:
        for key, (sender, _, at) in list(self._recent.items()):
            if blank(sender, at):
                self._recent[key] = ("", "", at)

    def _drop_recent(self, keep) -> None:
        for key in [k for k, (sender, _, at) in self._recent.items() if not keep(sender, at)]:
            del self._recent[key]
