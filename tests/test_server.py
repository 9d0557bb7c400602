"""The web app and the server: health check, lifespan (purge, close), graceful shutdown, SIGHUP reload."""
from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import re
import signal
import sys
from pathlib import Path

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from bot.server import build_server
from bot.signpost import open_signpost
from bot.store import LogRecord, SQLiteStore
from bot.web import create_app
from twilio_client import make_signpost, NUMBER, PUBLIC, TOKEN, Phone, log_rows, running, settings_for

ROOT = Path(__file__).resolve().parent.parent


async def test_healthz_is_ok_over_http(tmp_path: Path) -> None:
    """GET /healthz on the running server answers JSON status ok with the number of entries."""
    signpost = await make_signpost(settings_for(tmp_path))
    async with running(create_app(signpost)) as (base, _), httpx.AsyncClient() as client:
        response = await client.get(f"{base}/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok" and response.json()["entries"] > 0


async def test_healthz_is_degraded_while_a_reload_has_failed(tmp_path: Path, small_kb: Path) -> None:
    """A reload that fails keeps the old answers and makes /healthz say degraded until a good reload."""
    signpost = await open_signpost(settings_for(tmp_path, knowledge_dir=small_kb))
    entries = small_kb / "entries.yaml"
    good = entries.read_text()
    async with running(create_app(signpost)) as (base, _), httpx.AsyncClient() as client:
        entries.write_text("- id: [broken\n")
        assert signpost.reload()
        degraded = (await client.get(f"{base}/healthz")).json()
        entries.write_text(good)
        assert signpost.reload() == []
        healthy = (await client.get(f"{base}/healthz")).json()
    assert degraded["status"] == "degraded" and degraded["problems"] == ["knowledge reload failed"]
    assert healthy["status"] == "ok"


async def test_a_failing_database_still_answers_and_degrades_health(tmp_path: Path) -> None:
    """When the log cannot be written the parent still gets an answer, and /healthz says degraded."""
    signpost = await make_signpost(settings_for(tmp_path))
    async with running(create_app(signpost)) as (base, _), httpx.AsyncClient() as client:
        await signpost.store.close()  # the database goes away under the running server
        [answer] = await Phone(base, client).text("What is an EHC plan?")
        health = (await client.get(f"{base}/healthz")).json()
    assert answer and health["status"] == "degraded" and "database write failed" in health["problems"]


async def test_lifespan_purges_old_rows_and_closes_the_store(tmp_path: Path) -> None:
    """At start the server deletes rows older than the retention period; at stop it closes the store."""
    settings = settings_for(tmp_path, retention_days=30)
    async with SQLiteStore(settings.db_path) as store:
        old = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=31)
        await store.log(LogRecord("sms", "k1", "an old question", "unanswered", at=old))
        await store.log(LogRecord("sms", "k2", "a recent question", "unanswered"))
    signpost = await make_signpost(settings)
    async with running(create_app(signpost)) as (base, _), httpx.AsyncClient() as client:
        for _ in range(100):  # the purge runs in a background task as the server starts
            if len(log_rows(settings.db_path)) == 1:
                break
            await asyncio.sleep(0.02)
        assert (await client.get(f"{base}/healthz")).json()["status"] == "ok"
    assert [r["text"] for r in log_rows(settings.db_path)] == ["a recent question"]
    with pytest.raises(RuntimeError):
        signpost.store.db  # closed by the lifespan


async def test_requests_in_flight_finish_before_shutdown(tmp_path: Path) -> None:
    """On shutdown (what SIGTERM triggers) uvicorn lets a request in flight finish, then closes the store."""
    signpost = await make_signpost(settings_for(tmp_path))
    app = create_app(signpost)

    async def slow(request: Request) -> PlainTextResponse:
        await asyncio.sleep(0.5)
        return PlainTextResponse("finished")

    app.router.routes.append(Route("/slow", slow))
    server = build_server(app, "127.0.0.1", 0)
    server.capture_signals = contextlib.nullcontext
    task = asyncio.create_task(server.serve())
    await asyncio.wait_for(_until(lambda: server.started), 10)
    port = server.servers[0].sockets[0].getsockname()[1]
    async with httpx.AsyncClient() as client:
        request = asyncio.create_task(client.get(f"http://127.0.0.1:{port}/slow", timeout=10))
        await asyncio.sleep(0.1)
        server.handle_exit(signal.SIGTERM, None)
        response = await asyncio.wait_for(request, 10)
    await asyncio.wait_for(task, 10)
    assert response.status_code == 200 and response.text == "finished"
    assert signpost.store._db is None


def test_editor_routes_are_mounted(tmp_path: Path) -> None:
    """The editors' routes are part of the app (switched off politely when no password is set)."""
    pytest.importorskip("bot.editors.web")
    signpost = asyncio.run(make_signpost(settings_for(tmp_path)))
    try:
        paths = [getattr(route, "path", "") for route in create_app(signpost).routes]
    finally:
        asyncio.run(signpost.close())
    assert any(path.startswith("/editors") for path in paths)


@pytest.mark.timeout(60)
async def test_main_serve_reloads_on_sighup_and_stops_cleanly_on_sigterm(tmp_path: Path, small_kb: Path) -> None:
    """`main.py serve` answers, reloads on SIGHUP (degraded on bad files), and exits 0 on SIGTERM."""
    env = {**os.environ, "SIGNPOST_DB": str(tmp_path / "data" / "log.sqlite3"), "SIGNPOST_SECRET": "s" * 40,
           "SIGNPOST_KNOWLEDGE": str(small_kb), "TWILIO_AUTH_TOKEN": TOKEN, "PUBLIC_BASE_URL": PUBLIC}
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "main.py"), "serve", "--host", "127.0.0.1", "--port", "0",
        cwd=tmp_path, env=env, stderr=asyncio.subprocess.PIPE)
    try:
        base = await asyncio.wait_for(_started_at(process), 30)
        async with httpx.AsyncClient() as client:
            assert (await client.get(f"{base}/healthz")).json()["status"] == "ok"
            [answer] = await Phone(base, client, sender=NUMBER).text("respite care for disabled children")
            assert "rest" in answer
            assert (tmp_path / "data" / "signpost.pid").read_text().split()[0] == str(process.pid)
            (small_kb / "entries.yaml").write_text("- id: [broken\n")
            process.send_signal(signal.SIGHUP)
            await asyncio.wait_for(_until_status(client, base, "degraded"), 10)
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 30) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert not (tmp_path / "data" / "signpost.pid").exists()
    wal = tmp_path / "data" / "log.sqlite3-wal"
    assert not wal.exists() or wal.stat().st_size == 0  # the store was closed, the WAL folded back


async def _started_at(process: asyncio.subprocess.Process) -> str:
    assert process.stderr is not None
    while line := (await process.stderr.readline()).decode():
        if found := re.search(r"running on (http://127\.0\.0\.1:\d+)", line):
            return found.group(1)
    raise AssertionError("the server stopped before it started")


async def _until(condition) -> None:
    while not condition():
        await asyncio.sleep(0.01)


async def _until_status(client: httpx.AsyncClient, base: str, status: str) -> None:
    while (await client.get(f"{base}/healthz")).json()["status"] != status:
        await asyncio.sleep(0.05)
