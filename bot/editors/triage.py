"""What editors decided about unanswered questions, recorded so that every decision can be undone.

Each action (add as a phrasing, out of scope, not SEND, dismiss as noise, needs a new
answer) sets the triage state of a group's messages and is written to `editor_actions`
with who, when, the entry and each message's previous state, in one transaction. Undo
puts the previous states back, and only while no later action has changed those messages.

Plain sqlite3 with BEGIN IMMEDIATE and a busy timeout: the editors' tools write beside
the running bot's own connection (NOTES 12), from the page's thread pool or the CLI.
"""
from __future__ import annotations

import datetime as dt
import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from ..store import SCHEMA

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


def open_writer(path: Path | str) -> sqlite3.Connection:
    """A writable connection to the log, with the editors' tables in place."""
    path = Path(path)
    if not path.is_file():
        raise TriageError(f"no log at {path}: has the bot run with this --db?")
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=5)
    db.row_factory = sqlite3.Row
    for pragma in ("busy_timeout=5000", "foreign_keys=ON", "synchronous=NORMAL"):
        db.execute(f"PRAGMA {pragma}")
    db.executescript(SCHEMA)  # CREATE ... IF NOT EXISTS: a log from before these tables gets them
    return db


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, kind: object, *rest: object) -> None:
        self.db.execute("ROLLBACK" if kind else "COMMIT")


def _states(db: sqlite3.Connection, message_ids: list[int]) -> dict[str, list | None]:
    found = {str(i): None for i in message_ids}
    for row in db.execute(f"SELECT message_id, state, entry, action_id FROM triage WHERE message_id IN "
                          f"({','.join('?' * len(message_ids))})", message_ids):  # noqa: S608
        found[str(row["message_id"])] = [row["state"], row["entry"], row["action_id"]]
    return found


def record(db: sqlite3.Connection, editor: str, action: str, message_ids: list[int], entry: str | None = None,
           phrasings: list[str] | None = None) -> Action:
    """Set the messages' state for `action` and record it, with their previous states, in one transaction."""
    if action not in STATES:
        raise TriageError(f"unknown action {action!r}")
    if not message_ids:
        raise TriageError("the group has no questions")
    with _Transaction(db):
        present = [r[0] for r in db.execute(f"SELECT id FROM messages WHERE id IN ({','.join('?' * len(message_ids))})",
                                            message_ids)]  # noqa: S608
        if not present:
            raise TriageError("those questions are no longer in the log (erased or purged)")
        detail = {"messages": present, "previous": _states(db, present), "phrasings": phrasings or []}
        at = _now()
        cursor = db.execute("INSERT INTO editor_actions (at, editor, action, entry, detail) VALUES (?, ?, ?, ?, ?)",
                            (at, editor, action, entry, json.dumps(detail)))
        action_id = int(cursor.lastrowid or 0)
        db.executemany("INSERT OR REPLACE INTO triage (message_id, state, entry, action_id) VALUES (?, ?, ?, ?)",
                       [(i, STATES[action], entry, action_id) for i in present])
    return Action(action_id, at, editor, action, entry, detail)


def _action(row: sqlite3.Row) -> Action:
    return Action(row["id"], row["at"], row["editor"], row["action"], row["entry"], json.loads(row["detail"]),
                  row["undone_by"])


def get_action(db: sqlite3.Connection, action_id: int | str) -> Action:
    try:
        number = int(str(action_id).lstrip("aA#"))
    except ValueError:
        raise TriageError(f"{action_id!r} is not an action id (a number from `editors actions`)") from None
    row = db.execute("SELECT * FROM editor_actions WHERE id = ?", (number,)).fetchone()
    if row is None:
        raise TriageError(f"there is no action {number}")
    return _action(row)


def recent_actions(db: sqlite3.Connection, limit: int = 20) -> list[Action]:
    return [_action(r) for r in db.execute("SELECT * FROM editor_actions ORDER BY id DESC LIMIT ?", (limit,))]


def check_undoable(db: sqlite3.Connection, action: Action) -> None:
    """Raise TriageError unless undoing `action` now would put back exactly what it changed."""
    if action.action == "undo":
        raise TriageError(f"action {action.id} is itself an undo; to redo, take the action again")
    if action.undone_by is not None:
        raise TriageError(f"action {action.id} was already undone (by action {action.undone_by})")
    later = {row[0] for row in db.execute(
        f"SELECT action_id FROM triage WHERE message_id IN ({','.join('?' * len(action.message_ids))})",
        action.message_ids)} - {action.id}  # noqa: S608
    if later:
        raise TriageError(f"a later action ({', '.join(map(str, sorted(later)))}) changed these questions: "
                          "undo that first")


def undo(db: sqlite3.Connection, action: Action, editor: str) -> Action:
    """Put back the states `action` replaced, and record the undo."""
    with _Transaction(db):
        check_undoable(db, action)
        for message_id, previous in action.detail.get("previous", {}).items():
            if previous is None:
                db.execute("DELETE FROM triage WHERE message_id = ? AND action_id = ?", (int(message_id), action.id))
            else:
                state, entry, old_action = previous
                db.execute("UPDATE triage SET state = ?, entry = ?, action_id = ? WHERE message_id = ? AND action_id = ?",
                           (state, entry, old_action, int(message_id), action.id))
        detail = {"undoes": action.id, "messages": action.message_ids}
        at = _now()
        cursor = db.execute("INSERT INTO editor_actions (at, editor, action, entry, detail) VALUES (?, ?, 'undo', ?, ?)",
                            (at, editor, action.entry, json.dumps(detail)))
        undo_id = int(cursor.lastrowid or 0)
        db.execute("UPDATE editor_actions SET undone_by = ? WHERE id = ?", (undo_id, action.id))
    return Action(undo_id, at, editor, "undo", action.entry, detail)
