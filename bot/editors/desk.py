"""The editors' desk: the lists of grouped questions and the triage actions on them.

The page (bot/editors/web.py) and the CLI (bot/editors/commands.py) both work through a
Desk, so every action on the page has a CLI twin that does exactly the same thing. A
Desk holds the council's log (its store, either kind, bound to its tenant), where its
knowledge is, which knowledge is loaded now, and how to make the running bot reload it
(the page reloads in-process; the CLI signals the server). The log is read and written on
the event loop; grouping, knowledge files and reloads, which take CPU or disk, in a thread.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..knowledge import BUNDLED_DIR, Entry
from ..replies import Replies
from ..store import Store
from ..text import fold
from . import learned
from .grouping import Group, group_questions
from .reports import SECTIONS, parse_since, unanswered_questions
from .triage import LABELS, Action, TriageError, check_undoable, get_action, recent_actions, record, undo
from .vectors import kept_vectors

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
    log: Store
    knowledge_dir: Path
    replies: Callable[[], Replies]  # the knowledge and matcher loaded now
    reload: Callable[[], list[str]]  # make the running bot read the knowledge again; its problems

    @property
    def topics(self) -> Path | None:
        same = self.knowledge_dir.resolve() == BUNDLED_DIR.resolve()
        return SHARED_TOPICS if same and SHARED_TOPICS.is_file() else None

    # ------------------------------------------------------------ reading

    async def groups(self, since: str, sections: tuple[str, ...] = SECTIONS,
                     place_limit: int | None = None) -> dict[str, list[Group]]:
        """Each list's questions grouped by meaning, biggest first."""
        start = parse_since(since)
        matcher = self.replies().matcher
        sure = matcher.thresholds.answer  # a catch below what an answer needs was not sure: editors see it
        found = {}
        for section in sections:
            questions = await unanswered_questions(self.log, start, section, sure)
            vectors = await kept_vectors(self.log, matcher.encoder, questions) if matcher.encoder is not None else None
            found[section] = await asyncio.to_thread(group_questions, questions, matcher, embed=vectors,
                                                     section=section, place_limit=place_limit)
            if vectors is not None:
                await vectors.keep(self.log)  # new questions' sentence vectors, for the next time
        return found

    async def actions(self, limit: int = 20) -> list[Action]:
        return await recent_actions(self.log, limit)

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

    async def find_all(self, group_ids: list[str], since: str) -> list[Group]:
        if not group_ids:
            raise TriageError("pick at least one group")
        every = {g.id: g for groups in (await self.groups(since, place_limit=0)).values() for g in groups}
        missing = [gid for gid in group_ids if gid.strip() not in every]
        if missing:
            raise TriageError(f"there is no group {missing[0]!r} in the questions since {since}. Groups change as "
                              "questions arrive: list them again (`editors unanswered --json`, with the same --since)")
        return [every[gid.strip()] for gid in dict.fromkeys(group_ids)]

    async def act(self, editor: str, action: str, group_ids: str | list[str], entry_id: str | None = None,
            since: str = "30d") -> Outcome:
        """One triage action on one group, or on several at once (recorded as one action, undone as one);
        raises TriageError on a bad id or entry, before anything is changed."""
        if action == "out-of-scope" and not entry_id:
            action = "not-send"
        if action not in ACTIONS:
            raise TriageError(f"unknown action {action!r}: one of {', '.join(ACTIONS)}")
        entry = self._entry(entry_id, answers=action == "add-phrasing") \
            if action in ("add-phrasing", "out-of-scope") else None
        groups = await self.find_all([group_ids] if isinstance(group_ids, str) else list(group_ids), since)
        message_ids = sorted(i for g in groups for i in g.message_ids)
        count = sum(g.count for g in groups)
        change = learned.Change(False)
        if entry is not None:
            known = {fold(q) for q in entry.questions}
            new = [text for g in groups for text in g.wordings if fold(text) not in known and fold(text)]
            change = await self._change(learned.adding(entry.id, new))
            if change.problems:
                return Outcome(None, "Nothing was written: the knowledge would not be valid.", change.problems)
        try:
            done = await record(self.log, editor, action, message_ids, entry.id if entry else None, change.added)
        except TriageError:  # the questions were erased meanwhile: take the phrasings back out
            if change.written and entry is not None:
                await self._change(learned.removing(entry.id, change.added))
            raise
        target = f" {entry.id}" if entry is not None else ""
        return await self._after(done, change, f"Action {done.id}: {_questions(count)} {LABELS[action]}{target}.")

    async def undo(self, editor: str, action_id: str) -> Outcome:
        """Undo one action, taking its phrasings back out of learned.yaml."""
        action = await get_action(self.log.read, self.log.tenant, action_id)
        await check_undoable(self.log.read, action)
        change = learned.Change(False)
        if action.phrasings and action.entry:
            change = await self._change(learned.removing(action.entry, action.phrasings))
            if change.problems:
                return Outcome(None, "Nothing was undone: the knowledge would not be valid.", change.problems)
        try:  # checked again inside the transaction: another action may have come in meanwhile
            action, done = await undo(self.log, action.id, editor)
        except TriageError:  # it did: put the phrasings back
            if change.written and action.entry:
                await self._change(learned.adding(action.entry, change.removed))
            raise
        return await self._after(done, change, f"Action {done.id}: undid action {action.id} ({action.describe()}).")

    async def _change(self, edit: Callable[[learned.Phrasings], learned.Phrasings]) -> learned.Change:
        """learned.yaml changed and the knowledge checked with it, in a thread (it reads every file)."""
        return await asyncio.to_thread(learned.change, self.knowledge_dir, edit, self.topics)

    async def _after(self, done: Action, change: learned.Change, message: str) -> Outcome:
        if not change.written:
            return Outcome(done, message)
        words = (f" {_count(len(change.added), 'phrasing')} added to" if change.added
                 else f" {_count(len(change.removed), 'phrasing')} taken out of")
        problems = await asyncio.to_thread(self.reload)
        if problems:
            return Outcome(done, f"{message}{words} {learned.LEARNED_FILE}, but the bot could not reload them.",
                           problems)
        return Outcome(done, f"{message}{words} {learned.LEARNED_FILE}.")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _questions(n: int) -> str:
    return _count(n, "question")
