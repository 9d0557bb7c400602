"""Faults: the server killed mid-load, stopped with SIGTERM under load, and a database that refuses writes.

The first two run the real `python main.py serve` as a subprocess on a free loopback port;
the last runs the real app in-process so the test can break its database connection.
Telegram's own failures (500s, 429 with retry_after) are covered in tests/test_telegram.py.
"""
from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from bot.redaction import redact
from bot.store import storable
from bot.web import create_app
from fake_telegram import FakeTelegram
from ports import free_port
from twilio_client import PATH, TOKEN, Phone, log_rows, make_signpost, running, settings_for, sign, twilio_form

ROOT = Path(__file__).resolve().parent.parent
SECRET = "fault-test-secret-" + "x" * 32
QUESTIONS = ["What is an EHC plan?", "short breaks for disabled children", "camhs waiting list",
             "school transport for my son", "help while we wait for an autism assessment", "what is sendiass"]
IN_FLIGHT = 32


def tag(number: int) -> str:
    """A made-up word unique to one message, so its log row can be found again."""
    letters = ""
    for _ in range(4):
        number, digit = divmod(number, 26)
        letters += chr(ord("a") + digit)
    return "zq" + letters


def forms(count: int, start: int = 0) -> list[dict[str, str]]:
    return [twilio_form(f"{QUESTIONS[n % len(QUESTIONS)]} {tag(n)}", sender=f"+4477009{n % 50:05d}",
                        sid=f"SMfault{n:025d}") for n in range(start, start + count)]


@dataclass
class Server:
    """`python main.py serve` on a free port, with its output in a file (a full pipe would block it)."""

    tmp_path: Path
    db: Path
    port: int = field(default_factory=free_port)
    process: asyncio.subprocess.Process | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> "Server":
        env = {**os.environ, "SIGNPOST_DB": str(self.db), "SIGNPOST_SECRET": SECRET, "TWILIO_AUTH_TOKEN": TOKEN,
               "PUBLIC_BASE_URL": self.base, "SIGNPOST_RATE_LIMIT_COUNT": "10000"}
        env.pop("TELEGRAM_BOT_TOKEN", None)
        output = open(self.tmp_path / f"server-{self.port}.log", "wb")  # noqa: SIM115 - the child keeps it
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, str(ROOT / "main.py"), "serve", "--host", "127.0.0.1", "--port", str(self.port),
            cwd=self.tmp_path, env=env, stdout=output, stderr=output)
        output.close()
        await asyncio.wait_for(self._healthy(), 30)
        return self

    async def _healthy(self) -> None:
        async with httpx.AsyncClient() as client:
            while True:
                assert self.process is not None and self.process.returncode is None, self.output()
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get(f"{self.base}/healthz", timeout=2)).status_code == 200:
                        return
                await asyncio.sleep(0.05)

    def output(self) -> str:
        return (self.tmp_path / f"server-{self.port}.log").read_text(errors="replace")

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()


@dataclass
class Sent:
    form: dict[str, str]
    status: int | None = None  # None: no HTTP answer (connection refused or cut)
    twiml: str = ""
    started: float = 0.0
    finished: float = 0.0
    error: str = ""  # the transport error, when there was no HTTP answer


async def post_all(base: str, batch: list[dict[str, str]], on_answer=None) -> list[Sent]:
    """Post signed webhooks, IN_FLIGHT at a time; a connection error is recorded, not raised."""
    gate = asyncio.Semaphore(IN_FLIGHT)
    # Idle connections dropped before the server's 5 s keep-alive ends (tests/test_load.py says why).
    limits = httpx.Limits(max_connections=IN_FLIGHT, max_keepalive_connections=IN_FLIGHT, keepalive_expiry=2.0)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        async def post(form: dict[str, str]) -> Sent:
            sent = Sent(form)
            async with gate:
                sent.started = time.monotonic()
                headers = {"X-Twilio-Signature": sign(form, base + PATH)}
                try:
                    response = await client.post(base + PATH, data=form, headers=headers)
                except httpx.TransportError as exc:
                    sent.error = type(exc).__name__
                    return sent
            sent.status, sent.twiml, sent.finished = response.status_code, response.text, time.monotonic()
            if on_answer is not None:
                on_answer(sent)
            return sent

        return await asyncio.gather(*(post(form) for form in batch))


