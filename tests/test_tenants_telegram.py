"""Two councils' Telegram bots on one deployment (SIGNPOST_TENANTS), through the real app on 127.0.0.1.

Each council has its own bot token and its own host; the real python-telegram-bot Application
of each talks to a fake Bot API (tests/fake_telegram.py) that knows which token called it.
An update posted to a council's webhook, on its host and with its secret token, is answered
from that council's knowledge with that council's token; the other council's secret, the
other council's host or an unknown host is refused; each council's log holds only its own
rows. On a SQLite file per council and on one shared PostgreSQL database.
"""
from __future__ import annotations

import asyncio
import sqlite3
import textwrap
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from bot.channels.telegram import WEBHOOK_PATH, webhook_secret
from bot.config import Settings
from bot.tenants import open_tenants_app
from conftest import SMALL_KB, write_kb
from fake_telegram import FakeTelegram
from test_tenants import A_KB, A_QUESTION, B_KB, B_QUESTION, SERVICES
from twilio_client import running

A_BOT, B_BOT = "111111:council-a-bot-token", "222222:council-b-bot-token"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
CHAT = 4242  # the same parent writes to both councils' bots
SWIMMING = "adapted swimming sessions"


class BotApiByToken:
    """One Bot API address for the deployment (TELEGRAM_API_BASE_URL is shared), one fake per token:
    each call goes to the fake whose token is in its path, so a fake's calls are those made with its token."""

    def __init__(self, *fakes: FakeTelegram) -> None:
        self.fakes = {fake.token: fake for fake in fakes}
        self.app = Starlette(routes=[Route("/bot{token}/{method}", self, methods=["POST"])])  # self: an ASGI app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        fake = self.fakes.get(scope["path_params"]["token"])
        if fake is None:
            await JSONResponse({"ok": False, "error_code": 401, "description": "Unauthorized"}, 401)(scope, receive, send)
        else:
            await fake.app(scope, receive, send)


def tenants_file(tmp_path: Path) -> Path:
    a_kb = write_kb(tmp_path / "a-kb", SMALL_KB + A_KB, services=SERVICES)
    b_kb = write_kb(tmp_path / "b-kb", SMALL_KB + B_KB, services=SERVICES)
    path = tmp_path / "tenants.yaml"
    path.write_text(textwrap.dedent(f"""
        tenants:
          - id: council-a
            host: a.example
            public_base_url: https://a.example
            knowledge: {a_kb}
            secret: "a7f3c9e1b5d2486f0a1c3e5b7d9f2468ace13579"
            telegram: {{token: "{A_BOT}"}}
          - id: council-b
            host: b.example
            public_base_url: https://b.example
            knowledge: {b_kb}
            secret: "b8e4d0f2a6c3597e1b2d4f6a8c0e1357bdf24680"
            telegram: {{token: "{B_BOT}"}}
        """), encoding="utf-8")
    return path


async def post(client: httpx.AsyncClient, base: str, host: str, secret: str, fake: FakeTelegram, text: str,
               update_id: int) -> int:
    update = {"update_id": update_id, "message": fake.message(CHAT, text)}
    response = await client.post(base + WEBHOOK_PATH, json=update, headers={"Host": host, SECRET_HEADER: secret})
    return response.status_code


async def logged(tmp_path: Path, db_url: str | None) -> dict[str, list[tuple[str, str, str]]]:
    """Each council's log as (tenant, channel, text) rows, read from where that council keeps it."""
    if db_url is None:
        found = {}
        for council in ("council-a", "council-b"):
            with sqlite3.connect(tmp_path / "data" / f"{council}.sqlite3") as db:
                found[council] = db.execute("SELECT tenant, channel, text FROM messages ORDER BY id").fetchall()
        return found
    import asyncpg

    db = await asyncpg.connect(db_url)
    try:
        rows = await db.fetch("SELECT tenant, channel, text FROM messages ORDER BY id")
    finally:
        await db.close()
    return {council: [tuple(r.values()) for r in rows if r["tenant"] == council] for council in ("council-a", "council-b")}


