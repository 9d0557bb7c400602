"""The log, behind a small interface: a SQLite file by default, PostgreSQL for several workers.

What is stored is pseudonymous: a keyed hash of the sender (never a phone number or a
chat id) and the message text after redaction. Editors read it for the unanswered
questions and the "did this help?" answers; everything is purged after the retention
period and erased on request.

`open_store(settings)` picks the store from SIGNPOST_DB: `postgresql://...` is PostgreSQL
(bot/store_postgres.py), anything else a SQLite file (a path, or `sqlite:///path`). Both
apply the same numbered migrations (bot/store_schema.py), carry the tenant on every row, and
write a webhook's log rows with its delivery row in one transaction, concurrent webhooks
committed together (bot/group_commit.py).
"""
from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import os
import re
import sqlite3
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncContextManager, AsyncIterator, Protocol, Sequence

import aiosqlite

from .files import private_database
from .group_commit import GroupCommit
from .noise import logged_kind
from .redaction import redact
from .store_schema import SCHEMA_VERSION, SQLITE, VERSIONS_TABLE, Migration

POSTGRES_SCHEMES = ("postgresql://", "postgres://")
SQLITE_SCHEME = "sqlite:///"


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


_LONE_SURROGATES = re.compile("[\ud800-\udfff]")


def storable(text: str) -> str:
    """Text SQLite can hold: a lone surrogate (undecodable stdin bytes, a JSON "\\udcff") would make the INSERT raise."""
    return _LONE_SURROGATES.sub("\ufffd", text)


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).isoformat(timespec="seconds")


def is_postgres_url(address: str) -> bool:
    return address.strip().lower().startswith(POSTGRES_SCHEMES)


def sqlite_path(address: str | Path) -> Path:
    """A SQLite location as a path: `sqlite:///data/x.db` is data/x.db, `sqlite:////srv/x.db` is /srv/x.db."""
    text = str(address)
    return Path(text[len(SQLITE_SCHEME):]) if text.lower().startswith(SQLITE_SCHEME) else Path(text)


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


def log_row(record: LogRecord, tenant: str) -> tuple:
    """The values of one messages row, redacted: (at, channel, sender, text, outcome, topic, score, options, kind, tenant)."""
    return (_iso(record.at or utcnow()), record.channel, record.sender, storable(redact(record.text)), record.outcome,
            record.topic, float(record.score), json.dumps(list(record.options)),
            logged_kind(record.outcome, record.kind, record.text), tenant)  # "exit", "1", "thanks x": not gaps


@dataclass(frozen=True)
class Delivery:
    """One webhook's writes: its log rows and the reply remembered under the channel's message id."""

    channel: str
    delivery_id: str
    sender: str
    reply: str
    records: tuple[LogRecord, ...] = ()


class LogWriter(Protocol):
    """The statements of one transaction, with `?` placeholders on both stores (the editors' triage)."""

    async def fetch(self, sql: str, *params: Any) -> list[tuple]: ...
    async def execute(self, sql: str, *params: Any) -> int: ...  # rows changed
    async def executemany(self, sql: str, rows: Sequence[tuple]) -> None: ...


class Store(Protocol):
    """What the bot needs from storage: SQLiteStore and PostgresStore."""

    tenant: str
    shares_state: bool  # True when several workers may use the same database (PostgreSQL)

    async def open(self) -> "Store": ...
    async def close(self) -> None: ...
    async def log(self, record: LogRecord) -> int: ...
    async def record_feedback(self, message_id: int, sender: str, helpful: bool) -> bool: ...
    async def forget(self, sender: str) -> int: ...
    async def purge(self, older_than_days: int) -> int: ...
    async def set_opted_out(self, sender: str, channel: str, opted_out: bool) -> None: ...
    async def is_opted_out(self, sender: str) -> bool: ...
    async def recall_delivery(self, channel: str, delivery_id: str) -> str | None: ...
    async def remember_delivery(self, channel: str, delivery_id: str, sender: str, reply: str) -> None: ...
    async def commit_delivery(self, delivery: Delivery) -> str: ...
    async def claim_delivery(self, channel: str, delivery_id: str) -> bool: ...
    async def load_session(self, sender: str) -> dict | None: ...
    async def save_session(self, sender: str, state: dict, ttl: float) -> None: ...
    async def rate_hit(self, name: str, sender: str, count: int, seconds: float) -> str: ...
    async def fetch(self, sql: str, *params: Any) -> list[tuple]: ...
    # The editors' reports and triage (bot/editors/), the same SQL on both stores:
    async def read(self, sql: str, *params: Any) -> list[tuple]: ...  # read-only, beside the live traffic
    def transaction(self) -> AsyncContextManager[LogWriter]: ...


