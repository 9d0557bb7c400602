"""The editors' reports over a seeded log: grouping, feedback, weekly stats, suggestions and their CLI shapes,
each on a SQLite file and on a real PostgreSQL database (`any_store`)."""
from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import json
import sqlite3
from pathlib import Path

import asyncpg
import pytest
import yaml

from bot.cli import main
from bot.editors.auth import verify_password
from bot.editors.grouping import group_questions
from bot.feedback import DETAIL_KIND
from bot.editors.reports import (LoggedQuestion, ReportError, feedback_report, iso_week, parse_since,
                                 unanswered_questions, weekly_stats)
from bot.matcher import THRESHOLDS
from bot.signpost import build_replies
from bot.store import LogRecord, Store

NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
BLUE_BADGE = ["how do i get a blue badge for my car", "blue badge for my car how do i get one",
              "How do I get a blue badge?", "blue badge", "can my son get a blue badge"]
HOLIDAY_TRANSPORT = ["transport to school in the holidays", "school transport in the holidays",
                     "holiday transport to school"]
SWIMMING = ["swimming lessons for autistic kids"]


def ago(days: float) -> dt.datetime:
    return NOW - dt.timedelta(days=days)


def address(store: Store) -> str:
    """What --db names for this store: the PostgreSQL URL or the SQLite file."""
    return store.url if store.shares_state else str(store.path)


async def cli(args: list[str]) -> int:
    """`python main.py ...` in a thread: the command runs its own event loop, as it does from a shell."""
    return await asyncio.to_thread(main, args)


async def seed_unanswered(store: Store) -> None:
    """Nine gaps in three topics this month, plus rows that must not count."""
    for i, text in enumerate(BLUE_BADGE):
        await store.log(LogRecord("telegram" if i % 2 else "sms", f"p{i}", text, "unanswered", at=ago(i + 1)))
    for i, text in enumerate(HOLIDAY_TRANSPORT):
        await store.log(LogRecord("whatsapp", f"q{i}", text, "unanswered", score=0.3, at=ago(10 + i)))
    await store.log(LogRecord("sms", "r", SWIMMING[0], "unanswered", at=ago(3)))
    await store.log(LogRecord("sms", "old", "blue badge renewal", "unanswered", at=ago(45)))  # before --since 30d
    await store.log(LogRecord("sms", "s", "ehcp in worcestershire", "unanswered", kind="out-of-area", at=ago(2)))
    await store.log(LogRecord("sms", "t", "what is an ehcp", "answer", "ehcp-what-is", 0.9, at=ago(2)))


@pytest.fixture
def store(any_store: Store) -> Store:
    """Every test here that reads the log runs on a SQLite file and on a PostgreSQL database."""
    return any_store


@pytest.fixture
async def seeded(store: Store) -> Store:
    await seed_unanswered(store)
    return store


def test_parse_since() -> None:
    """--since reads days, weeks and ISO dates, and refuses anything else."""
    assert parse_since("30d", NOW) == NOW - dt.timedelta(days=30)
    assert parse_since("4w", NOW) == NOW - dt.timedelta(days=28)
    assert parse_since("2025-01-31", NOW) == dt.datetime(2025, 1, 31, tzinfo=dt.timezone.utc)
    for wrong in ("last tuesday", "99999999999d"):
        with pytest.raises(ReportError):
            parse_since(wrong, NOW)


def test_same_words_in_any_order_are_one_wording() -> None:
    """Two wordings with the same meaningful words, in any order and case, are one group of two."""
    questions = [LoggedQuestion(1, "2026-01-01T00:00:00+00:00", "sms", "How do I get a Blue Badge?"),
                 LoggedQuestion(2, "2026-01-01T00:00:01+00:00", "sms", "blue badge how to get")]
    (group,) = group_questions(questions)
    assert group.count == 2 and group.id == "g1"


async def test_unanswered_groups_and_counts(seeded: Store, small_kb: Path) -> None:
    """Seeded gaps come back as three groups, biggest first, with their counts, dates and nearest entries."""
    questions = await unanswered_questions(seeded, parse_since("30d"))
    assert len(questions) == 9  # the old row, the out-of-area row and the answer are left out
    groups = group_questions(questions, build_replies(small_kb).matcher)
    assert [g.count for g in groups] == [5, 3, 1]
    badge, transport, swimming = groups
    assert set(badge.examples) == set(BLUE_BADGE) and set(badge.channels) == {"sms", "telegram"}
    assert badge.first_seen == ago(5).isoformat() and badge.last_seen == ago(1).isoformat()
    assert badge.nearest_score < THRESHOLDS.clarify  # nothing in the small base is about blue badges
    assert transport.nearest_topic == "school-transport" and transport.nearest_score > 0.5
    assert transport.channels == ["whatsapp"]
    assert swimming.examples == SWIMMING