@pytest.mark.timeout(120)
@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
async def test_each_council_answers_on_its_own_telegram_bot(tmp_path: Path, request: pytest.FixtureRequest,
                                                            database: str) -> None:
    """Each council's webhook, on its host with its secret, answers from its own knowledge with its own token;
    the other council's secret or host is refused; each council's log holds only its own rows."""
    db_url = request.getfixturevalue("postgres_url") if database == "postgresql" else None
    fake_a, fake_b = FakeTelegram(token=A_BOT), FakeTelegram(token=B_BOT)
    async with running(BotApiByToken(fake_a, fake_b).app) as (api, _):
        settings = Settings(db_path=tmp_path / "data" / "signpost.sqlite3", db_url=db_url,
                            secret="d" * 8 + "0123456789abcdef" * 2, telegram_api_base_url=api,
                            tenants_file=tenants_file(tmp_path))
        app = await open_tenants_app(settings)
        bots = {bot.tenant.id: bot.signpost for bot in app.state.deployment.bots}
        a_secret, b_secret = webhook_secret(bots["council-a"]), webhook_secret(bots["council-b"])
        assert a_secret != b_secret
        async with running(app) as (base, _), httpx.AsyncClient(timeout=20) as client:
            for fake, host, secret in ((fake_a, "a.example", a_secret), (fake_b, "b.example", b_secret)):
                [registered] = fake.of("setWebhook")  # each bot registered on its own council's host
                assert registered.params["url"] == f"https://{host}{WEBHOOK_PATH}"
                assert registered.params["secret_token"] == secret

            assert await post(client, base, "a.example", a_secret, fake_a, SWIMMING, 1) == 200
            assert await post(client, base, "b.example", b_secret, fake_b, SWIMMING, 1) == 200
            [a_reply] = await fake_a.wait_for("sendMessage", where=lambda c: "swimming" in c.text, timeout=20)
            [b_reply] = await fake_b.wait_for("sendMessage", where=lambda c: "swimming" in c.text, timeout=20)
            assert "Council A" in a_reply.text and "Council B" not in a_reply.text and a_reply.chat_id == CHAT
            assert "Council B" in b_reply.text and "Council A" not in b_reply.text and b_reply.chat_id == CHAT

            refused = [await post(client, base, "a.example", b_secret, fake_a, B_QUESTION, 2),  # B's secret on A
                       await post(client, base, "b.example", a_secret, fake_b, A_QUESTION, 2),  # A's secret on B
                       await post(client, base, "a.example", "", fake_a, B_QUESTION, 3),
                       await post(client, base, "c.example", a_secret, fake_a, B_QUESTION, 4)]  # no such council
            assert refused == [403, 403, 403, 404]

            sent = (len(fake_a.sent()), len(fake_b.sent()))
            assert await post(client, base, "a.example", a_secret, fake_a, A_QUESTION, 5) == 200
            assert await post(client, base, "b.example", b_secret, fake_b, B_QUESTION, 5) == 200
            await fake_a.wait_for("sendMessage", count=sent[0] + 1, timeout=20)
            await fake_b.wait_for("sendMessage", count=sent[1] + 1, timeout=20)
            await asyncio.sleep(0.3)  # anything a refused update had set off would have been sent by now
            assert (len(fake_a.sent()), len(fake_b.sent())) == (sent[0] + 1, sent[1] + 1)

    logs = await logged(tmp_path, db_url)
    for council, own, other in (("council-a", A_QUESTION, B_QUESTION), ("council-b", B_QUESTION, A_QUESTION)):
        rows = logs[council]
        assert {tenant for tenant, _, _ in rows} == {council} and {channel for _, channel, _ in rows} == {"telegram"}
        texts = [text for _, _, text in rows]
        assert SWIMMING in texts and own in texts and other not in texts, texts
