"""Reload the knowledge files without a restart: `python main.py kb reload`, or SIGHUP.

The running server writes its pid next to the database (`data/signpost.pid`).
`kb reload` first validates the files itself, so an editor sees the problems at once,
then sends SIGHUP to that pid; the server's handler calls `Signpost.reload()`, which
keeps the old knowledge if the files fail and shows why on the editors' page.

bot/server.py installs the SIGHUP handler; it calls `write_pid(settings)` once the
server is up and `remove_pid(settings)` on the way out.

A pid file is only believed when it is a plain file (not a symlink) owned by this user
and writable by no one else, and the process it names was started when the file says,
runs as this user and runs this Python: a planted pid (a `sleep`, say) is never signalled.
The file is written through a private temporary file renamed into place, so a symlink
planted at its name is replaced, never followed.
"""
from __future__ import annotations

import os
import secrets
import signal
import stat
import sys
from pathlib import Path

from .config import Settings
from .files import private_dir
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
    private_dir(path.parent)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(f"{os.getpid()} {_started(os.getpid())}\n")
    os.replace(temporary, path)  # replaces a symlink at `path` itself, never what it points to
    return path


def _untrusted_file(path: Path) -> str | None:
    """Why the pid file cannot be believed, or None."""
    info = path.lstat()
    if not stat.S_ISREG(info.st_mode):
        return f"{path} is not a plain file"
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        return f"{path} belongs to another user"
    if info.st_mode & 0o022:
        return f"{path} can be written by other users"
    return None


def _not_our_server(pid: int) -> str | None:
    """Why the process is not a server of ours (another user, another program), or None. Linux only."""
    proc = Path(f"/proc/{pid}")
    if not proc.exists():
        return None  # no /proc here: the start-time and ownership checks are all we have
    try:
        if hasattr(os, "getuid") and proc.stat().st_uid != os.getuid():
            return f"pid {pid} runs as another user"
        if os.path.realpath(proc / "exe") != os.path.realpath(sys.executable):
            return f"pid {pid} is not this Python: the pid file does not name the server"
    except OSError:
        return f"pid {pid} cannot be checked"
    return None


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
        if (distrust := _untrusted_file(path)) is not None:
            return None, distrust
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
    if (other := _not_our_server(pid)) is not None:
        return None, other
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
