"""The editors' web page through the real Starlette app: login, sessions, CSRF, reports, reload, switched off;
the pages that read the log on a SQLite file and on a real PostgreSQL database."""
from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from bot.config import Settings
from bot.editors import web
from bot.editors.auth import EditorAuth, Signer, hash_password, verify_password
from bot.knowledge import BUNDLED_DIR
from bot.signpost import Signpost, open_signpost
from bot.store import LogRecord

PASSWORD = "a long editors password"
HASH = hash_password(PASSWORD, n=2**14)  # the least cost parse_hash accepts
SECRET_QUESTION = "is there a zebra club for my son"  # log text a stranger must never see


async def make_signpost(tmp_path: Path, knowledge_dir: Path | None, password_hash: str | None,
                        db_url: str | None = None) -> Signpost:
    settings = Settings(db_path=tmp_path / "log.sqlite3", db_url=db_url, secret="s" * 32, knowledge_dir=knowledge_dir,
                        editor_password_hash=password_hash)
    return await open_signpost(settings)


@pytest.fixture(params=["sqlite", "postgresql"])
async def signpost(request: pytest.FixtureRequest, tmp_path: Path, small_kb: Path):
    db_url = request.getfixturevalue("postgres_url") if request.param == "postgresql" else None
    bot = await make_signpost(tmp_path, small_kb, HASH, db_url)
    await bot.store.log(LogRecord("sms", "k1", SECRET_QUESTION, "unanswered"))
    await bot.store.log(LogRecord("sms", "k2", "<script>alert(1)</script> clubs", "unanswered"))
    yield bot
    await bot.close()


def client_for(bot: Signpost) -> httpx.AsyncClient:
    app = Starlette(routes=web.editor_routes(bot))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver", timeout=10)


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


async def log_in(client: httpx.AsyncClient, password: str = PASSWORD) -> httpx.Response:
    form = await client.get("/editors")
    return await client.post("/editors/login", data={"csrf": csrf_of(form.text), "password": password})


