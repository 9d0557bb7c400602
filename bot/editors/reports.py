"""Read-only queries over the SQLite log for the editors' reports.

Plain sqlite3 on a read-only connection: the reports never write, and they can run
beside the live server (WAL lets readers and the writer work at once).
"""
from __future__ import annotations

import datetime as dt
import math
import re
import sqlite3
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from ..noise import is_noise
from ..feedback import DETAIL_KIND

# Unanswered rows with these kinds were handled on purpose (another council's area, a
# question the knowledge base marks out of scope) or were never questions (a command, a
# bare number, small talk: bot/noise.py): they are not gaps for editors to fill.
HANDLED_KINDS = ("out-of-area", "out-of-scope", "noise")
# How long after a question a "no" to "did this help?" from the same sender counts as following it.
NO_AFTER_DAYS = 1 / 48  # half an hour
SECTIONS = ("unanswered", "gaps", "caught")
# Follow-ups repeat an earlier question's outcome ("2" after a choice, "more"): counting
# them would count one question twice in the answer rate.
FOLLOW_UP_KINDS = ("picked", "more")
QUESTION_OUTCOMES = ("answer", "clarify", "unanswered")
MAX_NO_QUESTIONS = 5
MAX_DAYS = 100 * 366  # "since forever" in practice; far beyond any retention period
_SINCE = re.compile(r"^\s*(\d{1,6})\s*([dw])\s*$", re.IGNORECASE)  # int() refuses 4,300+ digits


class ReportError(Exception):
    """A report cannot run: no log file, or a --since it cannot read."""


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def parse_since(text: str, now: dt.datetime | None = None) -> dt.datetime:
    """"30d", "4w" or "2025-01-31" to the UTC moment the report starts from."""
    now = now or utcnow()
    found = _SINCE.match(text or "")
    if found:
        days = int(found.group(1)) * (7 if found.group(2).lower() == "w" else 1)
        if days > MAX_DAYS:
            raise ReportError(f"--since goes back at most {MAX_DAYS} days")
        return now - dt.timedelta(days=days)
    try:
        day = dt.date.fromisoformat(text.strip())
    except ValueError:
        raise ReportError(f"--since must look like 30d, 4w or 2025-01-31, not {text!r}") from None
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.timezone.utc)


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).isoformat(timespec="seconds")


def open_log(path: Path | str) -> sqlite3.Connection:
    """A read-only connection to the log; ReportError when there is no log yet."""
    path = Path(path)
    if not path.is_file():
        raise ReportError(f"no log at {path}: has the bot run with this --db?")
    db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False)
    db.execute("PRAGMA busy_timeout=5000")  # the server may be mid-write
    db.row_factory = sqlite3.Row
    return db


# ------------------------------------------------------------------ unanswered

@dataclass(frozen=True)
class LoggedQuestion:
    id: int
    at: str
    channel: str
    text: str  # already redacted by the store
    no_after: bool = False  # the same sender said an answer did not help within half an hour


def has_table(db: sqlite3.Connection, name: str) -> bool:
    return db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)).fetchone() is not None


# A clarify the parent never picked from (their next message is not a pick) went unanswered too.
_UNPICKED = ("(m.outcome = 'clarify' AND COALESCE((SELECT n.kind FROM messages n WHERE n.sender = m.sender"
             " AND n.id > m.id ORDER BY n.id LIMIT 1), '') <> 'picked')")


def _section_filter(section: str, triaged: bool, sure_catch: float) -> tuple[str, tuple]:
    """SQL for one list: the untriaged unanswered questions (with the clarifies never picked from and
    what an out-of-scope entry caught below `sure_catch`: the bot was not sure of those either), the
    gaps kept for a new answer, or what out-of-scope entries caught surely and no editor has looked at yet."""
    handled = ",".join("?" * len(HANDLED_KINDS))
    untriaged = " AND m.id NOT IN (SELECT message_id FROM triage)" if triaged else ""
    if section == "unanswered":
        return (f" AND ((m.outcome = 'unanswered' AND (m.kind IS NULL OR m.kind NOT IN ({handled})"
                f" OR (m.kind = 'out-of-scope' AND m.score < ?))) OR {_UNPICKED}){untriaged}",
                (*HANDLED_KINDS, sure_catch))
    if section == "caught":
        return f" AND m.outcome = 'unanswered' AND m.kind = 'out-of-scope' AND m.score >= ?{untriaged}", (sure_catch,)
    if section == "gaps":
        return ((" AND m.outcome IN ('unanswered', 'clarify')"
                 " AND m.id IN (SELECT message_id FROM triage WHERE state = 'gap')", ()) if triaged else (" AND 0", ()))
    raise ValueError(f"unknown section {section!r}")


def unanswered_questions(db: sqlite3.Connection, since: dt.datetime, section: str = "unanswered",
                         sure_catch: float = 0.0) -> list[LoggedQuestion]:
    """The questions of one list (SECTIONS), oldest first, noise left out (rows logged before it was marked too).
    `sure_catch`: the score from which an out-of-scope entry's catch is sure (the matcher's answer threshold)."""
    where, params = _section_filter(section, has_table(db, "triage"), sure_catch)
    rows = db.execute(
        "SELECT m.id, m.at, m.channel, m.text, EXISTS (SELECT 1 FROM feedback f WHERE f.sender = m.sender"
        " AND f.helpful = 0 AND julianday(f.at) BETWEEN julianday(m.at) AND julianday(m.at) + ?) AS no_after"
        f" FROM messages m WHERE m.at >= ?{where} ORDER BY m.at, m.id",
        (NO_AFTER_DAYS, _iso(since), *params),
    ).fetchall()
    noise = {text: is_noise(text) for text in {r["text"] for r in rows}}  # each distinct text once
    return [LoggedQuestion(r["id"], r["at"], r["channel"], r["text"], bool(r["no_after"]))
            for r in rows if not noise[r["text"]]]


