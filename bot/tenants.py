"""Many councils on one deployment: SIGNPOST_TENANTS names a small YAML file, one entry per council.

    tenants:
      - id: herefordshire                 # letters, digits and dashes; on every row the council writes
        host: signpost.herefordshire.example   # its editors' page and Telegram webhook are on this host
        public_base_url: https://signpost.herefordshire.example   # what Twilio signs (default: PUBLIC_BASE_URL)
        knowledge: /srv/signpost/herefordshire/knowledge
        secret: "..."                     # 32+ random characters, this council's own sender keys
        retention_days: 90
        database: /srv/signpost/herefordshire.sqlite3   # SQLite only; with SIGNPOST_DB=postgresql:// all share it
        twilio: {numbers: ["+447700900001"], auth_token: "..."}
        telegram: {token: "..."}
        editors: {password_hash: "scrypt$..."}

Every council gets its own Signpost (knowledge, matcher, secret, store bound to its tenant id).
Twilio webhooks all arrive on /twilio/messages and go to the council whose number they were
sent To, checked with that council's auth token. Editors' pages and Telegram webhooks are
routed by Host, so each council's page is /editors on its own host and can only ever read its
own store. A council whose knowledge files do not load is left out and reported on /healthz;
the others start. Without SIGNPOST_TENANTS none of this runs: a single council is as before.
The file holds secrets: keep it readable by the service account only.
"""
from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Host, Route, Router

from .config import ConfigError, Settings
from .conversation import Conversation
from .knowledge import KnowledgeError
from .request_limits import BodyLimit
from .signpost import Signpost, build_replies
from .store import Store, open_store

log = logging.getLogger(__name__)

TENANT_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
KEYS = {"id", "host", "public_base_url", "knowledge", "secret", "retention_days", "database", "twilio", "telegram",
        "editors"}


@dataclass(frozen=True)
class Tenant:
    id: str
    settings: Settings  # the deployment's settings with this council's values in place
    host: str | None = None
    numbers: tuple[str, ...] = ()


@dataclass
class TenantBot:
    tenant: Tenant
    signpost: Signpost


@dataclass
class Deployment:
    bots: list[TenantBot]
    failed: dict[str, str] = field(default_factory=dict)  # tenant id -> why it did not start

    async def close(self) -> None:
        for bot in self.bots:
            await bot.signpost.close()


def _number(raw: Any) -> str:
    return str(raw).strip().removeprefix("whatsapp:").replace(" ", "")


