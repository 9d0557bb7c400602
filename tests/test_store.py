"""The stores against real databases: every behaviour on a SQLite file and on a real PostgreSQL server
(`any_store`), then what only SQLite has (WAL, the in-memory list of recent deliveries)."""
from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3
from pathlib import Path

import pytest

from bot.store import SCHEMA_VERSION, Delivery, LogRecord, SQLiteStore, open_store, utcnow


async def reopened(store):
    """The same database opened again, as after a restart (or by another worker)."""
    address = store.url if store.shares_state else store.path
    return await open_store(address, store.tenant)


async def test_schema_versions_are_recorded(any_store) -> None:
    """Opening applies every migration once and records each; opening again applies nothing new."""
    rows = await any_store.fetch("SELECT version FROM schema_versions ORDER BY version")
    assert [r[0] for r in rows] == list(range(1, SCHEMA_VERSION + 1))
    again = await reopened(any_store)
    await again.close()
    assert len(await any_store.fetch("SELECT version FROM schema_versions")) == SCHEMA_VERSION


async def test_log_is_redacted(any_store) -> None:
    """Personal details are redacted before the text is written."""
    await any_store.log(LogRecord("sms", "k", "call me on 07700 900123 about an ehcp", "answer", "ehcp-what-is", 0.9))
    [(text,)] = await any_store.fetch("SELECT text FROM messages")
    assert "07700" not in text and "ehcp" in text


async def test_feedback_only_on_own_answer(any_store) -> None:
    """Feedback attaches to the sender's own logged answer; the latest vote counts; others are refused."""
    row = await any_store.log(LogRecord("telegram", "k", "q", "answer", "t"))
    assert await any_store.record_feedback(row, "k", True)
    assert await any_store.record_feedback(row, "k", False)
    assert not await any_store.record_feedback(row, "someone-else", True)
    rows = await any_store.fetch("SELECT helpful FROM feedback")
    assert [r[0] for r in rows] == [0]


async def test_forget_erases_one_sender(any_store) -> None:
    """forget() removes every row of one sender and leaves the others."""
    mine = await any_store.log(LogRecord("sms", "me", "q", "answer", "t"))
    await any_store.record_feedback(mine, "me", True)
    await any_store.set_opted_out("me", "sms", True)
    await any_store.log(LogRecord("sms", "other", "q", "answer", "t"))
    assert await any_store.forget("me") == 3
    senders = await any_store.fetch("SELECT sender FROM messages")
    assert [r[0] for r in senders] == ["other"]


async def test_purge_removes_old_rows(any_store) -> None:
    """purge() deletes rows older than the retention period and keeps recent ones."""
    await any_store.log(LogRecord("sms", "k", "old", "answer", at=utcnow() - dt.timedelta(days=100)))
    await any_store.log(LogRecord("sms", "k", "new", "answer"))
    assert await any_store.purge(90) == 1
    texts = await any_store.fetch("SELECT text FROM messages")
    assert [r[0] for r in texts] == ["new"]


async def test_opt_out_round_trip(any_store) -> None:
    """An opt-out is remembered until it is lifted."""
    await any_store.set_opted_out("k", "sms", True)
    assert await any_store.is_opted_out("k")
    await any_store.set_opted_out("k", "sms", False)
    assert not await any_store.is_opted_out("k")


async def test_delivery_is_remembered_once(any_store) -> None:
    """A retried delivery id returns the first reply; the second write is ignored."""
    await any_store.remember_delivery("sms", "SM1", "k", "first")
    await any_store.remember_delivery("sms", "SM1", "k", "second")
    assert await any_store.recall_delivery("sms", "SM1") == "first"
    assert await any_store.recall_delivery("sms", "SM2") is None


