"""Read-only queries over the log for the editors' reports, on either store.

The same SQL runs on SQLite and PostgreSQL through the store's `read` (bot/store.py): on
SQLite a second, read-only connection beside the live server (WAL lets readers and the
writer work at once), on PostgreSQL a read-only transaction. Every query is bound to the
store's tenant, so a council's editors read only their own council's rows.
"""
from __future__ import annotations

import asyncio
import bisect
import datetime as dt
import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from ..feedback import DETAIL_KIND
from ..noise import is_noise
from ..store import Store

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
    """A report cannot run: no log file, no such council, or a --since it cannot read."""


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


# ------------------------------------------------------------------ unanswered

@dataclass(frozen=True)
class LoggedQuestion:
    id: int
    at: str
    channel: str
    text: str  # already redacted by the store
    no_after: bool = False  # the same sender said an answer did not help within half an hour


# A clarify the parent never picked from (their next message is not a pick) went unanswered too.
_UNPICKED = ("(m.outcome = 'clarify' AND COALESCE((SELECT n.kind FROM messages n WHERE n.tenant = m.tenant"
             " AND n.sender = m.sender AND n.id > m.id ORDER BY n.id LIMIT 1), '') <> 'picked')")
_UNTRIAGED = " AND NOT EXISTS (SELECT 1 FROM triage t WHERE t.message_id = m.id)"


def _section_filter(section: str, sure_catch: float) -> tuple[str, tuple]:
    """SQL for one list: the untriaged unanswered questions (with the clarifies never picked from and
    what an out-of-scope entry caught below `sure_catch`: the bot was not sure of those either), the
    gaps kept for a new answer, or what out-of-scope entries caught surely and no editor has looked at yet."""
    handled = ",".join("?" * len(HANDLED_KINDS))
    if section == "unanswered":
        return (f" AND ((m.outcome = 'unanswered' AND (m.kind IS NULL OR m.kind NOT IN ({handled})"
                f" OR (m.kind = 'out-of-scope' AND m.score < ?))) OR {_UNPICKED}){_UNTRIAGED}",
                (*HANDLED_KINDS, sure_catch))
    if section == "caught":
        return f" AND m.outcome = 'unanswered' AND m.kind = 'out-of-scope' AND m.score >= ?{_UNTRIAGED}", (sure_catch,)
    if section == "gaps":
        return (" AND m.outcome IN ('unanswered', 'clarify')"
                " AND EXISTS (SELECT 1 FROM triage t WHERE t.message_id = m.id AND t.state = 'gap')", ())
    raise ValueError(f"unknown section {section!r}")


async def unanswered_questions(log: Store, since: dt.datetime, section: str = "unanswered",
                               sure_catch: float = 0.0) -> list[LoggedQuestion]:
    """The questions of one list (SECTIONS), oldest first, noise left out (rows logged before it was marked too).
    `sure_catch`: the score from which an out-of-scope entry's catch is sure (the matcher's answer threshold)."""
    where, params = _section_filter(section, sure_catch)
    rows = await log.read(f"SELECT m.id, m.at, m.channel, m.text, m.sender FROM messages m"
                          f" WHERE m.tenant = ? AND m.at >= ?{where} ORDER BY m.at, m.id",
                          log.tenant, _iso(since), *params)
    noes = await log.read("SELECT sender, at FROM feedback WHERE tenant = ? AND helpful = 0 AND at >= ?",
                          log.tenant, _iso(since))
    return await asyncio.to_thread(_questions, rows, noes)  # thousands of texts: off the event loop


def _questions(rows: list[tuple], noes: list[tuple]) -> list[LoggedQuestion]:
    said_no: dict[str, list[dt.datetime]] = defaultdict(list)
    for sender, at in noes:
        said_no[sender].append(dt.datetime.fromisoformat(at))
    for times in said_no.values():
        times.sort()
    noise = {text: is_noise(text) for text in {row[3] for row in rows}}  # each distinct text once
    return [LoggedQuestion(id, at, channel, text, _no_after(said_no.get(sender, []), at))
            for id, at, channel, text, sender in rows if not noise[text]]


def _no_after(times: list[dt.datetime], asked: str) -> bool:
    """Whether the sender said "no, that did not help" within NO_AFTER_DAYS after asking."""
    start = dt.datetime.fromisoformat(asked)
    first = bisect.bisect_left(times, start)
    return first < len(times) and times[first] <= start + dt.timedelta(days=NO_AFTER_DAYS)


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


async def feedback_report(log: Store, since: dt.datetime) -> list[EntryFeedback]:
    """Each answered topic's "did this help?" counts, worst first."""
    votes = await log.read(
        "SELECT m.topic, f.helpful, m.text FROM feedback f JOIN messages m ON m.id = f.message_id"
        " WHERE m.tenant = ? AND m.at >= ? AND m.topic IS NOT NULL ORDER BY m.at DESC, m.id DESC",
        log.tenant, _iso(since))
    details = await log.read(
        "SELECT topic, text FROM messages WHERE tenant = ? AND kind = ? AND at >= ? AND topic IS NOT NULL"
        " AND text != '' ORDER BY at DESC, id DESC", log.tenant, DETAIL_KIND, _iso(since))
    by_topic: dict[str, EntryFeedback] = {}
    for topic, helpful, text in votes:
        entry = by_topic.setdefault(topic, EntryFeedback(topic))
        if helpful:
            entry.helpful += 1
            continue
        entry.not_helpful += 1
        if text not in entry.no_questions and len(entry.no_questions) < MAX_NO_QUESTIONS:
            entry.no_questions.append(text)
    for topic, text in details:
        entry = by_topic.setdefault(topic, EntryFeedback(topic))
        if text not in entry.missing and len(entry.missing) < MAX_NO_QUESTIONS:
            entry.missing.append(text)
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


async def weekly_stats(log: Store, since: dt.datetime) -> list[WeekStats]:
    """Messages, outcomes, topics and channels per ISO week, oldest first."""
    rows = await log.read("SELECT at, channel, outcome, topic, kind FROM messages WHERE tenant = ? AND at >= ?"
                          " ORDER BY at", log.tenant, _iso(since))
    return await asyncio.to_thread(_weeks, rows)  # a quarter's messages: off the event loop


def _weeks(rows: list[tuple]) -> list[WeekStats]:
    weeks: dict[str, WeekStats] = defaultdict(lambda: WeekStats(""))
    for at, channel, outcome, topic, kind in rows:
        week = weeks[iso_week(at)]
        week.messages += 1
        week.outcomes[outcome] += 1
        week.channels[channel] += 1
        if topic:
            week.topics[topic] += 1
        if outcome in QUESTION_OUTCOMES and kind not in FOLLOW_UP_KINDS + HANDLED_KINDS:
            week.questions += 1
            week.answered += outcome != "unanswered"
    for name, week in weeks.items():
        week.week = name
    return [weeks[name] for name in sorted(weeks)]
