"""Shared fixtures: small knowledge directories written to real files, and a real SQLite store."""
from __future__ import annotations

import os
import textwrap
from functools import lru_cache
from pathlib import Path

import pytest

from bot.knowledge import BUNDLED_DIR, load_knowledge
from bot.matcher import Matcher
from bot.replies import Replies
from bot.crisis import load_crisis_rules
from bot.store import SQLiteStore

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
# One sentence-vector cache for the whole run, whatever folder a test starts the bot in: a server
# started in a fresh folder would otherwise embed every example question again (about 10 s each).
os.environ.setdefault("SIGNPOST_CACHE_DIR", str(ROOT / "data"))

SMALL_KB = """
- id: ehcp-what-is
  title: What an EHC plan is
  questions: [what is an ehcp, what does an education health and care plan do, ehc plan meaning]
  answer: An EHC plan is a legal document about your child's needs.
  sms: An EHC plan is a legal document about your child's needs.
  related: [ehcp-request]
  services: [sendiass]
- id: ehcp-request
  title: How to ask for an EHC needs assessment
  questions: [how do i apply for an ehcp, request an ehc needs assessment, can a parent ask the council for an assessment]
  answer: You can write to the council yourself to ask for an assessment.
- id: school-transport
  title: Travel to school
  questions: [free transport to school, taxi to special school, school bus for my disabled child]
  answer: Your child may get free travel to school.
- id: camhs-referral
  title: Getting a CAMHS referral
  questions: [how do i get a camhs referral, who can refer to camhs]
  answer: Your GP or school can refer your child to CAMHS.
- id: camhs-waiting
  title: Waiting for CAMHS
  questions: [how long is the camhs waiting list, camhs waiting times]
  answer: While you wait for CAMHS, ask the school about wellbeing support.
- id: short-breaks
  title: Short breaks
  questions: [short breaks for disabled children, respite care, a break from caring]
  answer: Short breaks give disabled children time away and give you a rest.
"""


def write_kb(directory: Path, entries: str = SMALL_KB, **files: str) -> Path:
    """Write a knowledge directory: entries.yaml plus any named files (services="...")."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "entries.yaml").write_text(textwrap.dedent(entries), encoding="utf-8")
    for name, text in files.items():
        (directory / f"{name}.yaml").write_text(textwrap.dedent(text), encoding="utf-8")
    return directory


@pytest.fixture
def small_kb(tmp_path: Path) -> Path:
    return write_kb(tmp_path / "kb", services="""
        services:
          - id: sendiass
            name: SENDIASS
            phone: "01905 768153"
            checked: true
            hours:
              - {days: [mon, tue, wed, thu, fri], open: "09:00", close: "17:00"}
        """, lexicon="""
        lexicon:
          ehcp: [echp, ehc plan, education health and care plan]
        """, groups="""
        groups:
          - id: plans
            title: EHC plans
            topics: [ehcp-what-is, ehcp-request]
          - id: family
            title: Family life
            topics: [short-breaks, school-transport]
        """)


@pytest.fixture
def small_replies(small_kb: Path) -> Replies:
    knowledge = load_knowledge(small_kb)
    return Replies(knowledge, Matcher(knowledge), load_crisis_rules())


@lru_cache(maxsize=1)
def _bundled() -> Replies:
    knowledge = load_knowledge(BUNDLED_DIR)
    return Replies(knowledge, Matcher(knowledge), load_crisis_rules())


def pytest_sessionstart(session: pytest.Session) -> None:
    """Build the bundled bot once before any test runs, outside every test's time limit: on a new machine
    that embeds every example question and trains the classifiers (1.5-3 minutes on 2 cores, longer than
    a test may take); afterwards each build, a served bot's included, reads the cache in seconds."""
    if not session.config.getoption("collectonly"):
        _bundled()


@pytest.fixture(scope="session")
def bundled_replies() -> Replies:
    return _bundled()


@pytest.fixture
async def store(tmp_path: Path):
    async with SQLiteStore(tmp_path / "log.sqlite3") as opened:
        yield opened


# ------------------------------------------------------------------ PostgreSQL (tests/postgres_server.py)

@pytest.fixture(scope="session")
def postgres():
    """One real PostgreSQL server for the run, in a temporary directory; skipped with the reason where there is none."""
    from postgres_server import start_server, unavailable_reason

    if reason := unavailable_reason():
        pytest.skip(reason)
    server = start_server()
    yield server
    server.stop()


_databases = iter(range(1, 1_000_000))


@pytest.fixture
def postgres_url(postgres) -> str:
    """A fresh, empty database on the test server: nothing leaks from one test into the next."""
    from postgres_server import create_database

    return create_database(postgres, f"signpost_test_{next(_databases)}")


@pytest.fixture(params=["sqlite", "postgresql"])
async def any_store(request, tmp_path: Path):
    """The same store tests on both stores: a SQLite file, and a fresh PostgreSQL database."""
    from bot.store import open_store

    address = str(tmp_path / "log.sqlite3") if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    opened = await open_store(address)
    yield opened
    await opened.close()
