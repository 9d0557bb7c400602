"""Private files: what the bot writes holds families' messages or keys, so only its own user may read it.

Folders are made 0700 and files 0600 from their first byte, never made readable and then
narrowed (a reader could open them in between). SQLite gives its -wal and -shm side files
the mode of the database file, so creating the database file 0600 first covers them too.
"""
from __future__ import annotations

import os
from pathlib import Path

PRIVATE_UMASK = 0o077
SIDE_FILES = ("-wal", "-shm", "-journal")


def private_umask() -> None:
    """Every file and folder this process creates from now on is for its own user only."""
    os.umask(PRIVATE_UMASK)


def private_dir(path: Path) -> None:
    """Make the folder (and missing parents) 0700; an existing folder is the operator's and is left alone."""
    if not path.exists():
        path.mkdir(mode=0o700, parents=True, exist_ok=True)


def private_database(path: Path) -> None:
    """Create the database file 0600 before SQLite opens it, and narrow an older one and its side files."""
    private_dir(path.parent)
    if os.name != "posix":
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
    os.close(fd)
    for suffix in ("", *SIDE_FILES):
        side = path.with_name(path.name + suffix)
        if side.exists() and side.stat().st_mode & 0o077:
            os.chmod(side, 0o600)