async def test_examples_are_capped_and_most_asked_first(store: Store) -> None:
    """A big group shows at most five examples, the most repeated wording first."""
    for i in range(8):
        await store.log(LogRecord("sms", f"k{i}", f"blue badge for my car {i}" if i else "blue badge", "unanswered"))
    await store.log(LogRecord("sms", "k9", "blue badge", "unanswered"))
    (group,) = group_questions(await unanswered_questions(store, parse_since("1d")))
    assert group.count == 9 and len(group.examples) == 5 and group.examples[0] == "blue badge"


async def test_feedback_worst_first_with_the_questions(store: Store) -> None:
    """Answers are ranked by their "not helpful" votes, with the questions that led to each "no"."""
    async def vote(topic: str, text: str, helpful: bool, sender: str) -> None:
        row = await store.log(LogRecord("telegram", sender, text, "answer", topic, 0.8, at=ago(1)))
        assert await store.record_feedback(row, sender, helpful)

    for i in range(5):
        await vote("ehcp-what-is", "what is an ehcp", True, f"a{i}")
    await vote("ehcp-what-is", "ehcp for adults", False, "a9")
    for i, text in enumerate(["respite over summer", "respite for a teenager", "respite over summer"]):
        await vote("short-breaks", text, False, f"b{i}")
    await vote("short-breaks", "short breaks", True, "b9")
    rows = await feedback_report(store, parse_since("30d"))
    assert [(r.topic, r.helpful, r.not_helpful) for r in rows] == [("short-breaks", 1, 3), ("ehcp-what-is", 5, 1)]
    assert sorted(rows[0].no_questions) == ["respite for a teenager", "respite over summer"]
    assert rows[1].no_questions == ["ehcp for adults"]


async def test_feedback_shows_what_parents_said_was_missing(store: Store) -> None:
    """After a "no", the words about what was missing are listed under the answer's topic, redacted as logged."""
    row = await store.log(LogRecord("telegram", "p1", "respite in the holidays", "answer", "short-breaks", 0.8, at=ago(2)))
    assert await store.record_feedback(row, "p1", False)
    await store.log(LogRecord("telegram", "p1", "nothing about holiday clubs", "smalltalk", "short-breaks",
                              kind=DETAIL_KIND, at=ago(1)))
    await store.log(LogRecord("telegram", "p2", "an old detail", "smalltalk", "short-breaks", kind=DETAIL_KIND,
                              at=ago(40)))
    [entry] = await feedback_report(store, parse_since("30d"))
    assert entry.topic == "short-breaks" and entry.not_helpful == 1
    assert entry.missing == ["nothing about holiday clubs"] and entry.as_dict()["missing"] == entry.missing


async def test_weekly_stats(store: Store) -> None:
    """Stats count messages, outcomes, topics and channels per ISO week, the answer rate and crisis replies."""
    monday = (NOW - dt.timedelta(days=NOW.weekday() + 14)).replace(hour=12, minute=0, second=0)
    rows = [("answer", "ehcp-what-is", None), ("answer", "ehcp-what-is", "picked"), ("clarify", None, None),
            ("unanswered", None, None), ("crisis", None, "self-harm"), ("smalltalk", None, "greeting")]
    for i, (outcome, topic, kind) in enumerate(rows):
        await store.log(LogRecord("sms" if i % 2 else "telegram", f"k{i}", "x", outcome, topic, kind=kind, at=monday))
    await store.log(LogRecord("sms", "k9", "y", "unanswered", at=monday + dt.timedelta(days=7)))
    first, second = await weekly_stats(store, parse_since("30d"))
    assert first.week == iso_week(monday.isoformat()) and first.messages == 6
    assert first.outcomes["answer"] == 2 and first.crisis == 1 and first.topics["ehcp-what-is"] == 2
    assert first.channels == {"sms": 3, "telegram": 3}
    assert (first.questions, first.answered) == (3, 2)  # the picked follow-up is not a new question
    assert first.answer_rate == pytest.approx(2 / 3)
    assert second.answer_rate == 0.0 and second.messages == 1


async def test_cli_unanswered_json_shape(seeded: Store, small_kb: Path, capsys: pytest.CaptureFixture) -> None:
    """`editors unanswered --json` prints a list of groups with the documented keys."""
    assert await cli(["editors", "unanswered", "--json", "--db", address(seeded), "--kb", str(small_kb)]) == 0
    groups = json.loads(capsys.readouterr().out)
    assert [g["count"] for g in groups] == [5, 3, 1]
    for key in ("count", "examples", "first_seen", "last_seen", "channels", "nearest_topic", "nearest_score"):
        assert key in groups[0]
    assert groups[1]["nearest_topic"] == "school-transport"


