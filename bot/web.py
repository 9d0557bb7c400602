"""The ASGI app: Twilio webhook, Telegram webhook, health check and the editors' page.

One process, one Starlette app. The lifespan starts the Telegram webhook when a token is
set, runs the daily purge of old log rows, and closes the store on the way out. Every
request first passes the body limit (bot/request_limits.py); in production every answer
carries HSTS. Paths are exact: no redirect for a trailing slash, so the Host header is
never echoed back in a Location.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .request_limits import BodyLimit
from .signpost import Signpost

log = logging.getLogger(__name__)

PURGE_EVERY_SECONDS = 24 * 60 * 60
HSTS = "max-age=31536000"  # a year; browsers then never try the bot's host over plain http


@dataclass
class Health:
    """What /healthz reports: problems the running server has met since it started."""

    store_error: str | None = None
    purge_error: str | None = None
    purged_rows: int = 0

    def store_failed(self, exc: Exception) -> None:
        self.store_error = type(exc).__name__  # the type only: a message could quote a parent's text


def create_app(signpost: Signpost) -> Starlette:
    health = Health()
    # Every channel (Telegram too) keeps answering when the log cannot be written; /healthz shows it.
    signpost.conversation.on_store_error = health.store_failed
    routes: list[BaseRoute] = [Route("/healthz", _healthz(signpost, health), methods=["GET"])]
    settings = signpost.settings
    if settings.twilio_auth_token or settings.twilio_skip_signature:
        from .channels.twilio import TwilioWebhook

        routes.extend(TwilioWebhook(signpost, on_store_error=health.store_failed).routes())
    routes.extend(_editor_routes(signpost))
    middleware = [Middleware(BodyLimit)]
    if settings.production:
        middleware.append(Middleware(StrictTransport))
    app = Starlette(routes=routes, lifespan=_lifespan(signpost, health), middleware=middleware)
    app.router.redirect_slashes = False  # its redirect builds the Location from the Host header
    app.state.signpost, app.state.health = signpost, health
    return app


class StrictTransport:
    """Adds Strict-Transport-Security to every response (production, always behind TLS)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_hsts(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).setdefault("Strict-Transport-Security", HSTS)
            await send(message)

        await self.app(scope, receive, send_with_hsts)


def _editor_routes(signpost: Signpost) -> list[BaseRoute]:
    try:
        from .editors.web import editor_routes
    except ModuleNotFoundError as exc:
        if exc.name not in ("bot.editors", "bot.editors.web"):
            raise
        log.warning("the editors' page is not installed (bot/editors/web.py is missing)")
        return []
    return editor_routes(signpost)


def _healthz(signpost: Signpost, health: Health):
    async def healthz(request: Request) -> JSONResponse:
        problems = [name for name, failed in (("knowledge reload failed", signpost.reload_error),
                                               ("database write failed", health.store_error),
                                               ("purge failed", health.purge_error)) if failed]
        return JSONResponse({
            "status": "degraded" if problems else "ok",
            "problems": problems,
            "entries": len(signpost.conversation.replies.knowledge.entries),
        })

    return healthz


def _lifespan(signpost: Signpost, health: Health):
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        telegram = None
        purging = asyncio.create_task(_purge_daily(signpost, health), name="daily purge")
        try:
            if signpost.settings.telegram_token:
                from .channels.telegram import TelegramWebhook  # only needed when Telegram is on

                telegram = TelegramWebhook(signpost)
                app.router.routes.extend(telegram.routes())  # before setWebhook, so no update meets a 404
                await telegram.start()
            yield
        finally:
            purging.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await purging
            if telegram is not None:
                await telegram.stop()
            await signpost.close()

    return lifespan


async def _purge_daily(signpost: Signpost, health: Health, every: float = PURGE_EVERY_SECONDS) -> None:
    """Delete rows older than the retention period now, then once a day."""
    while True:
        try:
            health.purged_rows += await signpost.store.purge(signpost.settings.retention_days)
            health.purge_error = None
        except Exception as exc:  # noqa: BLE001 - keep serving; /healthz shows it
            health.purge_error = type(exc).__name__
            log.error("daily purge failed: %s", type(exc).__name__)
        await asyncio.sleep(every)
