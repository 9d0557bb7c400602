"""Test helpers: run the real ASGI app under uvicorn on 127.0.0.1:0, and post signed Twilio webhooks to it."""
from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import sqlite3
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import uvicorn
from starlette.applications import Starlette
from twilio.request_validator import RequestValidator

from bot.config import Settings
from bot.conversation import Conversation
from bot.identity import load_secret
from bot.signpost import Signpost, build_replies, open_signpost
from bot.store import SQLiteStore

TOKEN = "test-twilio-auth-token"
PUBLIC = "https://signpost.example.org"  # what Twilio signs; the server itself listens on 127.0.0.1
NUMBER = "+447700900123"
PATH = "/twilio/messages"
_sids = itertools.count(1)


def settings_for(tmp_path: Path, **changes) -> Settings:
    defaults = dict(db_path=tmp_path / "log.sqlite3", secret="s" * 40, twilio_auth_token=TOKEN,
                    public_base_url=PUBLIC)
    return Settings(**{**defaults, **changes})


@functools.cache
def _bundled_replies():
    return build_replies(None)


async def make_signpost(settings: Settings) -> Signpost:
    """open_signpost(), but the bundled knowledge is loaded once per test run: it takes about a second."""
    if settings.knowledge_dir is not None:
        return await open_signpost(settings)
    settings.check()
    store = await SQLiteStore(settings.db_path).open()
    return Signpost(settings, Conversation(_bundled_replies(), store), store, load_secret(settings))


@contextlib.asynccontextmanager
async def running(app: Starlette, timeout: float = 10) -> AsyncIterator[tuple[str, uvicorn.Server]]:
    """Serve `app` with uvicorn on a free port; yields its base URL and the server, and stops it after."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="on", log_config=None))
    server.capture_signals = contextlib.nullcontext  # leave the test runner's own signal handlers alone
    task = asyncio.create_task(server.serve())
    async def started() -> None:
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("uvicorn stopped before it started")
            await asyncio.sleep(0.01)
    await asyncio.wait_for(started(), timeout)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}", server
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout)


def twilio_form(body: str, sender: str = NUMBER, sid: str | None = None, **extra: str) -> dict[str, str]:
    """The fields Twilio posts for an incoming SMS, blank ones included (they are signed too)."""
    sid = sid or f"SM{next(_sids):032x}"
    form = {
        "ToCountry": "GB", "ToState": "", "SmsMessageSid": sid, "NumMedia": "0", "ToCity": "", "FromZip": "",
        "SmsSid": sid, "FromState": "", "SmsStatus": "received", "FromCity": "", "Body": body,
        "FromCountry": "GB", "To": "+447700900999", "ToZip": "", "NumSegments": "1", "MessageSid": sid,
        "AccountSid": "AC" + "0" * 32, "From": sender, "ApiVersion": "2010-04-01",
    }
    form.update(extra)
    return form


def sign(form: dict[str, str], url: str = PUBLIC + PATH, token: str = TOKEN) -> str:
    return RequestValidator(token).compute_signature(url, form)


@dataclass
class Phone:
    """A parent's phone talking to the server: posts signed webhooks and reads the TwiML back."""

    base: str
    client: httpx.AsyncClient
    sender: str = NUMBER
    query: str = ""
    sent: list[str] = field(default_factory=list)

    async def post(self, form: dict[str, str], signature: str | None = "sign") -> httpx.Response:
        path = PATH + (f"?{self.query}" if self.query else "")
        headers = {}
        if signature == "sign":
            headers["X-Twilio-Signature"] = sign(form, PUBLIC + path)
        elif signature is not None:
            headers["X-Twilio-Signature"] = signature
        return await self.client.post(self.base + path, data=form, headers=headers, timeout=10)

    async def text(self, body: str, **extra: str) -> list[str]:
        """Send one message and return the bodies of the messages sent back (empty for silence)."""
        response = await self.post(twilio_form(body, sender=self.sender, **extra))
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/xml")
        return bodies(response.text)


def bodies(twiml: str) -> list[str]:
    root = ET.fromstring(twiml)
    assert root.tag == "Response"
    return [(message.text or "") for message in root.iter("Message")]


def log_rows(db_path: Path) -> list[sqlite3.Row]:
    """The log as editors would read it, through a separate connection."""
    with contextlib.closing(sqlite3.connect(db_path)) as db:
        db.row_factory = sqlite3.Row
        return db.execute("SELECT * FROM messages ORDER BY id").fetchall()
