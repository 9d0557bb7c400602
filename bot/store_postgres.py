"""The log on PostgreSQL (asyncpg, a small pool): for several workers, or several councils, on one database.

Everything a conversation needs between two messages lives here, not in a worker's memory,
so any number of workers give the same answers as one: sessions (clarify choices, MORE),
deliveries (a retried MessageSid gets the first reply and one row, decided by the primary
key inside the transaction, never by a read before the write), rate-limit windows (a row
locked for the update) and opt-outs. Each store is bound to one tenant; every row it writes
carries it and every read filters on it.

Migrations run under a transaction-scoped advisory lock, so workers starting together do not
race. Commits are PostgreSQL's own (synchronous_commit on): a webhook is answered only after
its rows' transaction has committed.
"""
from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import re
import time
from dataclasses import dataclass
from typing import Any, AsyncIterator, Sequence

import asyncpg

from .group_commit import GroupCommit
from .store import RETRY_WINDOW, Delivery, LogRecord, LogWriter, _iso, log_row, utcnow
from .store_schema import POSTGRES, SCHEMA_VERSION, VERSIONS_TABLE

POOL_MIN, POOL_MAX = 1, 8  # per worker: one for the group commit, the rest for the reads of webhooks in flight
MIGRATION_LOCK = 0x5E7D  # pg_advisory_xact_lock key: one worker migrates, the others wait
RETRIES = 5  # a deadlock between two workers' batches (same ids, other order) is retried
_PLACEHOLDER = re.compile(r"\?")

LOG_INSERT = ("INSERT INTO messages (at, channel, sender, text, outcome, topic, score, options, kind, tenant)"
              " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")


def numbered(sql: str) -> str:
    """`?` placeholders (the SQLite spelling) as PostgreSQL's $1, $2, ..."""
    counter = iter(range(1, 10_000))
    return _PLACEHOLDER.sub(lambda _: f"${next(counter)}", sql)


