"""What editors decided about unanswered questions, recorded so that every decision can be undone.

Each action (add as a phrasing, out of scope, not SEND, dismiss as noise, needs a new
answer) sets the triage state of a group's messages and is written to `editor_actions`
with who, when, the entry and each message's previous state, in one transaction. Undo
puts the previous states back, and only while no later action has changed those messages.

The same SQL on both stores, through the store's `transaction` and `read` (bot/store.py):
on SQLite BEGIN IMMEDIATE beside the running bot's writes (NOTES 12), on PostgreSQL one
pooled connection's transaction. Actions carry the store's tenant, and every message and
action is looked up within it: one council's editors can never touch another's questions.
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from ..store import LogWriter, Store

ACTION_COLUMNS = "id, at, editor, action, entry, detail, undone_by"
Query = Callable[..., Awaitable[list[tuple]]]  # a store's `read`, or a transaction's `fetch`

# action -> the triage state it gives the messages
STATES = {"add-phrasing": "phrasing", "out-of-scope": "out-of-scope", "not-send": "not-send",
          "dismiss": "noise", "needs-answer": "gap"}
LABELS = {"add-phrasing": "added as phrasings of", "out-of-scope": "marked out of scope, as",
          "not-send": "marked not SEND (ignored)", "dismiss": "dismissed as noise",
          "needs-answer": "kept as needing a new answer", "undo": "undid action"}


class TriageError(Exception):
    """An action cannot be done: a bad id, an entry of the wrong kind, an undo that is too late."""


@dataclass
class Action:
    id: int
    at: str
    editor: str
    action: str
    entry: str | None
    detail: dict = field(default_factory=dict)
    undone_by: int | None = None

    @property
    def message_ids(self) -> list[int]:
        return [int(i) for i in self.detail.get("messages", [])]

    @property
    def phrasings(self) -> list[str]:
        return list(self.detail.get("phrasings", []))

    def describe(self) -> str:
        what = LABELS.get(self.action, self.action)
        target = f" {self.entry}" if self.entry and self.action in ("add-phrasing", "out-of-scope") else ""
        if self.action == "undo":
            target = f" {self.detail.get('undoes')}"
        if self.action == "undo":
            return f"{what}{target}"
        count = len(self.message_ids)
        return f"{what}{target} ({count} question{'' if count == 1 else 's'})"

    def as_dict(self) -> dict:
        return {"id": self.id, "at": self.at, "editor": self.editor, "action": self.action, "entry": self.entry,
                "messages": self.message_ids, "phrasings": self.phrasings, "undone_by": self.undone_by,
                "description": self.describe()}


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def _marks(values: list[Any]) -> str:
    return ",".join("?" * len(values))


async def _states(tx: LogWriter, message_ids: list[int]) -> dict[str, list | None]:
    found: dict[str, list | None] = {str(i): None for i in message_ids}
    for message_id, state, entry, action_id in await tx.fetch(
            f"SELECT message_id, state, entry, action_id FROM triage WHERE message_id IN ({_marks(message_ids)})",
            *message_ids):  # noqa: S608 (placeholders only)
        found[str(message_id)] = [state, entry, action_id]
    return found


async def record(log: Store, editor: str, action: str, message_ids: list[int], entry: str | None = None,
                 phrasings: list[str] | None = None) -> Action:
    """Set the messages' state for `action` and record it, with their previous states, in one transaction."""
    if action not in STATES:
        raise TriageError(f"unknown action {action!r}")
    if not message_ids:
        raise TriageError("the group has no questions")
    async with log.transaction() as tx:
        present = [r[0] for r in await tx.fetch(
            f"SELECT id FROM messages WHERE tenant = ? AND id IN ({_marks(message_ids)}) ORDER BY id",
            log.tenant, *message_ids)]  # noqa: S608
        if not present:
            raise TriageError("those questions are no longer in the log (erased or purged)")
        detail = {"messages": present, "previous": await _states(tx, present), "phrasings": phrasings or []}
        at = _now()
        [(action_id,)] = await tx.fetch(
            "INSERT INTO editor_actions (at, editor, action, entry, detail, tenant) VALUES (?, ?, ?, ?, ?, ?)"
            " RETURNING id", at, editor, action, entry, json.dumps(detail), log.tenant)
        await tx.executemany(
            "INSERT INTO triage (message_id, state, entry, action_id) VALUES (?, ?, ?, ?) ON CONFLICT (message_id)"
            " DO UPDATE SET state = excluded.state, entry = excluded.entry, action_id = excluded.action_id",
            [(i, STATES[action], entry, action_id) for i in present])
    return Action(int(action_id), at, editor, action, entry, detail)


def _action(row: tuple) -> Action:
    id, at, editor, action, entry, detail, undone_by = row
    return Action(int(id), at, editor, action, entry, json.loads(detail), undone_by)


async def get_action(query: Query, tenant: str, action_id: int | str) -> Action:
    try:
        number = int(str(action_id).lstrip("aA#"))
    except ValueError:
        raise TriageError(f"{action_id!r} is not an action id (a number from `editors actions`)") from None
    rows = await query(f"SELECT {ACTION_COLUMNS} FROM editor_actions WHERE tenant = ? AND id = ?", tenant, number)
    if not rows:
        raise TriageError(f"there is no action {number}")
    return _action(rows[0])


async def recent_actions(log: Store, limit: int = 20) -> list[Action]:
    rows = await log.read(f"SELECT {ACTION_COLUMNS} FROM editor_actions WHERE tenant = ? ORDER BY id DESC LIMIT ?",
                          log.tenant, limit)
    return [_action(r) for r in rows]


async def check_undoable(query: Query, action: Action) -> None:
    """Raise TriageError unless undoing `action` now would put back exactly what it changed."""
    if action.action == "undo":
        raise TriageError(f"action {action.id} is itself an undo; to redo, take the action again")
    if action.undone_by is not None:
        raise TriageError(f"action {action.id} was already undone (by action {action.undone_by})")
    ids = action.message_ids
    later = {row[0] for row in await query(
        f"SELECT action_id FROM triage WHERE message_id IN ({_marks(ids)})", *ids)} - {action.id} if ids else set()
    if later:
        raise TriageError(f"a later action ({', '.join(map(str, sorted(later)))}) changed these questions: "
                          "undo that first")


async def undo(log: Store, action_id: int | str, editor: str) -> tuple[Action, Action]:
    """Put back the states an action replaced, and record the undo: (the action, its undo)."""
    async with log.transaction() as tx:
        action = await get_action(tx.fetch, log.tenant, action_id)
        await check_undoable(tx.fetch, action)
        for message_id, previous in action.detail.get("previous", {}).items():
            if previous is None:
                await tx.execute("DELETE FROM triage WHERE message_id = ? AND action_id = ?", int(message_id), action.id)
            else:
                state, entry, old_action = previous
                await tx.execute("UPDATE triage SET state = ?, entry = ?, action_id = ? WHERE message_id = ?"
                                 " AND action_id = ?", state, entry, old_action, int(message_id), action.id)
        detail = {"undoes": action.id, "messages": action.message_ids}
        at = _now()
        [(undo_id,)] = await tx.fetch(
            "INSERT INTO editor_actions (at, editor, action, entry, detail, tenant) VALUES (?, ?, 'undo', ?, ?, ?)"
            " RETURNING id", at, editor, action.entry, json.dumps(detail), log.tenant)
        await tx.execute("UPDATE editor_actions SET undone_by = ? WHERE id = ?", int(undo_id), action.id)
    return action, Action(int(undo_id), at, editor, "undo", action.entry, detail)