async def test_delivery_survives_a_restart(any_store) -> None:
    """A delivery remembered before a restart is still recalled after it (Twilio may retry across one)."""
    await any_store.remember_delivery("sms", "SM9", "k", "reply nine")
    second = await reopened(any_store)
    try:
        assert await second.recall_delivery("sms", "SM9") == "reply nine"
        assert await second.recall_delivery("sms", "SM10") is None
    finally:
        await second.close()


async def test_forget_also_forgets_recent_deliveries(any_store) -> None:
    """After forget(), the sender's remembered replies are gone (the id stays, blank, to spot replays)."""
    await any_store.remember_delivery("sms", "SM1", "me", "mine")
    await any_store.remember_delivery("sms", "SM2", "other", "theirs")
    await any_store.forget("me")
    assert await any_store.recall_delivery("sms", "SM1") == ""
    assert await any_store.recall_delivery("sms", "SM2") == "theirs"


async def test_concurrent_deliveries_commit_together_and_the_first_reply_wins(any_store) -> None:
    """Concurrent webhooks go in one transaction; the same id twice in flight logs once and both get the first reply."""
    deliveries = [Delivery("twilio", f"SM{n}", f"k{n}", f"reply {n}", (LogRecord("sms", f"k{n}", f"q {n}", "answer"),))
                  for n in range(50)]
    twin = Delivery("twilio", "SM7", "k7", "another reply", (LogRecord("sms", "k7", "q 7 again", "answer"),))
    before = any_store._commits.batches
    replies = await asyncio.gather(*(any_store.commit_delivery(d) for d in [*deliveries, twin]))
    assert replies[:50] == [f"reply {n}" for n in range(50)]
    assert replies[50] == "reply 7"  # the retry gets the first delivery's reply
    assert any_store._commits.batches - before < 10  # fifty-one webhooks, a handful of transactions
    [(count,)] = await any_store.fetch("SELECT count(*) FROM messages")
    assert count == 50
    assert await any_store.fetch("SELECT text FROM messages WHERE sender = 'k7'") == [("q 7",)]


async def test_a_retry_on_another_connection_gets_the_first_reply(any_store) -> None:
    """Two stores on one database (two workers; for SQLite two processes in turn): one row, the first reply."""
    other = await reopened(any_store)
    try:
        first, second = await asyncio.gather(
            any_store.commit_delivery(Delivery("twilio", "SMX", "k", "from one", (LogRecord("sms", "k", "q", "answer"),))),
            other.commit_delivery(Delivery("twilio", "SMX", "k", "from two", (LogRecord("sms", "k", "q", "answer"),))))
    finally:
        await other.close()
    assert first == second and first in ("from one", "from two")
    assert await any_store.fetch("SELECT count(*) FROM messages") == [(1,)]


async def test_an_update_id_is_claimed_once(any_store) -> None:
    """A resent Telegram update: the first claim wins, on any connection; another bot's same id is its own."""
    other = await reopened(any_store)
    try:
        claims = await asyncio.gather(any_store.claim_delivery("telegram:", "77"), other.claim_delivery("telegram:", "77"))
        assert sorted(claims) == [False, True]
        assert not await any_store.claim_delivery("telegram:", "77")
        assert await any_store.claim_delivery("telegram:other-council", "77")
    finally:
        await other.close()


async def test_sessions_are_kept_until_they_expire(any_store) -> None:
    """A session saved by one worker is read by another; an expired one is gone."""
    await any_store.save_session("k", {"last_topic": "ehcp"}, ttl=60)
    await any_store.save_session("old", {"last_topic": "x"}, ttl=-1)
    other = await reopened(any_store)
    try:
        assert await other.load_session("k") == {"last_topic": "ehcp"}
        assert await other.load_session("old") is None
    finally:
        await other.close()


async def test_rate_windows_count_every_message(any_store) -> None:
    """Three allowed, one notice, then silence; concurrent hits are all counted."""
    verdicts = await asyncio.gather(*(any_store.rate_hit("messages", "k", 3, 600) for _ in range(6)))
    assert sorted(verdicts) == ["allow", "allow", "allow", "notice", "silent", "silent"]