@pytest.fixture(autouse=True)
def short_delay(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(web, "WRONG_PASSWORD_DELAY", 0.3)


# ------------------------------------------------------------------ auth primitives

def test_password_hash_round_trip() -> None:
    """A hash verifies its own password only; malformed or absurd hashes verify nothing."""
    assert verify_password(PASSWORD, HASH) and not verify_password(PASSWORD + "x", HASH)
    assert verify_password(PASSWORD, HASH.replace(":", "$"))  # the "$" form of the same hash
    for broken in ("", "plain-text-password", "scrypt:1:8:1:xx:yy", "scrypt:1073741824:8:1:AAAA:AAAA", "md5:a:b"):
        assert not verify_password(PASSWORD, broken)


def test_signed_tokens_refuse_tampering_and_expiry() -> None:
    """A signed token loads until it expires, and not at all once changed or signed by another key."""
    signer = Signer(b"k", "session")
    token = signer.dumps({"csrf": "c", "exp": time.time() + 60})
    assert signer.loads(token)["csrf"] == "c"
    assert signer.loads(token, now=time.time() + 120) is None
    body, signature = token.split(".")
    assert signer.loads(body[:-2] + "xx." + signature) is None
    assert Signer(b"other", "session").loads(token) is None
    assert signer.loads("garbage") is None and signer.loads(None) is None
    assert signer.loads(body + ".é") is None  # a client can send any text


# ------------------------------------------------------------------ the page

async def test_switched_off_without_a_hash(tmp_path: Path, small_kb: Path) -> None:
    """With no password hash every editors' route answers 404 "not set up", even a login attempt."""
    bot = await make_signpost(tmp_path, small_kb, None)
    try:
        async with client_for(bot) as client:
            page = await client.get("/editors")
            assert page.status_code == 404 and "not set up" in page.text and 'type="password"' not in page.text
            assert (await client.post("/editors/login", data={"password": ""})).status_code == 404
            assert (await client.get("/editors/unanswered")).status_code == 404
    finally:
        await bot.close()


async def test_switched_off_with_a_malformed_hash(tmp_path: Path, small_kb: Path) -> None:
    """A password hash that is not one of ours (say, the password itself) switches the page off."""
    bot = await make_signpost(tmp_path, small_kb, PASSWORD)
    try:
        async with client_for(bot) as client:
            assert (await client.get("/editors")).status_code == 404
    finally:
        await bot.close()


async def test_visitor_sees_only_the_login_form(signpost: Signpost) -> None:
    """Someone not logged in gets the login form and no log content, on every page."""
    async with client_for(signpost) as client:
        page = await client.get("/editors")
        assert page.status_code == 200 and 'type="password"' in page.text
        assert "zebra" not in page.text
        for path in ("/editors/unanswered", "/editors/feedback", "/editors/stats"):
            response = await client.get(path)
            assert response.status_code == 303 and response.headers["location"] == "/editors"
            assert "zebra" not in response.text


async def test_security_headers(signpost: Signpost) -> None:
    """Pages are never cached, never framed, and allow no scripts."""
    async with client_for(signpost) as client:
        headers = (await client.get("/editors")).headers
    assert headers["cache-control"] == "no-store" and headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert "script-src" not in headers["content-security-policy"]  # default-src 'none' covers it


async def test_wrong_password_refused_after_a_delay(signpost: Signpost) -> None:
    """A wrong password gets a generic message after a delay, and no session."""
    async with client_for(signpost) as client:
        started = time.monotonic()
        response = await log_in(client, "not the password")
        assert time.monotonic() - started >= 0.3
        assert response.status_code == 401 and "That password is not right." in response.text
        assert web.SESSION_COOKIE not in client.cookies and "zebra" not in response.text
        assert "zebra" not in (await client.get("/editors")).text


async def test_right_password_shows_the_reports(signpost: Signpost) -> None:
    """The right password opens a session: the overview lists the unanswered questions, escaped."""
    async with client_for(signpost) as client:
        response = await log_in(client)
        assert response.status_code == 303 and web.SESSION_COOKIE in client.cookies
        cookie = response.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/editors" in cookie
        page = await client.get("/editors")
        assert SECRET_QUESTION in page.text and "Log out" in page.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text and "<script>" not in page.text
        assert "<svg" in page.text or "No questions in this period" in page.text
        for path in ("/editors/unanswered", "/editors/feedback", "/editors/stats?since=4w"):
            assert (await client.get(path)).status_code == 200
        assert SECRET_QUESTION in (await client.get("/editors/unanswered")).text


async def test_csrf_missing_is_refused(signpost: Signpost) -> None:
    """Every form post without its CSRF token is refused with 403."""
    async with client_for(signpost) as client:
        await client.get("/editors")
        assert (await client.post("/editors/login", data={"password": PASSWORD})).status_code == 403
        for made_up in ("made-up", "é"):
            assert (await client.post("/editors/login", data={"password": PASSWORD, "csrf": made_up})).status_code == 403
        await log_in(client)
        for path in ("/editors/reload", "/editors/logout"):
            assert (await client.post(path, data={})).status_code == 403
        assert SECRET_QUESTION in (await client.get("/editors")).text  # still logged in


async def test_logout_ends_the_session(signpost: Signpost) -> None:
    """Logging out (with the form's token) drops the session cookie."""
    async with client_for(signpost) as client:
        await log_in(client)
        page = await client.get("/editors")
        response = await client.post("/editors/logout", data={"csrf": csrf_of(page.text)})
        assert response.status_code == 303
        assert "zebra" not in (await client.get("/editors")).text


async def test_expired_or_foreign_session_refused(signpost: Signpost) -> None:
    """A session past its expiry, or signed under another password hash, shows only the login form."""
    old, _ = EditorAuth(signpost.secret, HASH).new_session(now=time.time() - 9 * 3600)
    other, _ = EditorAuth(signpost.secret, hash_password("another password", n=2**14)).new_session()
    fresh, _ = EditorAuth(signpost.secret, HASH).new_session()
    async with client_for(signpost) as client:
        for token in (old, other):
            client.cookies.set(web.SESSION_COOKIE, token, path="/editors")
            page = await client.get("/editors")
            assert 'type="password"' in page.text and "zebra" not in page.text
        client.cookies.set(web.SESSION_COOKIE, fresh, path="/editors")
        assert "zebra" in (await client.get("/editors")).text


async def test_reload_with_a_broken_file_keeps_the_old_knowledge(tmp_path: Path) -> None:
    """Reload from the page with a broken file: old answers stay, and the page shows the error."""
    kb = tmp_path / "knowledge"
    shutil.copytree(BUNDLED_DIR, kb)
    bot = await make_signpost(tmp_path, kb, HASH)
    try:
        question = "what is an ehcp"
        assert bot.conversation.replies.respond(question).topic == "ehcp-what-is"
        broken = kb / "entries" / "ehcp.yaml"
        broken.write_text("- id: [this is not\n  title: broken yaml", encoding="utf-8")
        async with client_for(bot) as client:
            await log_in(client)
            page = await client.get("/editors")
            response = await client.post("/editors/reload", data={"csrf": csrf_of(page.text)})
            assert response.status_code == 303 and response.headers["location"] == "/editors?reload=failed"
            page = await client.get("/editors?reload=failed")
            assert "The last knowledge reload failed" in page.text and broken.name in page.text
        assert bot.reload_error and bot.conversation.replies.respond(question).topic == "ehcp-what-is"
    finally:
        await bot.close()
