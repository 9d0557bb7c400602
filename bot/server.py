"""`python main.py serve`: run the ASGI app under uvicorn.

SIGTERM and Ctrl-C are uvicorn's: it stops accepting, lets requests in flight finish
(up to GRACEFUL_SECONDS), then runs the lifespan shutdown, which closes the store.
SIGHUP re-reads the knowledge files; a bad edit keeps the old knowledge loaded.
`main.py kb reload` sends that SIGHUP, finding the server by its pid file beside the database.

Exposure: every request must arrive whole within SIGNPOST_REQUEST_TIMEOUT and open
connections are capped (bot/connections.py); X-Forwarded-For and -Proto are believed only
from SIGNPOST_TRUSTED_PROXIES; files the server writes are private to its user.
"""
from __future__ import annotations

import asyncio
import logging
import signal

import uvicorn
from starlette.applications import Starlette

from .config import Settings
from .connections import connection_cap, guarded_protocol
from .files import private_umask
from .reload import remove_pid, write_pid
from .signpost import Signpost, open_signpost
from .web import create_app

log = logging.getLogger(__name__)

GRACEFUL_SECONDS = 20  # longer than Twilio's 15 s webhook timeout, so an answer in flight is not cut off


KEEP_ALIVE_SECONDS = 5  # an idle connection after a response


def serve(settings: Settings, host: str, port: int) -> int:
    private_umask()  # the database, its WAL, the pid file: for the server's own user only
    return asyncio.run(_serve(settings, host, port))


def build_server(app: Starlette, host: str, port: int, settings: Settings | None = None) -> uvicorn.Server:
    settings = settings or getattr(getattr(app.state, "signpost", None), "settings", None) or Settings()
    proxies = list(settings.trusted_proxies)
    config = uvicorn.Config(
        app, host=host, port=port, lifespan="on", log_config=None,
        timeout_graceful_shutdown=GRACEFUL_SECONDS, timeout_keep_alive=KEEP_ALIVE_SECONDS,
        http=guarded_protocol(connection_cap(settings.max_connections), settings.request_seconds),
        # Only a configured proxy may say who the client is (the editors' login counts failures per client);
        # from anyone else X-Forwarded-For is ignored.
        proxy_headers=bool(proxies), forwarded_allow_ips=proxies or None, server_header=False,
    )
    return uvicorn.Server(config)


async def _serve(settings: Settings, host: str, port: int) -> int:
    if settings.tenants_file is not None:
        return await _serve_councils(settings, host, port)
    signpost = await open_signpost(settings)
    server = build_server(create_app(signpost), host, port)
    loop = asyncio.get_running_loop()
    if hasattr(signal, "SIGHUP"):
        loop.add_signal_handler(signal.SIGHUP, _reload, signpost)
    write_pid(settings)  # `main.py kb reload` finds us by it; the handler is already in place
    # uvicorn handles SIGTERM (drains, runs the lifespan shutdown), then re-raises it to the handler
    # that was there before; a no-op one lets us return normally and tidy up instead of dying there.
    previous_term = signal.signal(signal.SIGTERM, _after_uvicorn)
    try:
        await server.serve()
    finally:
        signal.signal(signal.SIGTERM, previous_term)
        remove_pid(settings)
        if hasattr(signal, "SIGHUP"):
            loop.remove_signal_handler(signal.SIGHUP)
        await signpost.close()  # the lifespan closes it too; this covers a failed start-up
    return 0 if server.started else 1


async def _serve_councils(settings: Settings, host: str, port: int) -> int:
    """SIGNPOST_TENANTS: every council in one app; the lifespan closes their stores."""
    from .tenants import open_tenants_app

    app = await open_tenants_app(settings)
    server = build_server(app, host, port, settings)
    previous_term = signal.signal(signal.SIGTERM, _after_uvicorn)
    try:
        await server.serve()
    finally:
        signal.signal(signal.SIGTERM, previous_term)
        if not server.started:
            await app.state.deployment.close()
    return 0 if server.started else 1


def _after_uvicorn(signum: int, frame: object) -> None:
    """SIGTERM once uvicorn has already shut down gracefully: nothing left to do."""


def _reload(signpost: Signpost) -> None:
    problems = signpost.reload()
    if problems:
        log.error("SIGHUP: %d problems in the knowledge files; still using the previous knowledge", len(problems))
    else:
        log.info("SIGHUP: knowledge reloaded")