async def test_a_rate_window_has_room_again_once_it_has_passed(any_store) -> None:
    assert [await any_store.rate_hit("messages", "k", 1, 0.3) for _ in range(3)] == ["allow", "notice", "silent"]
    await asyncio.sleep(0.4)
    assert await any_store.rate_hit("messages", "k", 1, 0.3) == "allow"
    assert await any_store.rate_hit("keywords", "k", 1, 0.3) == "allow"  # each limiter its own window


async def test_tenants_do_not_see_each_other(any_store) -> None:
    """A store bound to one tenant reads and erases only its own rows."""
    other = await open_store(any_store.url if any_store.shares_state else any_store.path, "other-council")
    try:
        await any_store.log(LogRecord("sms", "k", "mine", "answer"))
        await other.log(LogRecord("sms", "k2", "theirs", "answer", at=utcnow() - dt.timedelta(days=40)))
        await any_store.save_session("k", {"n": 1}, 60)
        assert await other.load_session("k") is None
        assert await any_store.purge(30) == 0  # the other council's old row is its own retention's business
        assert await any_store.fetch("SELECT tenant, text FROM messages ORDER BY id") == [("", "mine"),
                                                                                         ("other-council", "theirs")]
        assert await other.purge(30) == 1
    finally:
        await other.close()


# ------------------------------------------------------------------ SQLite only


async def test_schema_and_wal(tmp_path: Path) -> None:
    """Opening creates the schema with its version, in WAL mode."""
    path = tmp_path / "a.sqlite3"
    async with SQLiteStore(path):
        pass
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0] == str(SCHEMA_VERSION)


async def test_a_log_from_before_versioning_is_migrated(tmp_path: Path) -> None:
    """A file made by the previous release (meta says version 1, no tenant column) gains the new columns, rows kept."""
    from bot.store_schema import SQLITE_V1

    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as db:
        db.executescript(SQLITE_V1)
        db.execute("INSERT INTO meta VALUES ('schema_version', '1')")
        db.execute("INSERT INTO messages (at, channel, sender, text, outcome) VALUES ('2026-01-01', 'sms', 'k', 'q', 'answer')")
    async with SQLiteStore(path) as store:
        assert await store.fetch("SELECT text, tenant FROM messages") == [("q", "")]
        assert [r[0] for r in await store.fetch("SELECT version FROM schema_versions")] == [1, 2]


async def test_a_newer_log_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.sqlite3"
    async with SQLiteStore(path) as store:
        await store._write("INSERT INTO schema_versions VALUES (99, 'x', 'from the future')")
    with pytest.raises(RuntimeError, match="schema version 99"):
        await SQLiteStore(path).open()


async def test_delivery_recall_falls_back_to_the_file(tmp_path: Path, monkeypatch) -> None:
    """When the in-memory list of recent deliveries overflowed, a miss is looked up in the file."""
    import bot.store

    monkeypatch.setattr(bot.store, "RECENT_DELIVERIES", 2)
    async with SQLiteStore(tmp_path / "e.sqlite3") as store:
        for n in range(3):
            await store.remember_delivery("sms", f"SM{n}", "k", f"reply {n}")
        assert await store.recall_delivery("sms", "SM0") == "reply 0"  # evicted from memory, found in the file
        assert await store.recall_delivery("sms", "SM2") == "reply 2"


def test_the_url_chooses_the_store() -> None:
    """postgresql:// is PostgreSQL, never a folder named 'postgresql:'; sqlite:/// and paths are SQLite files."""
    from bot.store import is_postgres_url, sqlite_path

    assert is_postgres_url("postgresql://u@h/db") and is_postgres_url("postgres://h/db")
    assert not is_postgres_url("data/signpost.sqlite3")
    assert sqlite_path("sqlite:///data/x.db") == Path("data/x.db")
    assert sqlite_path("sqlite:////srv/x.db") == Path("/srv/x.db")
