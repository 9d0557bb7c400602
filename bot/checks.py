"""`kb check`: the loader's validation plus the warnings that help editors.

Errors stop the bot from starting. Warnings do not, but the bundled base ships with
none: each one is a way a family could be misled or an answer could be missed.
"""
from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .adults import ADULT_SERVICES_ENTRY
from .gsm7 import is_gsm7, septets
from .knowledge import Entry, Knowledge, KnowledgeError, load_knowledge
from .matcher import Matcher
from .readability import reading_ease
from .replies import Replies
from .channels.sms import sms_cost
from .channels.sms_parts import TOTAL_SEGMENTS
from .text import fold
from .unconfirmed import unmarked_contacts

SMS_ENTRY_LIMIT = 250  # leaves room for the "Reply MORE" line the SMS channel adds
MIN_READING_EASE = 60.0  # Flesch reading ease; GOV.UK writes for a reading age of 9
STALE_AFTER = dt.timedelta(days=365)
PHONE = re.compile(r"(?<![\w])(?:\+44\s?|0)(?:\d[\s-]?){8,11}\d(?!\w)|\b(?:999|111|116\s?123|85258)\b")
WEB = re.compile(r"(?:https?://|www\.)[^\s)]+|\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:gov\.uk|nhs\.uk|org\.uk|co\.uk|org|com)\b[^\s)]*", re.I)


@dataclass
class Report:
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    unchecked: list[str] = field(default_factory=list)
    readability: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


def _where(entry: Entry) -> str:
    return f"{entry.file}:{entry.line}: entry '{entry.id}'"


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def _known_contacts(knowledge: Knowledge) -> tuple[set[str], set[str]]:
    phones, webs = set(), set()
    for service in knowledge.services.values():
        for value in (service.phone, service.text):
            if value:
                phones.add(_digits(value))
        for value in (service.web, service.email):
            if value:
                webs.add(re.sub(r"^https?://(www\.)?", "", value.lower()).rstrip("/."))
    return phones, webs


def _invented_contacts(entry: Entry, knowledge: Knowledge) -> list[str]:
    """Numbers and addresses in the text that the services directory does not hold."""
    phones, webs = _known_contacts(knowledge)
    found = []
    for text in (entry.answer, entry.sms or ""):
        for number in PHONE.findall(text):
            if _digits(number) not in phones:
                found.append(f"phone number '{number.strip()}' is not in the services directory")
        for address in WEB.findall(text):
            bare = re.sub(r"^https?://(www\.)?", "", address.lower()).rstrip("/.")
            if not any(bare == w or bare.startswith(w + "/") or w.startswith(bare) for w in webs):
                found.append(f"web address '{address}' is not in the services directory")
    return found


def _entry_warnings(entry: Entry, knowledge: Knowledge, today: dt.date, report: Report) -> None:
    where = _where(entry)
    warn = lambda message: report.warnings.append(f"{where}: {message}")  # noqa: E731
    if not entry.answers:
        # An out-of-scope reply is sent by SMS too: without its own short text only its first
        # sentence goes, and a safety line after it ("call 999 or 111 now") would be lost.
        if not entry.sms:
            warn("out-of-scope entry with no 'sms' text: SMS would send only its first sentence")
        return
    if not entry.sources:
        warn("no sources: name the document and section, or the web page, for every fact")
    if not entry.sms:
        warn("no 'sms' text (the short version for text messages)")
    elif not is_gsm7(entry.sms):
        bad = sorted({c for c in entry.sms if not is_gsm7(c)})
        warn(f"'sms' has characters outside GSM-7 {bad}: each text would cost twice as much")
    elif septets(entry.sms) > SMS_ENTRY_LIMIT:
        warn(f"'sms' is {septets(entry.sms)} GSM-7 characters; keep it to {SMS_ENTRY_LIMIT} (two texts with the MORE line)")
    for related in entry.related:
        if knowledge.entry(related) is None:
            warn(f"unknown related id '{related}'")
    for service in entry.services:
        if service not in knowledge.services:
            warn(f"unknown service id '{service}'")
    if entry.reviewed is None:
        warn("no 'reviewed' date")
    elif today - entry.reviewed > STALE_AFTER:
        warn(f"last reviewed {entry.reviewed}: more than a year ago")
    ease = reading_ease(entry.answer)
    report.readability[entry.id] = ease
    if ease < MIN_READING_EASE:
        warn(f"answer reads hard (Flesch reading ease {ease:.0f}, aim for {MIN_READING_EASE:.0f}+): shorter sentences and words")
    for problem in _invented_contacts(entry, knowledge):
        warn(problem)
    for note in entry.needs_check:
        report.unchecked.append(f"entry '{entry.id}': {note}")


