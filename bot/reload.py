"""Reload the knowledge files without a restart: `python main.py kb reload`, or SIGHUP.

The running server writes its pid next to the database (`data/signpost.pid`).
`kb reload` first validates the files itself, so an editor sees the problems at once,
then sends SIGHUP to that pid; the server's handler calls `Signpost.reload()`, which
keeps the old knowledge if the files fail and shows why on the editors' page.

bot/server.py installs the SIGHUP handler; it calls `write_pid(settings)` once the
server is up and `remove_pid(settings)` on the way out.
"""
from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from .config import Settings
from .knowledge import KnowledgeError



def pid_path(settings: Settings) -> Path:
    return settings.db_path.parent / "signpost.pid"


def _started(pid: int) -> str:
    """The process's start time in clock ticks (Linux), so a reused pid is not mistaken for ours."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rsplit(")", 1)[1].split()[19]  # field 22; the name in brackets may hold spaces


def write_pid(settings: Settings) -> Path:
    path = pid_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{os.getpid()} {_started(os.getpid())}\n")
    return path


def remove_pid(settings: Settings) -> None:
    """Remove the pid file if it is still ours (another server may have started since)."""
    path = pid_path(settings)
    try:
        if path.read_text().split()[:1] == [str(os.getpid())]:
            path.unlink()
    except (OSError, IndexError):
        pass


def running_server(settings: Settings) -> tuple[int | None, str]:
    """The pid of the running server, or None and the reason there is none."""
    path = pid_path(settings)
    try:
        fields = path.read_text().split()
        pid = int(fields[0])
    except FileNotFoundError:
        return None, f"no running server found (no {path})"
    except (OSError, ValueError, IndexError):
        return None, f"{path} is not a pid file"
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None, f"the server in {path} (pid {pid}) is not running"
    except PermissionError:
        return None, f"not allowed to signal pid {pid}: run this as the server's user"
    if len(fields) > 1 and fields[1] != _started(pid):
        return None, f"pid {pid} from {path} is now another process: the server is not running"
    return pid, ""


def request_reload(settings: Settings) -> int:
    """Validate the knowledge files, then ask the running server to reload them."""
    from .signpost import build_replies

    try:
        replies = build_replies(settings.knowledge_dir)
    except KnowledgeError as exc:
        print("The knowledge files have problems; nothing was reloaded and the bot keeps its current answers:",
              file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    print(f"The knowledge files are valid ({len(replies.knowledge.entries)} entries).")
    if not hasattr(signal, "SIGHUP"):
        print("This system has no SIGHUP: restart the server to load them.", file=sys.stderr)
        return 1
    pid, reason = running_server(settings)
    if pid is None:
        print(f"Not reloaded: {reason}. The bot will load these files when it next starts.", file=sys.stderr)
        return 1
    os.kill(pid, signal.SIGHUP)
    print(f"Asked the server (pid {pid}) to reload. If it refuses the files, the editors' page says why.")
    return 0