# ------------------------------------------------------------------ feedback

@dataclass
class EntryFeedback:
    topic: str
    helpful: int = 0
    not_helpful: int = 0
    no_questions: list[str] = field(default_factory=list)  # what was asked when the answer did not help
    title: str | None = None
    missing: list[str] = field(default_factory=list)  # what parents said was missing, after a "no" (redacted)

    @property
    def votes(self) -> int:
        return self.helpful + self.not_helpful

    @property
    def not_helpful_rate(self) -> float:
        return self.not_helpful / self.votes if self.votes else 0.0

    def as_dict(self) -> dict:
        return {"topic": self.topic, "title": self.title, "helpful": self.helpful,
                "not_helpful": self.not_helpful, "not_helpful_rate": round(self.not_helpful_rate, 3),
                "no_questions": self.no_questions, "missing": self.missing}


def _worse_bound(bad: int, total: int, z: float = 1.96) -> float:
    """Wilson lower bound of the not-helpful share: 9 "no"s of 10 rank above 1 of 1."""
    if not total:
        return 0.0
    share = bad / total
    centre = share + z * z / (2 * total)
    spread = z * math.sqrt((share * (1 - share) + z * z / (4 * total)) / total)
    return (centre - spread) / (1 + z * z / total)


def feedback_report(db: sqlite3.Connection, since: dt.datetime) -> list[EntryFeedback]:
    """Each answered topic's "did this help?" counts, worst first."""
    rows = db.execute(
        "SELECT m.topic, f.helpful, m.text FROM feedback f JOIN messages m ON m.id = f.message_id"
        " WHERE m.at >= ? AND m.topic IS NOT NULL ORDER BY m.at DESC, m.id DESC",
        (_iso(since),),
    ).fetchall()
    by_topic: dict[str, EntryFeedback] = {}
    for row in rows:
        entry = by_topic.setdefault(row["topic"], EntryFeedback(row["topic"]))
        if row["helpful"]:
            entry.helpful += 1
            continue
        entry.not_helpful += 1
        if row["text"] not in entry.no_questions and len(entry.no_questions) < MAX_NO_QUESTIONS:
            entry.no_questions.append(row["text"])
    details = db.execute(
        "SELECT topic, text FROM messages WHERE kind = ? AND at >= ? AND topic IS NOT NULL AND text != ''"
        " ORDER BY at DESC, id DESC", (DETAIL_KIND, _iso(since))).fetchall()
    for row in details:
        entry = by_topic.setdefault(row["topic"], EntryFeedback(row["topic"]))
        if row["text"] not in entry.missing and len(entry.missing) < MAX_NO_QUESTIONS:
            entry.missing.append(row["text"])
    return sorted(by_topic.values(),
                  key=lambda e: (-_worse_bound(e.not_helpful, e.votes), -e.not_helpful, e.topic))


# ------------------------------------------------------------------ weekly stats

@dataclass
class WeekStats:
    week: str  # ISO week, "2025-W03"
    messages: int = 0
    outcomes: Counter = field(default_factory=Counter)
    topics: Counter = field(default_factory=Counter)
    channels: Counter = field(default_factory=Counter)
    questions: int = 0  # answer, clarify and unanswered, follow-ups left out
    answered: int = 0  # of those, the ones that got an answer or a choice of answers

    @property
    def crisis(self) -> int:
        return self.outcomes["crisis"]

    @property
    def answer_rate(self) -> float | None:
        return self.answered / self.questions if self.questions else None

    def as_dict(self) -> dict:
        rate = self.answer_rate
        return {"week": self.week, "messages": self.messages, "outcomes": dict(self.outcomes),
                "topics": dict(self.topics.most_common()), "channels": dict(self.channels),
                "questions": self.questions, "answered": self.answered,
                "answer_rate": None if rate is None else round(rate, 3), "crisis": self.crisis}


def iso_week(at: str) -> str:
    year, week, _ = dt.datetime.fromisoformat(at).isocalendar()
    return f"{year}-W{week:02d}"


def weekly_stats(db: sqlite3.Connection, since: dt.datetime) -> list[WeekStats]:
    """Messages, outcomes, topics and channels per ISO week, oldest first."""
    weeks: dict[str, WeekStats] = defaultdict(lambda: WeekStats(""))
    rows = db.execute("SELECT at, channel, outcome, topic, kind FROM messages WHERE at >= ? ORDER BY at",
                      (_iso(since),))
    for row in rows:
        week = weeks[iso_week(row["at"])]
        week.messages += 1
        week.outcomes[row["outcome"]] += 1
        week.channels[row["channel"]] += 1
        if row["topic"]:
            week.topics[row["topic"]] += 1
        if row["outcome"] in QUESTION_OUTCOMES and row["kind"] not in FOLLOW_UP_KINDS + HANDLED_KINDS:
            week.questions += 1
            week.answered += row["outcome"] != "unanswered"
    for name, week in weeks.items():
        week.week = name
    return [weeks[name] for name in sorted(weeks)]
