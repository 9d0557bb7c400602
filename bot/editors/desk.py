"""The editors' desk: the lists of grouped questions and the triage actions on them.

The page (bot/editors/web.py) and the CLI (bot/editors/commands.py) both work through a
Desk, so every action on the page has a CLI twin that does exactly the same thing. A
Desk knows where the log and the knowledge are, which knowledge is loaded now, and how
to make the running bot reload it (the page reloads in-process; the CLI signals the server).
"""
from __future__ import annotations

from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..knowledge import BUNDLED_DIR, Entry
from ..replies import Replies
from ..text import fold
from . import learned
from .grouping import Group, group_questions
from .reports import SECTIONS, ReportError, parse_since, unanswered_questions
from .triage import LABELS, Action, TriageError, check_undoable, get_action, open_writer, recent_actions, record, undo
from .vectors import question_vectors

SHARED_TOPICS = BUNDLED_DIR.parent.parent / "shared" / "topics.yaml"  # what `kb check` holds the bundled base to
ACTIONS = ("add-phrasing", "out-of-scope", "not-send", "dismiss", "needs-answer")


@dataclass
class Outcome:
    """What an action did, in words for the editor; `problems` says why nothing was written."""

    action: Action | None
    message: str
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.action is not None


@dataclass
class Desk:
    db_path: Path
    knowledge_dir: Path
    replies: Callable[[], Replies]  # the knowledge and matcher loaded now
    reload: Callable[[], list[str]]  # make the running bot read the knowledge again; its problems

    @property
    def topics(self) -> Path | None:
        same = self.knowledge_dir.resolve() == BUNDLED_DIR.resolve()
        return SHARED_TOPICS if same and SHARED_TOPICS.is_file() else None

    # ------------------------------------------------------------ reading

    def groups(self, since: str, sections: tuple[str, ...] = SECTIONS,
               place_limit: int | None = None) -> dict[str, list[Group]]:
        """Each list's questions grouped by meaning, biggest first."""
        start = parse_since(since)
        matcher = self.replies().matcher
        try:
            db = open_writer(self.db_path)  # writable: new questions' sentence vectors are kept
        except TriageError as exc:
            raise ReportError(str(exc)) from None
        with closing(db):
            embed = (lambda qs: question_vectors(db, matcher.encoder, qs)) if matcher.encoder is not None else None
            sure = matcher.thresholds.answer  # a catch below what an answer needs was not sure: editors see it
            return {section: group_questions(unanswered_questions(db, start, section, sure), matcher, embed=embed,
                                             section=section, place_limit=place_limit)
                    for section in sections}

    def actions(self, limit: int = 20) -> list[Action]:
        try:
            db = open_writer(self.db_path)
        except TriageError:
            return []
        with closing(db):
            return recent_actions(db, limit)

    # ------------------------------------------------------------ acting

    def _entry(self, entry_id: str | None, answers: bool) -> Entry:
        if not entry_id:
            raise TriageError("pick the entry first (on the command line: its id)")
        entry = self.replies().knowledge.entry(entry_id.strip())
        kind = "an answer entry" if answers else "an out-of-scope entry"
        if entry is None:
            raise TriageError(f"there is no entry {entry_id!r}")
        if entry.answers != answers:
            raise TriageError(f"{entry_id!r} is not {kind}")
        return entry

    def find_all(self, group_ids: list[str], since: str) -> list[Group]:
        if not group_ids:
            raise TriageError("pick at least one group")
        every = {g.id: g for groups in self.groups(since, place_limit=0).values() for g in groups}
        missing = [gid for gid in group_ids if gid.strip() not in every]
        if missing:
            raise TriageError(f"there is no group {missing[0]!r} in the questions since {since}. Groups change as "
                              "questions arrive: list them again (`editors unanswered --json`, with the same --since)")
        return [every[gid.strip()] for gid in dict.fromkeys(group_ids)]

    def act(self, editor: str, action: str, group_ids: str | list[str], entry_id: str | None = None,
            since: str = "30d") -> Outcome:
        """One triage action on one group, or on several at once (recorded as one action, undone as one);
        raises TriageError on a bad id or entry, before anything is changed."""
        if action == "out-of-scope" and not entry_id:
            action = "not-send"
        if action not in ACTIONS:
            raise TriageError(f"unknown action {action!r}: one of {', '.join(ACTIONS)}")
        entry = self._entry(entry_id, answers=action == "add-phrasing") \
            if action in ("add-phrasing", "out-of-scope") else None
        groups = self.find_all([group_ids] if isinstance(group_ids, str) else list(group_ids), since)
        message_ids = sorted(i for g in groups for i in g.message_ids)
        count = sum(g.count for g in groups)
        change = learned.Change(False)
        if entry is not None:
            known = {fold(q) for q in entry.questions}
            new = [text for g in groups for text in g.wordings if fold(text) not in known and fold(text)]
            change = learned.change(self.knowledge_dir, learned.adding(entry.id, new), self.topics)
            if change.problems:
                return Outcome(None, "Nothing was written: the knowledge would not be valid.", change.problems)
        try:
            with closing(open_writer(self.db_path)) as db:
                done = record(db, editor, action, message_ids, entry.id if entry else None, change.added)
        except TriageError:  # the questions were erased meanwhile: take the phrasings back out
            if change.written and entry is not None:
                learned.change(self.knowledge_dir, learned.removing(entry.id, change.added), self.topics)
            raise
        target = f" {entry.id}" if entry is not None else ""
        return self._after(done, change, f"Action {done.id}: {_questions(count)} {LABELS[action]}{target}.")

    def undo(self, editor: str, action_id: str) -> Outcome:
        """Undo one action, taking its phrasings back out of learned.yaml."""
        with closing(open_writer(self.db_path)) as db:
            action = get_action(db, action_id)
            check_undoable(db, action)
        change = learned.Change(False)
        if action.phrasings and action.entry:
            change = learned.change(self.knowledge_dir, learned.removing(action.entry, action.phrasings), self.topics)
            if change.problems:
                return Outcome(None, "Nothing was undone: the knowledge would not be valid.", change.problems)
        try:
            with closing(open_writer(self.db_path)) as db:
                done = undo(db, action, editor)
        except TriageError:  # another action came in meanwhile: put the phrasings back
            if change.written and action.entry:
                learned.change(self.knowledge_dir, learned.adding(action.entry, change.removed), self.topics)
            raise
        return self._after(done, change, f"Action {done.id}: undid action {action.id} ({action.describe()}).")

    def _after(self, done: Action, change: learned.Change, message: str) -> Outcome:
        if not change.written:
            return Outcome(done, message)
        words = (f" {_count(len(change.added), 'phrasing')} added to" if change.added
                 else f" {_count(len(change.removed), 'phrasing')} taken out of")
        problems = self.reload()
        if problems:
            return Outcome(done, f"{message}{words} {learned.LEARNED_FILE}, but the bot could not reload them.",
                           problems)
        return Outcome(done, f"{message}{words} {learned.LEARNED_FILE}.")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _questions(n: int) -> str:
    return _count(n, "question")
