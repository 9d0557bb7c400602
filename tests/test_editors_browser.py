"""The editors' page in a real browser: headless Debian chromium against the real app under uvicorn.

Chromium is driven over the Chrome DevTools Protocol (a websocket on a port chromium
picks itself), typing the password and pressing Enter as an editor would. Where chromium
is missing the tests are skipped with the reason; .ci/run installs it (Debian's chromium package).
"""
from __future__ import annotations

import asyncio
import base64
import json
import shutil
import struct
import zlib
from pathlib import Path

import httpx
import pytest
import uvicorn

from bot.config import Settings
from bot.editors.auth import hash_password
from bot.signpost import open_signpost
from bot.store import LogRecord
from bot.web import create_app

websockets_client = pytest.importorskip("websockets.asyncio.client", reason="the test extra's websockets is missing")

PASSWORD = "browser test password"
SECRET_QUESTION = "is there a zebra club for my son"
TEST_TIMEOUT = 90
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--window-size=1200,900"]


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's chromium, which .ci/run installs; the tests themselves never install anything."""
    path = shutil.which("chromium")
    if path is None:
        reason = "chromium is not installed (apt-get install chromium; .ci/run does it)"
        print(f"SKIPPED browser tests: {reason}")
        pytest.skip(reason)
    return path