class PostgresStore:
    shares_state = True

    def __init__(self, url: str, tenant: str = "", pool: asyncpg.Pool | None = None) -> None:
        self.url = url
        self.tenant = tenant
        self._pool = pool
        self._owns_pool = pool is None
        self._commits: GroupCommit[Delivery, str] = GroupCommit(self._flush_deliveries)

    async def open(self) -> "PostgresStore":
        if self._pool is None:
            self._pool = await asyncpg.create_pool(self.url, min_size=POOL_MIN, max_size=POOL_MAX,
                                                   command_timeout=30)
        await self._migrate()
        return self

    def for_tenant(self, tenant: str) -> "PostgresStore":
        """Another council's view of the same database, sharing this store's pool."""
        return PostgresStore(self.url, tenant, self.pool)

    async def close(self) -> None:
        await self._commits.drain()
        if self._pool is not None and self._owns_pool:
            await self._pool.close()
        self._pool = None

    async def __aenter__(self) -> "PostgresStore":
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("the store is not open")
        return self._pool

    # ------------------------------------------------------------------ schema

    async def _migrate(self) -> None:
        async with self.pool.acquire() as db, db.transaction():
            await db.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
            await db.execute(VERSIONS_TABLE)
            applied = {r["version"] for r in await db.fetch("SELECT version FROM schema_versions")}
            if max(applied, default=0) > SCHEMA_VERSION:
                raise RuntimeError(f"the database has schema version {max(applied)}; this bot knows up to {SCHEMA_VERSION}")
            for migration in POSTGRES:
                if migration.version in applied:
                    continue
                for statement in migration.statements():
                    await db.execute(statement)
                await db.execute("INSERT INTO schema_versions (version, applied_at, description) VALUES ($1, $2, $3)",
                                 migration.version, _iso(utcnow()), migration.description)
            await db.execute("INSERT INTO meta (key, value) VALUES ('schema_version', $1)"
                             " ON CONFLICT (key) DO UPDATE SET value = excluded.value", str(SCHEMA_VERSION))

    # ------------------------------------------------------------------ reading and writing

    async def fetch(self, sql: str, *params: Any) -> list[tuple]:
        """Rows of a query with `?` placeholders, as tuples (the same call as on SQLite)."""
        rows = await self.pool.fetch(numbered(sql), *params)
        return [tuple(row.values()) for row in rows]

    async def read(self, sql: str, *params: Any) -> list[tuple]:
        """A query for the editors' reports, in a read-only transaction: a report can never write."""
        async with self.pool.acquire() as db, db.transaction(readonly=True):
            rows = await db.fetch(numbered(sql), *params)
        return [tuple(row.values()) for row in rows]

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[LogWriter]:
        """One whole transaction for the editors' triage, on one pooled connection."""
        async with self.pool.acquire() as db, db.transaction():
            yield _PostgresWriter(db)

    async def log(self, record: LogRecord) -> int:
        return int(await self.pool.fetchval(LOG_INSERT + " RETURNING id", *log_row(record, self.tenant)))

    async def record_feedback(self, message_id: int, sender: str, helpful: bool) -> bool:
        status = await self.pool.execute(
            "INSERT INTO feedback (message_id, at, sender, helpful, tenant)"
            " SELECT id, $1, $2, $3, tenant FROM messages WHERE id = $4 AND sender = $2 AND tenant = $5"
            " ON CONFLICT (message_id, sender) DO UPDATE SET helpful = excluded.helpful, at = excluded.at",
            _iso(utcnow()), sender, int(helpful), message_id, self.tenant)
        return _count(status) > 0

    async def forget(self, sender: str) -> int:
        async with self.pool.acquire() as db, db.transaction():
            removed = 0
            for table in ("feedback", "messages", "opt_outs"):
                removed += _count(await db.execute(f"DELETE FROM {table} WHERE sender = $1 AND tenant = $2",  # noqa: S608
                                                   sender, self.tenant))
            await db.execute("UPDATE deliveries SET sender = '', reply = '' WHERE sender = $1 AND tenant = $2",
                             sender, self.tenant)
            await db.execute("DELETE FROM sessions WHERE sender = $1 AND tenant = $2", sender, self.tenant)
        return removed

    async def purge(self, older_than_days: int) -> int:
        cutoff = _iso(utcnow() - dt.timedelta(days=older_than_days))
        stale = _iso(utcnow() - RETRY_WINDOW)
        async with self.pool.acquire() as db, db.transaction():
            await db.execute("UPDATE deliveries SET sender = '', reply = '' WHERE at < $1 AND reply != ''"
                             " AND tenant = $2", stale, self.tenant)
            removed = 0
            for table in ("feedback", "messages", "deliveries", "editor_actions"):
                removed += _count(await db.execute(f"DELETE FROM {table} WHERE at < $1 AND tenant = $2",  # noqa: S608
                                                   cutoff, self.tenant))
            await db.execute("DELETE FROM sessions WHERE expires < $1", time.time())
            await db.execute("DELETE FROM rate_windows WHERE touched < $1", time.time() - 86_400)
        return removed

    async def set_opted_out(self, sender: str, channel: str, opted_out: bool) -> None:
        if opted_out:
            await self.pool.execute(
                "INSERT INTO opt_outs (sender, channel, at, tenant) VALUES ($1, $2, $3, $4)"
                " ON CONFLICT (sender) DO UPDATE SET channel = excluded.channel, at = excluded.at",
                sender, channel, _iso(utcnow()), self.tenant)
        else:
            await self.pool.execute("DELETE FROM opt_outs WHERE sender = $1 AND tenant = $2", sender, self.tenant)

    async def is_opted_out(self, sender: str) -> bool:
        return await self.pool.fetchval("SELECT 1 FROM opt_outs WHERE sender = $1 AND tenant = $2",
                                        sender, self.tenant) is not None

    # ------------------------------------------------------------------ deliveries (retries)

    async def recall_delivery(self, channel: str, delivery_id: str) -> str | None:
        return await self.pool.fetchval("SELECT reply FROM deliveries WHERE channel = $1 AND delivery_id = $2",
                                        channel, delivery_id)

    async def remember_delivery(self, channel: str, delivery_id: str, sender: str, reply: str) -> None:
        await self.commit_delivery(Delivery(channel, delivery_id, sender, reply))

    async def commit_delivery(self, delivery: Delivery) -> str:
        return await self._commits.submit(delivery)

    async def claim_delivery(self, channel: str, delivery_id: str) -> bool:
        """True for the first worker with this id, False for every later one (a resent Telegram update)."""
        status = await self.pool.execute("INSERT INTO deliveries (channel, delivery_id, sender, reply, at, tenant)"
                                         " VALUES ($1, $2, '', '', $3, $4) ON CONFLICT DO NOTHING",
                                         channel, delivery_id, _iso(utcnow()), self.tenant)
        return _count(status) > 0

    async def _flush_deliveries(self, batch: Sequence[Delivery]) -> list[str]:
        for attempt in range(RETRIES):
            try:
                return await self._write_deliveries(batch)
            except asyncpg.DeadlockDetectedError:
                await asyncio.sleep(0.01 * (attempt + 1))
        return await self._write_deliveries(batch)

    async def _write_deliveries(self, batch: Sequence[Delivery]) -> list[str]:
        """One transaction: claim every id (the primary key decides; a claim another worker holds uncommitted
        waits for its commit or its rollback), log the winners' rows, read the losers' first replies."""
        at = _iso(utcnow())
        # The same order in every worker, so two batches with the same ids wait for each other instead of deadlocking.
        order = sorted(range(len(batch)), key=lambda i: (batch[i].channel, batch[i].delivery_id))
        replies: list[str] = [""] * len(batch)
        async with self.pool.acquire() as db, db.transaction():
            won = await db.fetch(
                "INSERT INTO deliveries (channel, delivery_id, sender, reply, at, tenant)"
                " SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])"
                " ON CONFLICT DO NOTHING RETURNING channel, delivery_id",
                *[[getattr(batch[i], f) for i in order] for f in ("channel", "delivery_id", "sender", "reply")],
                [at] * len(batch), [self.tenant] * len(batch))
            claimed = {(r["channel"], r["delivery_id"]) for r in won}
            rows, lost = [], []
            for i in order:
                key = (batch[i].channel, batch[i].delivery_id)
                if key in claimed:
                    claimed.discard(key)  # a second copy of the same id in this batch is a loser
                    replies[i] = batch[i].reply
                    rows.extend(log_row(r, self.tenant) for r in batch[i].records)
                else:
                    lost.append(i)
            if rows:
                await db.executemany(LOG_INSERT, rows)
            if lost:
                found = await db.fetch(
                    "SELECT channel, delivery_id, reply FROM deliveries"
                    " WHERE (channel, delivery_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))",
                    [batch[i].channel for i in lost], [batch[i].delivery_id for i in lost])
                first = {(r["channel"], r["delivery_id"]): r["reply"] for r in found}
                for i in lost:
                    replies[i] = first.get((batch[i].channel, batch[i].delivery_id), "")
        return replies

    # ------------------------------------------------------------------ per-sender state

    async def load_session(self, sender: str) -> dict | None:
        state = await self.pool.fetchval("SELECT state FROM sessions WHERE tenant = $1 AND sender = $2"
                                         " AND expires > $3", self.tenant, sender, time.time())
        return json.loads(state) if state else None

    async def save_session(self, sender: str, state: dict, ttl: float) -> None:
        await self.pool.execute(
            "INSERT INTO sessions (tenant, sender, state, expires) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT (tenant, sender) DO UPDATE SET state = excluded.state, expires = excluded.expires",
            self.tenant, sender, json.dumps(state), time.time() + ttl)

    async def rate_hit(self, name: str, sender: str, count: int, seconds: float) -> str:
        """One message in a sender's window, in one statement: the upsert locks the row, so two workers
        counting the same sender at once both count. `noticed` comes back as 0 (allowed), 1 (the one
        notice, now) or 2 (silence): the verdict without a second read."""
        row = await self.pool.fetchrow(RATE_HIT, self.tenant, name, sender, time.time(), float(seconds), count)
        return ("allow", "notice", "silent")[row["noticed"]]