RECENT_DELIVERIES = 50_000  # replies kept in memory for retries: days of traffic at council scale
RETRY_WINDOW = dt.timedelta(days=2)  # Twilio retries within seconds or minutes; two days is ample
CHECKPOINT_RETRY_SECONDS = 0.5  # while a reader holds the WAL, erased text stays in it: try again until it folds
CHECKPOINT_RETRIES = 1200  # ten minutes; an editors' report holds a read for a second or two


def default_db_path() -> Path:
    return Path("data") / "signpost.sqlite3"


def window_verdict(times: list[float], noticed: bool, now: float, count: int, seconds: float
                   ) -> tuple[str, list[float], bool]:
    """A rate-limit window after one more message at `now`: (verdict, times kept, noticed)."""
    times = [t for t in times if t > now - seconds]
    if len(times) < count:
        return "allow", [*times, now], False
    return ("silent" if noticed else "notice"), times, True


class SQLiteStore:
    """aiosqlite on one connection; a lock makes each transaction whole.

    Tasks sharing one connection share its transaction, so without the lock one task's
    commit would commit another's half-done write. One process owns the file, so sessions
    and rate-limit windows stay in that process's memory (`shares_state` is False).
    """

    shares_state = False

    def __init__(self, path: Path | str, tenant: str = "") -> None:
        self.path = sqlite_path(path)
        self.tenant = tenant
        self._db: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()
        # Recent deliveries, so a new message's "is this a retry?" needs no trip to the file:
        # (channel, delivery_id) -> (sender, reply, at). When something had to be evicted,
        # `_recent_complete` is False and a miss is looked up in the file after all.
        self._recent: OrderedDict[tuple[str, str], tuple[str, str, str]] = OrderedDict()
        self._recent_complete = True
        self._folding: asyncio.Task | None = None  # a checkpoint retried after a reader held the WAL
        self._reader: aiosqlite.Connection | None = None  # the editors' reads: a second, read-only connection
        self._reader_opening = asyncio.Lock()
        self._commits: GroupCommit[Delivery, str] = GroupCommit(self._flush_deliveries)
        # A copy of opt_outs: every SMS asks (for two keys), few senders are in it, and only this process writes it.
        self._opted_out: set[str] = set()

    async def open(self) -> "SQLiteStore":
        private_database(self.path)  # 0600 before SQLite makes its -wal and -shm (which copy the mode)
        self._db = await aiosqlite.connect(self.path, isolation_level=None)
        self._db.row_factory = aiosqlite.Row
        # WAL persists in the file; synchronous, busy_timeout and foreign keys reset per connection.
        # synchronous=FULL: a commit is on disk before the webhook is answered (group commit pays the fsync once
        # for many). secure_delete zeroes erased rows (FORGET, purge); Debian's SQLite does it by default, others do not.
        for pragma in ("journal_mode=WAL", "synchronous=FULL", "busy_timeout=5000", "foreign_keys=ON",
                       "secure_delete=ON"):
            await self._db.execute(f"PRAGMA {pragma}")
        await self._migrate()
        self._opted_out = {row[0] for row in await self.fetch("SELECT sender FROM opt_outs")}
        await self._load_recent_deliveries()
        if os.name == "posix":
            os.chmod(self.path, 0o600)  # family messages: readable by the service account only
        return self

    async def close(self) -> None:
        if self._folding is not None:
            self._folding.cancel()
        if self._reader is not None:
            await self._reader.close()
            self._reader = None
        if self._db is not None:
            await self._commits.drain()
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

    # ------------------------------------------------------------------ schema

    async def _migrate(self) -> None:
        async with self._lock:
            await self.db.execute("BEGIN IMMEDIATE")  # one process migrates at a time (the editors' CLI too)
            try:
                applied = await self._applied_versions()
                for migration in SQLITE:
                    if migration.version not in applied:
                        await self._apply(migration)
                await self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)",
                                      (str(SCHEMA_VERSION),))
                await self.db.execute("COMMIT")
            except BaseException:
                await self.db.execute("ROLLBACK")
                raise

    async def _applied_versions(self) -> set[int]:
        await self.db.execute(VERSIONS_TABLE)
        rows = await (await self.db.execute("SELECT version FROM schema_versions")).fetchall()
        applied = {int(r[0]) for r in rows}
        newest = max(applied, default=0)
        if newest > SCHEMA_VERSION:
            raise RuntimeError(f"{self.path} has schema version {newest}; this bot knows up to {SCHEMA_VERSION}")
        if not applied and await self._legacy_version() > SCHEMA_VERSION:
            raise RuntimeError(f"{self.path} is newer than this bot's schema")
        return applied

    async def _legacy_version(self) -> int:
        """The version a file from before `schema_versions` says it has (meta), 0 for a new file."""
        exists = await (await self.db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'")).fetchone()
        if not exists:
            return 0
        row = await (await self.db.execute("SELECT value FROM meta WHERE key = 'schema_version'")).fetchone()
        return int(row[0]) if row else 0

    async def _apply(self, migration: Migration) -> None:
        for statement in migration.statements():
            await self.db.execute(statement)
        await self.db.execute("INSERT INTO schema_versions (version, applied_at, description) VALUES (?, ?, ?)",
                              (migration.version, _iso(utcnow()), migration.description))

    # ------------------------------------------------------------------ writing

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

    async def fetch(self, sql: str, *params: Any) -> list[tuple]:
        """Rows of a query with `?` placeholders, as tuples (the tests and tools read the log through it)."""
        async with self._lock:
            rows = await (await self.db.execute(sql, params)).fetchall()
        return [tuple(row) for row in rows]

    async def read(self, sql: str, *params: Any) -> list[tuple]:
        """A query for the editors' reports on a second, read-only connection: WAL lets it read while the
        bot writes, so a report that takes a second never holds the lock the webhooks wait on, and cannot write."""
        async with self._reader_opening:
            if self._reader is None:
                self._reader = await aiosqlite.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True)
                await self._reader.execute("PRAGMA busy_timeout=5000")
        return [tuple(row) for row in await self._reader.execute_fetchall(sql, params)]

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[LogWriter]:
        """One whole transaction for the editors' triage, under the lock (a few short statements)."""
        async with self._lock:
            await self.db.execute("BEGIN IMMEDIATE")
            try:
                yield _SQLiteWriter(self.db)
            except BaseException:
                await self.db.execute("ROLLBACK")
                raise
            await self.db.execute("COMMIT")

    async def log(self, record: LogRecord) -> int:
        cursor = await self._write(
            "INSERT INTO messages (at, channel, sender, text, outcome, topic, score, options, kind, tenant)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", log_row(record, self.tenant))
        return int(cursor.lastrowid or 0)

    async def record_feedback(self, message_id: int, sender: str, helpful: bool) -> bool:
        """Store a "did this help?" answer against the sender's own logged answer; the latest one counts."""
        cursor = await self._write(
            "INSERT INTO feedback (message_id, at, sender, helpful, tenant)"
            " SELECT id, ?, ?, ?, tenant FROM messages WHERE id = ? AND sender = ? AND tenant = ?"
            " ON CONFLICT (message_id, sender) DO UPDATE SET helpful = excluded.helpful, at = excluded.at",
            (_iso(utcnow()), sender, int(helpful), message_id, sender, self.tenant),
        )
        return cursor.rowcount > 0

    async def forget(self, sender: str) -> int:
        """Erase everything kept about one sender; returns the number of rows removed."""
        tables = ("feedback", "messages", "opt_outs")
        self._blank_recent(lambda kept_sender, at: kept_sender == sender)
        # Deliveries keep their id with no sender and no reply, so a replayed request is known and brings nothing back.
        blank = ("UPDATE deliveries SET sender = '', reply = '' WHERE sender = ?", (sender,))
        wipe = [("DELETE FROM sessions WHERE sender = ?", (sender,))]
        removed = await self._delete([(f"DELETE FROM {t} WHERE sender = ?", (sender,)) for t in tables] + [blank],  # noqa: S608
                                     wipe)
        self._opted_out.discard(sender)  # only once the file agrees
        return removed

    async def purge(self, older_than_days: int) -> int:
        """Delete this tenant's rows older than its retention period (opt-outs are kept: they must be honoured)."""
        cutoff = _iso(utcnow() - dt.timedelta(days=older_than_days))
        tables = ("feedback", "messages", "deliveries", "editor_actions")
        self._drop_recent(lambda sender, at: at >= cutoff)
        # A reply is kept only as long as Twilio may retry; the id stays until the cutoff to spot replays.
        stale = _iso(utcnow() - RETRY_WINDOW)
        self._blank_recent(lambda sender, at: at < stale)
        await self._write("UPDATE deliveries SET sender = '', reply = '' WHERE at < ? AND reply != '' AND tenant = ?",
                          (stale, self.tenant))
        return await self._delete([(f"DELETE FROM {t} WHERE at < ? AND tenant = ?", (cutoff, self.tenant))  # noqa: S608
                                   for t in tables])

    async def _delete(self, statements: list[tuple[str, tuple]], uncounted: list[tuple[str, tuple]] = ()) -> int:
        cursors = await self._transaction(statements + list(uncounted))
        removed = sum(cursor.rowcount for cursor in cursors[:len(statements)])
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
            await self._write("INSERT OR REPLACE INTO opt_outs (sender, channel, at, tenant) VALUES (?, ?, ?, ?)",
                              (sender, channel, _iso(utcnow()), self.tenant))
            self._opted_out.add(sender)
        else:
            await self._write("DELETE FROM opt_outs WHERE sender = ?", (sender,))
            self._opted_out.discard(sender)

    async def is_opted_out(self, sender: str) -> bool:
        return sender in self._opted_out

    # ------------------------------------------------------------------ deliveries (retries)

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
        await self.commit_delivery(Delivery(channel, delivery_id, sender, reply))

    async def claim_delivery(self, channel: str, delivery_id: str) -> bool:
        """True for the first caller with this id, False for every later one (a resent Telegram update)."""
        cursor = await self._write("INSERT INTO deliveries (channel, delivery_id, sender, reply, at, tenant)"
                                   " VALUES (?, ?, '', '', ?, ?) ON CONFLICT DO NOTHING",
                                   (channel, delivery_id, _iso(utcnow()), self.tenant))
        return cursor.rowcount > 0

    async def commit_delivery(self, delivery: Delivery) -> str:
        """Write the delivery row and its log rows in one transaction, committed with whatever other webhooks
        are waiting; returns the reply remembered first under this id (ours, or an earlier delivery's)."""
        return await self._commits.submit(delivery)

    async def _flush_deliveries(self, batch: Sequence[Delivery]) -> list[str]:
        at = _iso(utcnow())
        # Redacted here: aiosqlite's debug log prints the call's arguments, and the raw text must never reach a log.
        rows = [(d.channel, d.delivery_id, d.sender, d.reply, [log_row(r, self.tenant) for r in d.records]) for d in batch]
        async with self._lock:
            # The whole batch in one call on aiosqlite's thread: one hop instead of one per statement.
            replies = await self.db._execute(_write_deliveries, self.db._conn, rows, at, self.tenant)
        for delivery, reply in zip(batch, replies):
            self._keep_recent((delivery.channel, delivery.delivery_id), delivery.sender, reply, at)
        return replies

    def _blank_recent(self, blank) -> None:
        for key, (sender, _, at) in list(self._recent.items()):
            if blank(sender, at):
                self._recent[key] = ("", "", at)

    def _drop_recent(self, keep) -> None:
        for key in [k for k, (sender, _, at) in self._recent.items() if not keep(sender, at)]:
            del self._recent[key]

    # ------------------------------------------------------------------ per-sender state

    async def load_session(self, sender: str) -> dict | None:
        rows = await self.fetch("SELECT state FROM sessions WHERE tenant = ? AND sender = ? AND expires > ?",
                                self.tenant, sender, time.time())
        return json.loads(rows[0][0]) if rows else None

    async def save_session(self, sender: str, state: dict, ttl: float) -> None:
        await self._write("INSERT INTO sessions (tenant, sender, state, expires) VALUES (?, ?, ?, ?)"
                          " ON CONFLICT (tenant, sender) DO UPDATE SET state = excluded.state, expires = excluded.expires",
                          (self.tenant, sender, json.dumps(state), time.time() + ttl))

    async def rate_hit(self, name: str, sender: str, count: int, seconds: float) -> str:
        """Count one message in a rate-limit window kept in the file (used where windows must survive the process)."""
        async with self._lock:
            return await self.db._execute(_rate_hit, self.db._conn, self.tenant, name, sender, count, seconds)