def load_tenants(path: Path, base: Settings) -> list[Tenant]:
    """Read and check the tenants file; ConfigError lists every problem found."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError([f"SIGNPOST_TENANTS: cannot read {path}: {type(exc).__name__}"]) from None
    entries = data.get("tenants") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        raise ConfigError([f"SIGNPOST_TENANTS: {path} has no 'tenants:' list"])
    problems: list[str] = []
    tenants = [tenant for n, raw in enumerate(entries) if (tenant := _tenant(raw, n, base, problems))]
    _check_unique(tenants, problems)
    if problems:
        raise ConfigError(problems)
    return tenants


def _tenant(raw: Any, n: int, base: Settings, problems: list[str]) -> Tenant | None:
    if not isinstance(raw, dict) or not TENANT_ID.match(str(raw.get("id", ""))):
        problems.append(f"tenant {n + 1}: needs an id of lower-case letters, digits and dashes")
        return None
    tid = str(raw["id"])
    if unknown := set(raw) - KEYS:
        problems.append(f"tenant {tid}: unknown keys {sorted(unknown)}")
    twilio, telegram, editors = (raw.get(k) or {} for k in ("twilio", "telegram", "editors"))
    changes: dict[str, Any] = dict(
        secret=str(raw["secret"]) if raw.get("secret") else None,
        knowledge_dir=Path(raw["knowledge"]) if raw.get("knowledge") else None,
        retention_days=int(raw.get("retention_days", base.retention_days)),
        public_base_url=str(raw.get("public_base_url") or base.public_base_url or "").rstrip("/") or None,
        twilio_auth_token=str(twilio["auth_token"]) if twilio.get("auth_token") else None,
        telegram_token=str(telegram["token"]) if telegram.get("token") else None,
        editor_password_hash=str(editors["password_hash"]) if editors.get("password_hash") else None,
    )
    if base.db_url and raw.get("database"):
        problems.append(f"tenant {tid}: 'database' is for SQLite; with SIGNPOST_DB on PostgreSQL every council shares it")
    if not base.db_url:
        changes["db_path"] = Path(raw.get("database") or base.db_path.parent / f"{tid}.sqlite3")
    settings = dataclasses.replace(base, **changes)
    if not settings.secret:
        problems.append(f"tenant {tid}: needs its own secret (32+ random characters)")
    problems.extend(f"tenant {tid}: {p}" for p in settings.problems())
    numbers = tuple(_number(x) for x in twilio.get("numbers") or ())
    if settings.twilio_auth_token and not numbers:
        problems.append(f"tenant {tid}: a Twilio auth token needs the numbers it answers (twilio.numbers)")
    host = str(raw["host"]).strip().lower() if raw.get("host") else None
    if (settings.telegram_token or settings.editor_password_hash) and not host:
        problems.append(f"tenant {tid}: Telegram and the editors' page need the council's own host")
    return Tenant(tid, settings, host, numbers)


def _check_unique(tenants: list[Tenant], problems: list[str]) -> None:
    for what, values in (("id", [t.id for t in tenants]), ("host", [t.host for t in tenants if t.host]),
                         ("Twilio number", [n for t in tenants for n in t.numbers])):
        if repeated := sorted({v for v in values if values.count(v) > 1}):
            problems.append(f"SIGNPOST_TENANTS: the same {what} for two councils: {', '.join(repeated)}")
    databases = [str(t.settings.db_path) for t in tenants if not t.settings.db_url]
    if repeated := sorted({d for d in databases if databases.count(d) > 1}):
        problems.append(f"SIGNPOST_TENANTS: two councils in one SQLite file ({', '.join(repeated)}): give each its own")


async def open_deployment(tenants: list[Tenant]) -> Deployment:
    """Every council that can start: its knowledge is loaded first, then its store opened."""
    deployment = Deployment([])
    shared: Store | None = None
    try:
        for tenant in tenants:
            try:
                replies = build_replies(tenant.settings.knowledge_dir)
            except KnowledgeError as exc:  # this council is down until its files are fixed; the others run
                deployment.failed[tenant.id] = f"knowledge: {len(exc.problems)} problems"
                log.error("council %s not started: %d problems in its knowledge files", tenant.id, len(exc.problems))
                continue
            store = await _store_for(tenant, shared)
            if store.shares_state and shared is None:
                shared = store
            signpost = Signpost(tenant.settings, Conversation(replies, store), store, tenant.settings.secret.encode())
            signpost.conversation.on_store_error = lambda exc: None
            deployment.bots.append(TenantBot(tenant, signpost))
    except BaseException:
        await deployment.close()
        raise
    return deployment


async def _store_for(tenant: Tenant, shared: Store | None) -> Store:
    if tenant.settings.db_url and shared is not None:
        return shared.for_tenant(tenant.id)  # one pool for every council on PostgreSQL
    return await open_store(tenant.settings.database, tenant.id)


def create_deployment_app(deployment: Deployment) -> Starlette:
    from .channels.twilio import PATH, TwilioWebhook, _read_body, parse_form, BadRequest

    webhooks = {}
    for bot in deployment.bots:
        if bot.tenant.settings.twilio_auth_token:
            webhook = TwilioWebhook(bot.signpost)
            webhooks.update({number: webhook for number in bot.tenant.numbers})

    async def twilio(request: Request) -> Response:
        """The council the message was sent To answers it, with its own token checking the signature."""
        body = await _read_body(request)
        if body is None:
            return PlainTextResponse("Request too large", status_code=413)
        try:
            webhook = webhooks.get(_number(parse_form(body).get("To", "")))
        except BadRequest:
            return PlainTextResponse("Bad request", status_code=400)
        if webhook is None:
            return PlainTextResponse("Not found", status_code=404)

        async def replay() -> dict:
            return {"type": "http.request", "body": body, "more_body": False}

        return await webhook.receive(Request(request.scope, replay))

    async def healthz(request: Request) -> JSONResponse:
        councils = {bot.tenant.id: "degraded" if bot.signpost.reload_error else "ok" for bot in deployment.bots}
        councils.update({tid: "down" for tid in deployment.failed})
        return JSONResponse({"status": "ok" if set(councils.values()) == {"ok"} else "degraded",
                             "councils": councils})

    routes: list[BaseRoute] = [Route("/healthz", healthz, methods=["GET"]), Route(PATH, twilio, methods=["POST"])]
    for bot in deployment.bots:
        if bot.tenant.host:
            routes.append(Host(bot.tenant.host, Router(routes=_host_routes(bot)), name=bot.tenant.id))
    app = Starlette(routes=routes, middleware=[Middleware(BodyLimit)], lifespan=_lifespan(deployment))
    app.router.redirect_slashes = False
    app.state.deployment = deployment
    return app


def _host_routes(bot: TenantBot) -> list[BaseRoute]:
    from .web import _editor_routes

    return _editor_routes(bot.signpost)


def _lifespan(deployment: Deployment):
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        from .web import Health, _purge_daily

        telegrams = []
        purges = [asyncio.create_task(_purge_daily(bot.signpost, Health()), name=f"purge {bot.tenant.id}")
                  for bot in deployment.bots]  # each council on its own retention period
        try:
            for bot in deployment.bots:
                if bot.tenant.settings.telegram_token and bot.tenant.host:
                    from .channels.telegram import TelegramWebhook

                    telegram = TelegramWebhook(bot.signpost)
                    host = next(r for r in app.router.routes if isinstance(r, Host) and r.name == bot.tenant.id)
                    host.app.routes.extend(telegram.routes())  # before setWebhook, so no update meets a 404
                    await telegram.start()
                    telegrams.append(telegram)
            yield
        finally:
            for task in purges:
                task.cancel()
            await asyncio.gather(*purges, return_exceptions=True)
            for telegram in telegrams:
                await telegram.stop()
            await deployment.close()

    return lifespan


async def open_tenants_app(settings: Settings) -> Starlette:
    """SIGNPOST_TENANTS, read, checked and opened, as one app."""
    assert settings.tenants_file is not None
    return create_deployment_app(await open_deployment(load_tenants(settings.tenants_file, settings)))