async def test_cli_unanswered_csv_and_table(seeded: Store, small_kb: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture) -> None:
    """--csv writes one row per group under a header; the default is a readable table."""
    out = tmp_path / "gaps.csv"
    assert await cli(["editors", "unanswered", "--csv", str(out), "--db", address(seeded), "--kb", str(small_kb)]) == 0
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [int(r["count"]) for r in rows] == [5, 3, 1]
    assert rows[1]["nearest_topic"] == "school-transport" and "holiday" in rows[1]["examples"]
    capsys.readouterr()
    assert await cli(["editors", "unanswered", "--db", address(seeded), "--kb", str(small_kb)]) == 0
    table = capsys.readouterr().out
    assert table.splitlines()[0].split()[:2] == ["group", "count"] and "school-transport" in table


async def test_cli_feedback_and_stats_json(store: Store, small_kb: Path, capsys: pytest.CaptureFixture) -> None:
    """`editors feedback --json` and `editors stats --json` print lists with titles, counts and rates."""
    row = await store.log(LogRecord("telegram", "k", "respite over summer", "answer", "short-breaks", 0.8))
    await store.record_feedback(row, "k", False)
    args = ["--db", address(store), "--kb", str(small_kb)]
    assert await cli(["editors", "feedback", "--json", *args]) == 0
    (entry,) = json.loads(capsys.readouterr().out)
    assert entry == {"topic": "short-breaks", "title": "Short breaks", "helpful": 0, "not_helpful": 1,
                     "not_helpful_rate": 1.0, "no_questions": ["respite over summer"], "missing": []}
    assert await cli(["editors", "stats", "--json", "--since", "4w", *args]) == 0
    (week,) = json.loads(capsys.readouterr().out)
    assert week["messages"] == 1 and week["answer_rate"] == 1.0 and week["crisis"] == 0


def test_cli_without_a_log(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """A report on a missing log says so and exits 1, without creating the file."""
    missing = tmp_path / "none.sqlite3"
    assert main(["editors", "stats", "--db", str(missing)]) == 1
    assert "no log" in capsys.readouterr().err and not missing.exists()


async def test_suggest_writes_yaml_for_review(seeded: Store, small_kb: Path, tmp_path: Path) -> None:
    """suggest proposes phrasings for close groups and new entries for the rest, and never writes into knowledge/."""
    out = tmp_path / "suggestions.yaml"
    before = sorted((p.name, p.stat().st_mtime_ns) for p in small_kb.iterdir())
    assert await cli(["editors", "suggest", "--out", str(out), "--db", address(seeded), "--kb", str(small_kb)]) == 0
    proposal = yaml.safe_load(out.read_text(encoding="utf-8"))
    (phrasing,) = proposal["phrasings"]
    assert phrasing["entry"] == "school-transport" and phrasing["asked"] == 3
    assert sorted(phrasing["add_questions"]) == sorted(HOLIDAY_TRANSPORT)
    assert [e["asked"] for e in proposal["new_entries"]] == [5, 1]
    assert "blue badge" in proposal["new_entries"][0]["questions"]
    assert proposal["new_entries"][1]["id"] == "new-swimming-lessons-autistic-kids"
    assert out.read_text().startswith("# Suggestions")
    assert sorted((p.name, p.stat().st_mtime_ns) for p in small_kb.iterdir()) == before

    inside = small_kb / "suggestions.yaml"
    assert await cli(["editors", "suggest", "--out", str(inside), "--db", address(seeded), "--kb", str(small_kb)]) == 1
    assert not inside.exists()


def test_password_hash_command(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    """`editors password-hash` reads the password from stdin and prints a hash that verifies it."""
    monkeypatch.setattr("sys.stdin", io.StringIO("correct horse battery staple\n"))
    assert main(["editors", "password-hash"]) == 0
    printed = capsys.readouterr().out.strip()
    assert printed.startswith("scrypt:") and "correct" not in printed
    assert verify_password("correct horse battery staple", printed)
    assert not verify_password("correct horse battery stapl", printed)
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["editors", "password-hash"]) == 1


async def test_reports_never_write(store: Store) -> None:
    """The reports read through a connection (SQLite) or a transaction (PostgreSQL) that cannot write."""
    with pytest.raises((sqlite3.OperationalError, asyncpg.ReadOnlySQLTransactionError)):
        await store.read("INSERT INTO meta (key, value) VALUES ('x', 'y')")
    assert await store.read("SELECT value FROM meta WHERE key = 'x'") == []
