"""The triage loop in a real browser: parents text over SMS, an editor triages in Chromium, parents text again.

The real app (bot.web.create_app) runs under uvicorn with the Twilio webhook on; parents'
texts are signed with twilio's RequestValidator. The editor's clicks are real form posts
from headless chromium, driven over the DevTools protocol (tests/test_editors_browser.py).
"""
from __future__ import annotations

import asyncio
import re
from pathlib import Path

import httpx
import pytest

from bot.editors.auth import hash_password
from bot.web import create_app
from test_editors_browser import (CHROMIUM_FLAGS, DevTools, chromium, devtools_page_url,  # noqa: F401 (a fixture)
                                  submit_password)
from twilio_client import Phone, make_signpost, running, settings_for

pytest.importorskip("websockets.asyncio.client", reason="the test extra's websockets is missing")
from websockets.asyncio import client as websockets_client  # noqa: E402

PASSWORD = "browser triage password"
DENTIST = ["is there an autism-friendly dentist in Hereford", "dentist for my autistic son in hereford",
           "where can I find a dentist that is good with autistic children near Hereford"]
NOISE_ROW = "asdfgh qwerty zxcv"
SMALL_TALK = ["exit", "thank you thats really helpful", "1"]
SHORT_BREAKS = "Short breaks give disabled children time away and give you a rest."
TEST_TIMEOUT = 240


async def click(tab: DevTools, selector: str) -> None:
    """Click a button as a user would (a real form post), and wait for the next page."""
    tab.events.clear()
    found = await tab.call("Runtime.evaluate", expression=f"document.querySelector({selector!r}).click(); true")
    assert found["result"].get("value") is True, found
    await asyncio.wait_for(tab.event("Page.loadEventFired"), 90)


async def log_in(tab: DevTools, server: str) -> None:
    await tab.goto(f"{server}/editors")
    await submit_password(tab, PASSWORD, timeout=30)


def row(page: str, text: str) -> str:
    """The id of the table row (the group) that shows `text`."""
    return re.search(r'<tr id="(g\d+)">(?:(?!</tr>).)*' + re.escape(text), page, re.S).group(1)


def unanswered_list(page: str) -> str:
    """The first list on the page: questions waiting for an editor."""
    return page.split('id="unanswered"', 1)[1].split('id="gaps"', 1)[0]


@pytest.mark.timeout(TEST_TIMEOUT)
async def test_triage_loop_in_chromium(chromium: str, tmp_path: Path, small_kb: Path) -> None:
    """Log in, see three dentist questions as one group, add them to an entry, SMS again: answered; dismiss; undo."""
    settings = settings_for(tmp_path, knowledge_dir=small_kb, editor_password_hash=hash_password(PASSWORD))
    signpost = await make_signpost(settings)
    async with running(create_app(signpost)) as (server, _), httpx.AsyncClient() as http:
        for i, text in enumerate(DENTIST + SMALL_TALK + [NOISE_ROW]):
            await Phone(server, http, sender=f"+4477009001{i:02d}").text(text)
        process = await asyncio.create_subprocess_exec(
            chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--remote-debugging-port=0",
            "about:blank", stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        try:
            page_url = await asyncio.wait_for(devtools_page_url(tmp_path / "profile"), 30)
            async with websockets_client.connect(page_url, max_size=None) as socket:
                tab = DevTools(socket)
                await tab.call("Page.enable")
                await log_in(tab, server)
                await tab.goto(f"{server}/editors/unanswered")
                page = await tab.html()
                waiting = unanswered_list(page)
                group = row(page, DENTIST[0])
                dentist_row = waiting.split(f'<tr id="{group}">', 1)[1].split("</tr>", 1)[0]
                assert all(text in dentist_row for text in DENTIST) and '<td class="n">3</td>' in dentist_row
                assert not any(f"<li>{text}</li>" in waiting for text in SMALL_TALK)

                await tab.call("Runtime.evaluate", expression=f"document.getElementById('entry-{group}').value = "
                                                              "'short-breaks'")
                await click(tab, f'button[value="add-phrasing:{group}"]')
                page = await tab.html()
                assert "Done: added as phrasings of short-breaks (3 questions)" in page, page[:3000]
                assert f'<tr id="{group}">' not in page

                reply = await Phone(server, http, sender="+447700900555").text("autism friendly dentist in hereford?")
                assert SHORT_BREAKS in reply[0], reply

                noise = row(page, NOISE_ROW)
                await click(tab, f'button[value="dismiss:{noise}"]')
                page = await tab.html()
                assert "Done: dismissed as noise (1 question)" in page and f'<tr id="{noise}">' not in page

                await click(tab, 'div.note button[name="action"]')  # the undo button beside "Done:"
                page = await tab.html()
                assert "Done: undid action" in page and f'<tr id="{noise}">' in page
        finally:
            process.terminate()
            await asyncio.wait_for(process.wait(), 10)