@dataclass(frozen=True)
class _PostgresWriter:
    db: asyncpg.Connection

    async def fetch(self, sql: str, *params: Any) -> list[tuple]:
        return [tuple(row.values()) for row in await self.db.fetch(numbered(sql), *params)]

    async def execute(self, sql: str, *params: Any) -> int:
        return _count(await self.db.execute(numbered(sql), *params))

    async def executemany(self, sql: str, rows: Sequence[tuple]) -> None:
        await self.db.executemany(numbered(sql), rows)


# The window's times kept (those within `seconds` of now), then: room left -> this message is added and
# allowed; full -> the first time a notice (1), after that silence (2), until the window has room again.
_KEPT = "(SELECT coalesce(jsonb_agg(t::float8), '[]'::jsonb) FROM jsonb_array_elements_text(w.times::jsonb) t" \
        " WHERE t::float8 > $4 - $5)"
RATE_HIT = f"""
INSERT INTO rate_windows AS w (tenant, name, sender, times, noticed, touched)
VALUES ($1, $2, $3, CASE WHEN $6 > 0 THEN jsonb_build_array($4::float8)::text ELSE '[]' END,
        CASE WHEN $6 > 0 THEN 0 ELSE 1 END, $4)
ON CONFLICT (tenant, name, sender) DO UPDATE SET
    times = CASE WHEN jsonb_array_length({_KEPT}) < $6 THEN ({_KEPT} || jsonb_build_array($4::float8))::text
                 ELSE {_KEPT}::text END,
    noticed = CASE WHEN jsonb_array_length({_KEPT}) < $6 THEN 0 WHEN w.noticed = 0 THEN 1 ELSE 2 END,
    touched = $4
RETURNING noticed
"""


def _count(status: str) -> int:
    """The row count in asyncpg's command status ("DELETE 3", "INSERT 0 1")."""
    try:
        return int(status.rsplit(" ", 1)[-1])
    except (ValueError, IndexError):
        return 0
