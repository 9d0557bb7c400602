"""The log an editors' command works on: the bot's own store, opened for the command and bound to one council.

The same store the bot writes (bot/store.py), SQLite or PostgreSQL, so the CLI reports and
triage run the same queries as the page. With SIGNPOST_TENANTS every row carries its
council, and `--tenant ID` names the council: its log, knowledge and tenant id; the store
then reads and writes that council's rows only.
"""
from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from ..config import ConfigError, Settings
from ..store import Store, open_store
from .reports import ReportError


def council(settings: Settings, tenant: str | None) -> tuple[Settings, str]:
    """The settings and tenant id a command works on: one council's, with SIGNPOST_TENANTS."""
    if settings.tenants_file is None:
        if tenant:
            raise ReportError("--tenant names a council of SIGNPOST_TENANTS, and it is not set")
        return settings, ""
    from ..tenants import load_tenants

    try:
        councils = {t.id: t for t in load_tenants(settings.tenants_file, settings)}
    except ConfigError as exc:
        raise ReportError("; ".join(exc.problems)) from None
    if tenant not in councils:
        raise ReportError(f"name the council with --tenant: one of {', '.join(sorted(councils))}")
    return councils[tenant].settings, tenant


@contextlib.asynccontextmanager
async def opened_log(settings: Settings, tenant: str) -> AsyncIterator[Store]:
    """The council's log, open for one command; ReportError when a SQLite log does not exist (none is created)."""
    if not settings.db_url and not settings.db_path.is_file():
        raise ReportError(f"no log at {settings.db_path}: has the bot run with this --db?")
    store = await open_store(settings.database, tenant)
    try:
        yield store
    finally:
        await store.close()
