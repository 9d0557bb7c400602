"""Load: 2,000 signed Twilio webhooks from 200 senders at once against the real server on 127.0.0.1.

Loopback only, bounded in count (2,000 messages plus 200 retries), in concurrency (64 in
flight) and in time (asyncio.wait_for and the pytest timeout). The log is then read back
through a separate SQLite connection, as an editor would.
"""
from __future__ import annotations

import asyncio
import random
import sqlite3
import time
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import httpx
import pytest

from bot.messages import OUTCOMES
from bot.redaction import redact
from bot.store import storable
from bot.web import create_app
from twilio_client import PATH, PUBLIC, make_signpost, running, settings_for, sign, twilio_form

MESSAGES = 2_000
SENDERS = 200
RETRIES = 200  # Twilio re-sends a MessageSid when a reply is slow: these must not make a second row
IN_FLIGHT = 64
TIME_LIMIT = 90  # seconds for the whole burst; it takes about a quarter of that on a 2-core machine

# Questions families ask, with typos and emoji; none is a keyword (STOP, HELP, ...) or a crisis.
QUESTIONS = [
    "What is an EHC plan?", "how do i apply for an ehcp", "EHCP?", "short breaks for my son",
    "respite care for disabled children", "school transport for my autistic daughter 🚌",
    "waiting for an autism assessment, what help is there meanwhile", "camhs waiting list how long",
    "my child is not coping at school", "what is the local offer", "can I get help with money DLA",
    "who can refer to camhs", "what is sendiass", "clubs in the holidays for send kids",
    "speech and language therapy referal", "does my child need a diagnosis for an ehcp",
    "ADHD assessment waiting time", "hello", "thanks", "menu", "the council said no to an assessment",
    "tribunal appeal", "what happens at an annual review", "help with toileting", "sleep problems autism",
    "is there a parent support group", "Personal budget for my son's care", "going to college at 16",
]


def plan(seed: int = 9) -> list[dict[str, str]]:
    """2,000 forms: 10 from each of 200 senders, interleaved, each with its own MessageSid."""
    rng = random.Random(seed)
    senders = [f"+4477009{n:05d}" for n in range(SENDERS)]
    forms = [twilio_form(rng.choice(QUESTIONS), sender=senders[i % SENDERS], sid=f"SMload{i:026d}")
             for i in range(MESSAGES)]
    return forms


def replies_of(twiml: str) -> list[str]:
    root = ET.fromstring(twiml)  # raises on anything that is not well-formed XML
    assert root.tag == "Response", twiml
    return [message.text or "" for message in root.iter("Message")]


async def burst(base: str, forms: list[dict[str, str]]) -> list[tuple[dict[str, str], httpx.Response]]:
    """Post every form, signed, at most IN_FLIGHT at a time; returns each form with its response."""
    gate = asyncio.Semaphore(IN_FLIGHT)
    # An idle connection is dropped by the client well before the server's 5 s keep-alive ends: at
    # equal times (httpx's default is also 5 s) a request sent on a connection the server is just
    # closing fails with ReadError, which happened once on a machine running two test suites at once.
    limits = httpx.Limits(max_connections=IN_FLIGHT, max_keepalive_connections=IN_FLIGHT, keepalive_expiry=2.0)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        async def post(form: dict[str, str]) -> tuple[dict[str, str], httpx.Response]:
            async with gate:
                headers = {"X-Twilio-Signature": sign(form, PUBLIC + PATH)}
                return form, await client.post(base + PATH, data=form, headers=headers)

        return await asyncio.gather(*(post(form) for form in forms))


@pytest.mark.timeout(150)
async def test_two_thousand_webhooks_from_two_hundred_senders_are_logged_exactly_once(tmp_path: Path) -> None:
    """2,000 concurrent signed webhooks (plus 200 retries) all get valid TwiML, one delivery row and one log row each."""
    settings = settings_for(tmp_path, rate_limit_count=1_000)  # this test measures throughput, not the limit
    signpost = await make_signpost(settings)
    forms = plan()
    retries = random.Random(1).sample(forms, RETRIES)
    everything = forms + retries
    random.Random(2).shuffle(everything)  # a retry may even arrive before its original
    async with running(create_app(signpost)) as (base, _):
        started = time.perf_counter()
        results = await asyncio.wait_for(burst(base, everything), TIME_LIMIT)
        elapsed = time.perf_counter() - started
        async with httpx.AsyncClient() as client:
            health = (await client.get(f"{base}/healthz")).json()
    print(f"\nload: {len(everything)} webhooks in {elapsed:.1f} s ({len(everything) / elapsed:.0f}/s), "
          f"{IN_FLIGHT} in flight")

    statuses = Counter(response.status_code for _, response in results)
    assert statuses == {200: len(everything)}, statuses
    by_sid: dict[str, set[str]] = {}
    for form, response in results:
        assert response.headers["content-type"].startswith("application/xml")
        bodies = replies_of(response.text)
        assert bodies and all(body.strip() for body in bodies), (form["Body"], response.text)
        by_sid.setdefault(form["MessageSid"], set()).add(response.text)
    assert all(len(twimls) == 1 for twimls in by_sid.values()), "a retry got a different reply"
    assert health["status"] == "ok", health

    with sqlite3.connect(settings.db_path) as db:
        deliveries = Counter(sid for (sid,) in db.execute("SELECT delivery_id FROM deliveries"))
        rows = db.execute("SELECT sender, text, outcome FROM messages").fetchall()
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert set(deliveries) == {form["MessageSid"] for form in forms}
    assert max(deliveries.values()) == 1
    assert len(rows) == MESSAGES  # one row per delivered message, none for the retries
    assert Counter(text for _, text, _ in rows) == Counter(storable(redact(form["Body"])) for form in forms)
    assert {outcome for _, _, outcome in rows} <= set(OUTCOMES)
    per_sender = Counter(sender for sender, _, _ in rows)
    assert len(per_sender) == SENDERS and set(per_sender.values()) == {MESSAGES // SENDERS}
