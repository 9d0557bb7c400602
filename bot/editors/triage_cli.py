"""The CLI twins of the page's triage buttons: `python main.py editors ACTION ...`.

    editors add-phrasing GROUP_ID ENTRY_ID     the group's questions become phrasings of the entry
    editors out-of-scope GROUP_ID [ENTRY_ID]   caught by that out-of-scope entry from now on; without
                                               an entry: not SEND, ignore (the same as not-send)
    editors dismiss GROUP_ID                   noise: not a question
    editors needs-answer GROUP_ID              kept on the list of gaps, with its count
    editors undo ACTION_ID                     put back what an action changed
    editors actions                            the latest actions, newest first

Group ids come from `editors unanswered --json` (use the same --since). A bad id exits 1
with a message; nothing is changed.
"""
from __future__ import annotations

import argparse
import getpass
import json
import os
import signal
import sys
from typing import Awaitable, Callable

from ..config import Settings
from ..knowledge import BUNDLED_DIR
from ..matcher import Matcher
from ..reload import running_server
from ..replies import Replies
from ..store import Store
from .desk import Desk, Outcome
from .triage import TriageError

Command = Callable[[argparse.Namespace, Settings, Store], Awaitable[int]]  # an editors' command, on the open log


def desk(settings: Settings, log: Store, matcher: Matcher | None = None) -> Desk:
    loaded: list[Replies] = []

    def replies() -> Replies:
        if not loaded:
            from ..signpost import build_replies  # loads and validates the knowledge base

            loaded.append(build_replies(settings.knowledge_dir))
        return loaded[0]

    return Desk(log, settings.knowledge_dir or BUNDLED_DIR, replies, lambda: _signal_server(settings))


def _signal_server(settings: Settings) -> list[str]:
    """Ask the running server to reload (SIGHUP); it keeps its old knowledge if the files fail."""
    pid, reason = running_server(settings)
    if pid is None or not hasattr(signal, "SIGHUP"):
        print(f"Not reloaded: {reason or 'no SIGHUP here'}. The bot will load the change when it next starts.",
              file=sys.stderr)
        return []
    os.kill(pid, signal.SIGHUP)
    print(f"Asked the server (pid {pid}) to reload the knowledge.", file=sys.stderr)
    return []


def _editor(args: argparse.Namespace) -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"cli:{args.by or user}"


def _ids(args: argparse.Namespace, least: int, most: int, usage: str) -> list[str]:
    ids = list(args.ids or [])
    if not least <= len(ids) <= most:
        raise TriageError(f"usage: python main.py editors {args.report} {usage}")
    return ids + [None] * (most - len(ids))  # type: ignore[list-item]


def _report(args: argparse.Namespace, outcome: Outcome) -> int:
    if args.json:
        print(json.dumps({"ok": outcome.ok, "message": outcome.message, "problems": outcome.problems,
                          "action": outcome.action.as_dict() if outcome.action else None}, ensure_ascii=False))
    else:
        print(outcome.message)
        for problem in outcome.problems:
            print(f"  {problem}", file=sys.stderr)
    return 0 if outcome.ok and not outcome.problems else 1


def _action(name: str, least: int, most: int, usage: str) -> Command:
    async def command(args: argparse.Namespace, settings: Settings, log: Store) -> int:
        group_id, entry_id = _ids(args, least, most, usage) + [None] * (2 - most)
        return _report(args, await desk(settings, log).act(_editor(args), name, group_id, entry_id, args.since))
    return command


async def undo(args: argparse.Namespace, settings: Settings, log: Store) -> int:
    (action_id,) = _ids(args, 1, 1, "ACTION_ID")
    return _report(args, await desk(settings, log).undo(_editor(args), action_id))


async def actions(args: argparse.Namespace, settings: Settings, log: Store) -> int:
    found = [a.as_dict() for a in await desk(settings, log).actions(50)]
    if args.json:
        print(json.dumps(found, ensure_ascii=False, indent=2))
        return 0
    for a in found:
        undone = f"  (undone by {a['undone_by']})" if a["undone_by"] else ""
        print(f"{a['id']:>5}  {a['at'][:16]}  {a['editor']:<20}  {a['description']}{undone}")
    if not found:
        print("No editors' actions yet.")
    return 0


COMMANDS: dict[str, Command] = {
    "add-phrasing": _action("add-phrasing", 2, 2, "GROUP_ID ENTRY_ID"),
    "out-of-scope": _action("out-of-scope", 1, 2, "GROUP_ID [ENTRY_ID]"),
    "not-send": _action("not-send", 1, 1, "GROUP_ID"),
    "dismiss": _action("dismiss", 1, 1, "GROUP_ID"),
    "needs-answer": _action("needs-answer", 1, 1, "GROUP_ID"),
    "undo": undo,
    "actions": actions,
}