def integrity(db: Path) -> str:
    with contextlib.closing(sqlite3.connect(db)) as connection:
        return connection.execute("PRAGMA integrity_check").fetchone()[0]


def logged(db: Path) -> tuple[set[str], list[str]]:
    """The MessageSids with a delivery row, and the text of every log row."""
    with contextlib.closing(sqlite3.connect(db)) as connection:
        sids = {sid for (sid,) in connection.execute("SELECT delivery_id FROM deliveries")}
        texts = [text for (text,) in connection.execute("SELECT text FROM messages")]
    return sids, texts


def expected_text(form: dict[str, str]) -> str:
    return storable(redact(form["Body"]))


# ------------------------------------------------------------------ kill -9 in the middle of a load

@pytest.mark.timeout(120)
async def test_kill_9_mid_load_loses_no_answered_message_and_keeps_the_file_sound(tmp_path: Path) -> None:
    """After kill -9 under load the database passes integrity_check and holds every message that got a 200."""
    db = tmp_path / "data" / "log.sqlite3"
    batch = forms(800)
    assert len({expected_text(f) for f in batch}) == len(batch)
    server = await Server(tmp_path, db).start()
    answered = 0

    def count(sent: Sent) -> None:
        nonlocal answered
        answered += 1
        if answered == 200:  # well into the load, with IN_FLIGHT requests on the way
            os.kill(server.process.pid, signal.SIGKILL)

    try:
        results = await asyncio.wait_for(post_all(server.base, batch, count), 60)
        assert await asyncio.wait_for(server.process.wait(), 10) == -signal.SIGKILL
    finally:
        await server.stop()
    ok = [s for s in results if s.status == 200]
    cut = [s for s in results if s.status is None]
    print(f"\nkill -9: {len(ok)} answered with 200 before the kill, {len(cut)} cut off or refused")
    assert {s.status for s in results} <= {200, None}
    assert 200 <= len(ok) < len(batch) and cut
    assert integrity(db) == "ok"
    sids, texts = logged(db)
    assert {s.form["MessageSid"] for s in ok} <= sids
    assert {expected_text(s.form) for s in ok} <= set(texts)

    # Twilio retries what got no answer; the restarted server answers each once.
    again = await Server(tmp_path, db).start()
    try:
        retried = await asyncio.wait_for(post_all(again.base, [s.form for s in cut]), 60)
        resent = await asyncio.wait_for(post_all(again.base, [s.form for s in ok[:20]]), 30)
    finally:
        again.process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(again.process.wait(), 30)
    assert all(s.status == 200 for s in retried + resent)
    by_sid = {s.form["MessageSid"]: s.twiml for s in ok}
    assert all(s.twiml == by_sid[s.form["MessageSid"]] for s in resent)  # the same reply as before the crash
    assert integrity(db) == "ok"
    sids, texts = logged(db)
    assert sids == {f["MessageSid"] for f in batch}
    assert {expected_text(f) for f in batch} == set(texts)
    twice = {t for t in texts if texts.count(t) > 1}
    # Only a message cut off between its log row and its delivery row can be logged twice on retry.
    assert twice <= {expected_text(s.form) for s in cut}
    print(f"kill -9: {len(twice)} messages logged twice after the retry (cut between the two writes)")


# ------------------------------------------------------------------ SIGTERM under load