def _sms_cost_warnings(knowledge: Knowledge, report: Report) -> None:
    """Entries whose whole answer by SMS would cost more than a parent should pay: MORE stops
    at TOTAL_SEGMENTS and sends a link for the rest, so an editor should know what is cut."""
    replies = Replies(knowledge, None, None, risk=None)  # type: ignore[arg-type]  # answers need only the knowledge
    for entry in knowledge.entries:
        if not entry.answers:
            continue
        needed, sent, complete = sms_cost(replies.answer(entry, 1.0))
        if not complete:
            report.warnings.append(
                f"{_where(entry)}: by SMS the whole answer needs {needed} segments; MORE stops at {TOTAL_SEGMENTS} "
                f"(first reply included) and links to the rest: shorten the answer to send all of it"
            )


def _question_warnings(knowledge: Knowledge, matcher: Matcher, report: Report) -> None:
    """Duplicate questions, and example questions that another entry wins."""
    owners: dict[str, list[str]] = defaultdict(list)
    for entry in knowledge.entries:
        for question in entry.questions:
            owners[fold(question)].append(entry.id)
    for question, ids in owners.items():
        if len(ids) > 1:
            report.warnings.append(f"question '{question}' appears {len(ids)} times ({', '.join(sorted(set(ids)))})")
    for entry in knowledge.entries:
        # The entry's own questions only: ranking the thousands in phrasings.yaml (writers' questions,
        # measured by the question sets instead) and learned.yaml (each placed by an editor) would
        # make kb check take minutes.
        for question in entry.questions[:len(entry.questions) - entry.added_questions]:
            ranked = matcher.rank(question, limit=2)
            if ranked and ranked[0].entry.id != entry.id:
                report.warnings.append(
                    f"{_where(entry)}: question '{question}' matches '{ranked[0].entry.id}' better than its own entry"
                )


def _group_warnings(knowledge: Knowledge, report: Report) -> None:
    in_menu: set[str] = set()
    for group in knowledge.groups:
        for topic in group.topics:
            in_menu.add(topic)
            if knowledge.entry(topic) is None:
                report.warnings.append(f"group '{group.id}': unknown topic '{topic}'")
    if knowledge.groups:
        for entry in knowledge.entries:
            if entry.answers and entry.id not in in_menu:
                report.warnings.append(f"{_where(entry)}: not in any menu group (groups.yaml)")


def _adult_services_warning(knowledge: Knowledge, report: Report) -> None:
    """An adult's question about their own needs goes to this entry (bot/adults.py). A base with
    out-of-scope entries but not this one would leave those questions to the matcher, which reads
    no ages and answers them with a child's topic."""
    has_out_of_scope = any(not entry.answers for entry in knowledge.entries)
    if has_out_of_scope and knowledge.entry(ADULT_SERVICES_ENTRY) is None:
        report.warnings.append(f"no '{ADULT_SERVICES_ENTRY}' entry: an adult asking about their own needs "
                               "will get whichever topic their words match")


def _service_notes(knowledge: Knowledge, report: Report) -> None:
    for service in knowledge.services.values():
        if not service.checked:
            details = [k for k in ("phone", "email", "web", "text") if getattr(service, k)]
            note = f" ({service.note})" if service.note else ""
            what = f"{', '.join(details)} not checked by an editor" if details else "no contact details yet"
            report.unchecked.append(f"service '{service.id}': {what}{note}")


def _required_topics(knowledge: Knowledge, topics_file: Path | None, report: Report) -> None:
    if topics_file is None or not topics_file.exists():
        return
    required = [t["id"] for t in (yaml.safe_load(topics_file.read_text(encoding="utf-8")) or {}).get("topics", [])]
    for topic in required:
        if knowledge.entry(topic) is None:
            report.errors.append(f"{topics_file}: required topic '{topic}' has no entry")


def check_knowledge(directory: Path, topics_file: Path | None = None, today: dt.date | None = None,
                    questions: bool = True) -> Report:
    """Errors and warnings; `questions=False` skips ranking every example question (the slow part,
    warnings only), so an editor's change from the page is checked for errors in seconds."""
    report = Report()
    try:
        knowledge = load_knowledge(directory)
    except KnowledgeError as exc:
        report.errors.extend(exc.problems)
        return report
    today = today or dt.date.today()
    for entry in knowledge.entries:
        _entry_warnings(entry, knowledge, today, report)
    _sms_cost_warnings(knowledge, report)
    if questions:
        # On words alone: the sentence model would first embed every phrasing (thousands, a minute
        # and a half on a new machine), and a question that shares more words with another entry
        # is what an editor can fix.
        _question_warnings(knowledge, Matcher(knowledge, semantic=False), report)
    _group_warnings(knowledge, report)
    _adult_services_warning(knowledge, report)
    _service_notes(knowledge, report)
    # An unconfirmed number or address shown bare is an error: a family may act on it alone.
    report.errors.extend(unmarked_contacts(knowledge))
    _required_topics(knowledge, topics_file, report)
    return report
