"""The SQLite store, against a real file: logging, feedback, erasure, retention, opt-outs, retries."""
from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

from bot.store import SCHEMA_VERSION, LogRecord, SQLiteStore, utcnow


async def test_schema_and_wal(tmp_path: Path) -> None:
    """Opening creates the schema with its version, in WAL mode."""
    path = tmp_path / "a.sqlite3"
    async with SQLiteStore(path):
        pass
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0] == str(SCHEMA_VERSION)


async def test_log_is_redacted(store: SQLiteStore) -> None:
    """Personal details are redacted before the text is written."""
    await store.log(LogRecord("sms", "k", "call me on 07700 900123 about an ehcp", "answer", "ehcp-what-is", 0.9))
    text = (await (await store.db.execute("SELECT text FROM messages")).fetchone())[0]
    assert "07700" not in text and "ehcp" in text


async def test_feedback_only_on_own_answer(store: SQLiteStore) -> None:
    """Feedback attaches to the sender's own logged answer; the latest vote counts; others are refused."""
    row = await store.log(LogRecord("telegram", "k", "q", "answer", "t"))
    assert await store.record_feedback(row, "k", True)
    assert await store.record_feedback(row, "k", False)
    assert not await store.record_feedback(row, "someone-else", True)
    rows = await (await store.db.execute("SELECT helpful FROM feedback")).fetchall()
    assert [r[0] for r in rows] == [0]


async def test_forget_erases_one_sender(store: SQLiteStore) -> None:
    """forget() removes every row of one sender and leaves the others."""
    mine = await store.log(LogRecord("sms", "me", "q", "answer", "t"))
    await store.record_feedback(mine, "me", True)
    await store.set_opted_out("me", "sms", True)
    await store.log(LogRecord("sms", "other", "q", "answer", "t"))
    assert await store.forget("me") == 3
    senders = await (await store.db.execute("SELECT sender FROM messages")).fetchall()
    assert [r[0] for r in senders] == ["other"]


async def test_purge_removes_old_rows(store: SQLiteStore) -> None:
    """purge() deletes rows older than the retention period and keeps recent ones."""
    await store.log(LogRecord("sms", "k", "old", "answer", at=utcnow() - dt.timedelta(days=100)))
    await store.log(LogRecord("sms", "k", "new", "answer"))
    assert await store.purge(90) == 1
    texts = await (await store.db.execute("SELECT text FROM messages")).fetchall()
    assert [r[0] for r in texts] == ["new"]


async def test_opt_out_round_trip(store: SQLiteStore) -> None:
    """An opt-out is remembered until it is lifted."""
    await store.set_opted_out("k", "sms", True)
    assert await store.is_opted_out("k")
    await store.set_opted_out("k", "sms", False)
    assert not await store.is_opted_out("k")


async def test_delivery_is_remembered_once(store: SQLiteStore) -> None:
    """A retried delivery id returns the first reply; the second write is ignored."""
    await store.remember_delivery("sms", "SM1", "k", "first")
    await store.remember_delivery("sms", "SM1", "k", "second")
    assert await store.recall_delivery("sms", "SM1") == "first"
    assert await store.recall_delivery("sms", "SM2") is None


async def test_delivery_survives_a_restart(tmp_path: Path) -> None:
    """A delivery remembered before a restart is still recalled after it (Twilio may retry across one)."""
    path = tmp_path / "d.sqlite3"
    async with SQLiteStore(path) as first:
        await first.remember_delivery("sms", "SM9", "k", "reply nine")
    async with SQLiteStore(path) as second:
        assert await second.recall_delivery("sms", "SM9") == "reply nine"
        assert await second.recall_delivery("sms", "SM10") is None


async def test_delivery_recall_falls_back_to_the_file(tmp_path: Path, monkeypatch) -> None:
    """When the in-memory list of recent deliveries overflowed, a miss is looked up in the file."""
    import bot.store

    monkeypatch.setattr(bot.store, "RECENT_DELIVERIES", 2)
    async with SQLiteStore(tmp_path / "e.sqlite3") as store:
        for n in range(3):
            await store.remember_delivery("sms", f"SM{n}", "k", f"reply {n}")
        assert await store.recall_delivery("sms", "SM0") == "reply 0"  # evicted from memory, found in the file
        assert await store.recall_delivery("sms", "SM2") == "reply 2"


async def test_forget_also_forgets_recent_deliveries(store: SQLiteStore) -> None:
    """After forget(), the sender's remembered replies are gone from memory too (the id stays, blank, to spot replays)."""
    await store.remember_delivery("sms", "SM1", "me", "mine")
    await store.remember_delivery("sms", "SM2", "other", "theirs")
    await store.forget("me")
    assert await store.recall_delivery("sms", "SM1") == ""
    assert await store.recall_delivery("sms", "SM2") == "theirs"