@pytest.mark.timeout(90)
async def test_sigterm_under_load_finishes_requests_in_flight_then_exits_0(tmp_path: Path) -> None:
    """SIGTERM mid-load: every request already in flight gets its 200 and its log row, then the server exits 0."""
    db = tmp_path / "data" / "log.sqlite3"
    server = await Server(tmp_path, db).start()
    answered, term_at = 0, None

    def count(sent: Sent) -> None:
        nonlocal answered, term_at
        answered += 1
        if answered == 100:
            term_at = time.monotonic()
            server.process.send_signal(signal.SIGTERM)

    try:
        results = await asyncio.wait_for(post_all(server.base, forms(600), count), 60)
        code = await asyncio.wait_for(server.process.wait(), 30)
    finally:
        await server.stop()
    assert code == 0, server.output()
    assert term_at is not None
    ok = [s for s in results if s.status == 200]
    drained = [s for s in ok if s.finished > term_at]
    print(f"\nSIGTERM: {len(ok)} answered ({len(drained)} of them after the signal), "
          f"{len(results) - len(ok)} never taken in once it stopped listening")
    assert {s.status for s in results} <= {200, None}
    # Refused, or a kept-alive connection closed before the request was read: Twilio retries those.
    assert {s.error for s in results if s.status is None} <= {"ConnectError", "ReadError", "RemoteProtocolError"}
    assert drained, "no request was still in flight when SIGTERM arrived"
    assert integrity(db) == "ok"
    sids, texts = logged(db)
    assert sids == {s.form["MessageSid"] for s in ok}  # all the server took in was answered, and logged
    assert sorted(texts) == sorted(expected_text(s.form) for s in ok)
    wal = db.with_name(db.name + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0  # closed cleanly, WAL folded back


# ------------------------------------------------------------------ a database that refuses writes

FILLER = "INSERT INTO messages (at, channel, sender, text, outcome) VALUES ('9999', 'filler', 'filler', ?, 'x')"


async def make_read_only(db) -> None:
    await db.execute("PRAGMA query_only = ON")  # SQLITE_READONLY, as for a file the service may not write


async def make_full(db) -> None:
    """SQLITE_FULL, as for a full disk: cap the file at its size, then fill the room left in its pages."""
    pages = (await (await db.execute("PRAGMA page_count")).fetchone())[0]
    await db.execute(f"PRAGMA max_page_count = {pages}")
    for size in (2000, 200, 20, 1):
        with contextlib.suppress(sqlite3.OperationalError):
            for _ in range(10_000):
                await db.execute(FILLER, ("x" * size,))


FAULTS = {"read-only": make_read_only, "full": make_full}
CLEAR = {"read-only": "PRAGMA query_only = OFF", "full": "PRAGMA max_page_count = 1073741823"}


@contextlib.asynccontextmanager
async def app_with_telegram(tmp_path: Path) -> AsyncIterator[tuple[str, FakeTelegram, object, str]]:
    """The real app with Twilio and the Telegram webhook on, against the fake Bot API."""
    from bot.channels.telegram import SECRET_HEADER, WEBHOOK_PATH, webhook_secret

    async with FakeTelegram() as fake:
        settings = settings_for(tmp_path, telegram_token=fake.token, telegram_api_base_url=fake.url)
        signpost = await make_signpost(settings)
        async with running(create_app(signpost)) as (base, _):
            headers = {SECRET_HEADER: webhook_secret(signpost)}
            yield base, fake, signpost, (base + WEBHOOK_PATH, headers)


@pytest.mark.parametrize("fault", list(FAULTS))
@pytest.mark.timeout(60)
async def test_a_database_that_refuses_writes_still_answers_everyone_and_degrades_health(
        tmp_path: Path, fault: str) -> None:
    """With the log read-only or full, SMS and Telegram still get their replies and /healthz says degraded."""
    async with app_with_telegram(tmp_path) as (base, fake, signpost, (telegram_url, headers)), \
            httpx.AsyncClient(timeout=10) as client:
        parent = Phone(base, client)
        await parent.text("hello")  # logged normally
        await FAULTS[fault](signpost.store.db)

        [sms] = await parent.text("What is an EHC plan?")
        assert "EHC" in sms
        update = {"update_id": 77, "message": fake.message(4242, "short breaks for disabled children")}
        response = await client.post(telegram_url, json=update, headers=headers)
        assert response.status_code == 200
        [telegram] = await fake.wait_for("sendMessage", timeout=10)
        assert "break" in telegram.text.lower()
        health = (await client.get(f"{base}/healthz")).json()
        assert health["status"] == "degraded" and "database write failed" in health["problems"]

        await signpost.store.db.execute(CLEAR[fault])  # the operator frees space / fixes permissions
        [after] = await parent.text("respite care")
        assert after
    texts = [row["text"] for row in log_rows(tmp_path / "log.sqlite3") if row["channel"] != "filler"]
    assert texts == ["hello", "respite care"]  # nothing half-written while it was failing
    assert integrity(tmp_path / "log.sqlite3") == "ok"