@dataclass(frozen=True)
class _SQLiteWriter:
    db: aiosqlite.Connection

    async def fetch(self, sql: str, *params: Any) -> list[tuple]:
        return [tuple(row) for row in await self.db.execute_fetchall(sql, params)]

    async def execute(self, sql: str, *params: Any) -> int:
        return (await self.db.execute(sql, params)).rowcount

    async def executemany(self, sql: str, rows: Sequence[tuple]) -> None:
        await self.db.executemany(sql, rows)


def _write_deliveries(db: sqlite3.Connection, batch: list[tuple[str, str, str, str, list[tuple]]], at: str,
                      tenant: str) -> list[str]:
    """On the database thread: every delivery of the batch and its (redacted) log rows, one transaction."""
    replies = []
    db.execute("BEGIN IMMEDIATE")
    try:
        for channel, delivery_id, sender, reply, rows in batch:
            won = db.execute("INSERT INTO deliveries (channel, delivery_id, sender, reply, at, tenant)"
                             " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING reply",
                             (channel, delivery_id, sender, reply, at, tenant)).fetchone()
            if won is None:  # a retry that raced the first delivery: the first reply stands, nothing is logged twice
                replies.append(db.execute("SELECT reply FROM deliveries WHERE channel = ? AND delivery_id = ?",
                                          (channel, delivery_id)).fetchone()[0])
                continue
            db.executemany("INSERT INTO messages (at, channel, sender, text, outcome, topic, score, options, kind,"
                           " tenant) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
            replies.append(reply)
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return replies


def _rate_hit(db: sqlite3.Connection, tenant: str, name: str, sender: str, count: int, seconds: float) -> str:
    now = time.time()
    db.execute("BEGIN IMMEDIATE")
    try:
        row = db.execute("SELECT times, noticed FROM rate_windows WHERE tenant = ? AND name = ? AND sender = ?",
                         (tenant, name, sender)).fetchone()
        times, noticed = (json.loads(row[0]), bool(row[1])) if row else ([], False)
        verdict, times, noticed = window_verdict(times, noticed, now, count, seconds)
        db.execute("INSERT INTO rate_windows (tenant, name, sender, times, noticed, touched) VALUES (?, ?, ?, ?, ?, ?)"
                   " ON CONFLICT (tenant, name, sender) DO UPDATE SET times = excluded.times,"
                   " noticed = excluded.noticed, touched = excluded.touched",
                   (tenant, name, sender, json.dumps(times), int(noticed), now))
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return verdict


async def open_store(address: str | Path, tenant: str = "") -> Store:
    """The store SIGNPOST_DB names, opened: PostgreSQL for a postgresql:// URL, else a SQLite file."""
    if is_postgres_url(str(address)):
        from .store_postgres import PostgresStore  # asyncpg only where PostgreSQL is used

        return await PostgresStore(str(address), tenant).open()
    return await SQLiteStore(address, tenant).open()
