"""The deployment guide (docs/deploy.md) against the bot: proxy headers believed only from the proxy, and the
example nginx and Caddy blocks holding the limits the bot itself enforces.

The proxy is played by this test (its headers are sent as nginx and Caddy send them) over real HTTP
to the real server settings; nginx itself is run only to check its block's syntax, when it is installed.
"""
from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bot.config import DEFAULT_PORT, DEFAULT_REQUEST_SECONDS, Settings
from bot.request_limits import ROUTE_BODY_LIMITS
from bot.server import build_server
from bot.web import create_app
from conftest import ROOT
from twilio_client import make_signpost, settings_for

GUIDE = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
LARGEST_BODY = max(limit for _, limit in ROUTE_BODY_LIMITS)


def block(language: str) -> str:
    found = re.search(rf"```{language}\n(.*?)```", GUIDE, re.S)
    assert found, f"docs/deploy.md has no {language} block"
    return found.group(1)


def size_in_bytes(text: str) -> int:
    number, unit = re.fullmatch(r"(\d+)\s*([kmg]?)b?", text.strip().lower()).groups()
    return int(number) * {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[unit]


def seconds(text: str) -> float:
    number, unit = re.fullmatch(r"(\d+)\s*(ms|s|m)?", text.strip()).groups()
    return int(number) * {"ms": 0.001, "s": 1, None: 1, "m": 60}[unit]


# ------------------------------------------------------------------ proxy headers, over real HTTP

@contextlib.asynccontextmanager
async def served(settings: Settings) -> AsyncIterator[str]:
    """The real app, plus a /whoami route that shows what the app believes about the client."""
    app = create_app(await make_signpost(settings))

    async def whoami(request: Request) -> JSONResponse:
        return JSONResponse({"client": request.client.host if request.client else None,
                             "scheme": request.url.scheme})

    app.router.routes.append(Route("/whoami", whoami))
    server = build_server(app, "127.0.0.1", 0)
    server.capture_signals = contextlib.nullcontext
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            assert not task.done(), "the server stopped"
            await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 30)


NGINX_HEADERS = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}
APPENDED = {"X-Forwarded-For": "1.2.3.4, 203.0.113.9", "X-Forwarded-Proto": "https"}  # a client's own value first


@pytest.mark.parametrize("trusted,headers,client,scheme", [
    (("127.0.0.1",), NGINX_HEADERS, "203.0.113.9", "https"),  # from the proxy: believed
    (("127.0.0.0/8",), NGINX_HEADERS, "203.0.113.9", "https"),  # a network works too
    (("127.0.0.1",), APPENDED, "203.0.113.9", "https"),  # a spoofed value ahead of the proxy's is not taken
    (("10.0.0.1",), NGINX_HEADERS, "127.0.0.1", "http"),  # the proxy is elsewhere: ignored from us
    ((), NGINX_HEADERS, "127.0.0.1", "http"),  # no proxy configured: ignored from anyone
])
async def test_forwarded_headers_are_believed_only_from_the_trusted_proxy(
        tmp_path: Path, trusted: tuple[str, ...], headers: dict, client: str, scheme: str) -> None:
    """X-Forwarded-For/-Proto set the client and scheme only on connections from SIGNPOST_TRUSTED_PROXIES."""
    async with served(settings_for(tmp_path, trusted_proxies=trusted)) as base, httpx.AsyncClient() as http:
        seen = (await http.get(f"{base}/whoami", headers=headers)).json()
    assert seen == {"client": client, "scheme": scheme}


def test_trusted_proxies_are_read_from_the_environment_and_checked() -> None:
    """SIGNPOST_TRUSTED_PROXIES is a comma-separated list of addresses or networks; anything else is refused."""
    settings = Settings.from_env({"SIGNPOST_TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/8"})
    assert settings.trusted_proxies == ("127.0.0.1", "10.0.0.0/8") and settings.problems() == []
    assert any("SIGNPOST_TRUSTED_PROXIES" in p for p in Settings.from_env({"SIGNPOST_TRUSTED_PROXIES": "proxy"}).problems())


# ------------------------------------------------------------------ the example configurations

def test_nginx_block_matches_the_bot() -> None:
    """The nginx block forwards to the bot's default address, replaces X-Forwarded-For, and holds the limits."""
    nginx = block("nginx")
    assert re.findall(r"proxy_pass http://127\.0\.0\.1:(\d+);", nginx) == [str(DEFAULT_PORT)] * 2
    assert size_in_bytes(re.search(r"client_max_body_size (\w+);", nginx).group(1)) <= LARGEST_BODY + 48 * 1024
    for directive in ("client_header_timeout", "client_body_timeout"):
        assert seconds(re.search(rf"{directive} (\w+);", nginx).group(1)) <= DEFAULT_REQUEST_SECONDS
    assert nginx.count("proxy_set_header X-Forwarded-For $remote_addr;") == 2
    assert "$proxy_add_x_forwarded_for" not in nginx
    assert nginx.count("proxy_set_header X-Forwarded-Proto $scheme;") == 2
    assert "Strict-Transport-Security" in nginx and "return 301 https://" in nginx
    assert "limit_conn " in nginx and "limit_req " in nginx


def test_caddy_block_matches_the_bot() -> None:
    """The Caddy block forwards to the bot's default address and holds the same limits."""
    caddy = block("caddy")
    assert re.findall(r"reverse_proxy 127\.0\.0\.1:(\d+)", caddy) == [str(DEFAULT_PORT)]
    assert size_in_bytes(re.search(r"max_size (\w+)", caddy).group(1)) <= LARGEST_BODY + 48 * 1024
    for option in ("read_header", "read_body"):
        assert seconds(re.search(rf"{option} (\w+)", caddy).group(1)) <= DEFAULT_REQUEST_SECONDS
    assert "trusted_proxies" not in caddy  # Caddy faces the internet: no client may set X-Forwarded-*
    assert "Strict-Transport-Security" in caddy


def test_guide_names_the_settings_the_bot_reads() -> None:
    """Every SIGNPOST_ variable the guide tells the operator to set is one the bot reads."""
    import inspect

    import bot.config

    source = inspect.getsource(bot.config)
    for name in set(re.findall(r"\b(SIGNPOST_[A-Z_]+)=", GUIDE)):
        assert f'"{name}"' in source, name


@pytest.mark.skipif(shutil.which("nginx") is None and shutil.which("/usr/sbin/nginx") is None,
                    reason="nginx is not installed here: only its configuration logic is checked")
def test_nginx_accepts_the_block(tmp_path: Path) -> None:
    """`nginx -t` accepts the guide's nginx block (with a throwaway certificate)."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=x",
                    "-keyout", str(tmp_path / "key.pem"), "-out", str(tmp_path / "cert.pem")],
                   check=True, capture_output=True, timeout=60)
    server = (block("nginx")
              .replace("/etc/letsencrypt/live/bot.example.org/fullchain.pem", str(tmp_path / "cert.pem"))
              .replace("/etc/letsencrypt/live/bot.example.org/privkey.pem", str(tmp_path / "key.pem")))
    conf = tmp_path / "nginx.conf"
    conf.write_text(f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
                    f"http {{\naccess_log {tmp_path}/access.log;\n{server}\n}}\n")
    checked = subprocess.run([nginx, "-t", "-p", str(tmp_path), "-c", str(conf)], capture_output=True,
                             text=True, timeout=60)
    assert checked.returncode == 0, checked.stderr