@pytest.fixture
async def server(tmp_path: Path, small_kb: Path):
    """The real app (bot.web.create_app) under uvicorn on 127.0.0.1, a port of its own choosing."""
    settings = Settings(db_path=tmp_path / "log.sqlite3", secret="s" * 32, knowledge_dir=small_kb,
                        editor_password_hash=hash_password(PASSWORD, n=2**14))
    signpost = await open_signpost(settings)
    await signpost.store.log(LogRecord("sms", "k1", SECRET_QUESTION, "unanswered"))
    await signpost.store.log(LogRecord("sms", "k2", "what is an ehcp", "answer", "ehcp-what-is", 0.9))
    config = uvicorn.Config(create_app(signpost), host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    uvicorn_server = uvicorn.Server(config)
    task = asyncio.create_task(uvicorn_server.serve())
    while not uvicorn_server.started:
        assert not task.done(), "uvicorn did not start"
        await asyncio.sleep(0.02)
    port = uvicorn_server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    uvicorn_server.should_exit = True
    await asyncio.wait_for(task, 10)


async def run_chromium(chromium: str, profile: Path, *args: str) -> str:
    process = await asyncio.create_subprocess_exec(
        chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
    out, _ = await asyncio.wait_for(process.communicate(), 30)
    return out.decode()


class DevTools:
    """Just enough of the Chrome DevTools Protocol: commands by id, events by name."""

    def __init__(self, socket) -> None:
        self.socket = socket
        self.last_id = 0
        self.events: list[dict] = []

    async def call(self, method: str, **params) -> dict:
        self.last_id += 1
        await self.socket.send(json.dumps({"id": self.last_id, "method": method, "params": params}))
        while True:
            message = json.loads(await self.socket.recv())
            if message.get("id") == self.last_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]
            self.events.append(message)

    async def event(self, name: str) -> dict:
        while True:
            for message in self.events:
                if message.get("method") == name:
                    self.events.remove(message)
                    return message
            self.events.append(json.loads(await self.socket.recv()))

    async def goto(self, url: str) -> None:
        self.events.clear()
        await self.call("Page.navigate", url=url)
        await asyncio.wait_for(self.event("Page.loadEventFired"), 15)

    async def html(self) -> str:
        root = (await self.call("DOM.getDocument"))["root"]
        return (await self.call("DOM.getOuterHTML", nodeId=root["nodeId"]))["outerHTML"]


async def devtools_page_url(profile: Path) -> str:
    """The websocket address of chromium's first tab, from the port it wrote to DevToolsActivePort."""
    port_file = profile / "DevToolsActivePort"
    for _ in range(200):
        if port_file.exists() and port_file.read_text().strip():
            break
        await asyncio.sleep(0.05)
    port = int(port_file.read_text().split()[0])
    async with httpx.AsyncClient(timeout=5) as client:
        targets = (await client.get(f"http://127.0.0.1:{port}/json/list")).json()
    return next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")


async def submit_password(tab: DevTools, password: str, timeout: float) -> None:
    """Type the password into the login form on the open page and press Enter, as a person would."""
    root = (await tab.call("DOM.getDocument"))["root"]
    field = await tab.call("DOM.querySelector", nodeId=root["nodeId"], selector="#password")
    await tab.call("DOM.focus", nodeId=field["nodeId"])
    await tab.call("Input.insertText", text=password)
    tab.events.clear()
    for kind in ("keyDown", "keyUp"):
        await tab.call("Input.dispatchKeyEvent", type=kind, key="Enter", code="Enter", windowsVirtualKeyCode=13,
                       text="\r")
    await asyncio.wait_for(tab.event("Page.loadEventFired"), timeout)


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", data[16:24])


def png_is_not_blank(data: bytes) -> bool:
    """Decompress the image data and look for more than a handful of distinct byte values."""
    chunks, at = [], 8
    while at < len(data):
        length, kind = struct.unpack(">I4s", data[at:at + 8])
        if kind == b"IDAT":
            chunks.append(data[at + 8:at + 8 + length])
        at += 12 + length
    pixels = zlib.decompress(b"".join(chunks))
    return len(set(pixels[::7])) > 8


@pytest.mark.timeout(TEST_TIMEOUT)
async def test_logged_out_dom_has_no_log_content(chromium: str, server: str, tmp_path: Path) -> None:
    """Chromium's rendered DOM of /editors for a stranger is the login form, with nothing from the log."""
    dom = await run_chromium(chromium, tmp_path / "profile-dump", "--dump-dom", f"{server}/editors")
    assert 'type="password"' in dom and "Log in" in dom
    assert "zebra" not in dom and "ehcp" not in dom
    dom = await run_chromium(chromium, tmp_path / "profile-dump2", "--dump-dom", f"{server}/editors/unanswered")
    assert 'type="password"' in dom and "zebra" not in dom  # redirected to the login form


@pytest.mark.timeout(TEST_TIMEOUT)
async def test_log_in_and_see_the_reports(chromium: str, server: str, tmp_path: Path) -> None:
    """An editor types the password and presses Enter; the overview shows the reports, chart and reload button."""
    profile = tmp_path / "profile"
    process = await asyncio.create_subprocess_exec(
        chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--remote-debugging-port=0", "about:blank",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    try:
        page_url = await asyncio.wait_for(devtools_page_url(profile), 20)
        async with websockets_client.connect(page_url, max_size=None) as socket:
            tab = DevTools(socket)
            await tab.call("Page.enable")
            await tab.goto(f"{server}/editors")
            before = await tab.html()
            assert 'type="password"' in before and "zebra" not in before

            await submit_password(tab, PASSWORD, timeout=15)

            after = await tab.html()
            assert SECRET_QUESTION in after, after[:2000]
            assert "Reload knowledge" in after and "Log out" in after and "<svg" in after
            assert 'type="password"' not in after

            shot = base64.b64decode((await tab.call("Page.captureScreenshot", format="png"))["data"])
            (tmp_path / "editors.png").write_bytes(shot)
            width, height = png_size(shot)
            assert 800 <= width <= 2400 and 600 <= height <= 1800, (width, height)
            assert len(shot) > 10_000 and png_is_not_blank(shot)

            await tab.goto(f"{server}/editors/stats")
            assert "Weekly stats" in await tab.html()
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 10)


@pytest.mark.timeout(TEST_TIMEOUT)
async def test_cli_screenshot_of_the_login_page(chromium: str, server: str, tmp_path: Path) -> None:
    """chromium --screenshot of the login page writes a PNG of the window's size."""
    shot = tmp_path / "login.png"
    await run_chromium(chromium, tmp_path / "profile-shot", f"--screenshot={shot}", f"{server}/editors")
    data = shot.read_bytes()
    assert png_size(data) == (1200, 900) and png_is_not_blank(data)
