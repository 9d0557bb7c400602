"""Two `python main.py serve` workers on one real PostgreSQL database, as behind a load balancer.

Signed Twilio webhooks are spread over both; every retry of a MessageSid goes to the *other*
worker, at the same time as the first delivery or after it. Then: exactly one delivery row
and one log row per MessageSid, and one reply per message (the retry gets the same TwiML);
a clarify answered by "2" on the other worker picks the second option; kill -9 of one worker
mid-load loses nothing that was acknowledged, and what it never answered is answered once by
the other (Twilio's fallback URL).
"""
from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import asyncpg
import httpx
import pytest

from bot.channels.sms import sms_bodies
from bot.conversation import Conversation
from bot.signpost import build_replies
from ports import free_port
from twilio_client import PATH, PUBLIC, TOKEN, bodies, sign, twilio_form

ROOT = Path(__file__).resolve().parent.parent
SECRET = "9f2c4e8a1b7d3f6e0a5c9b2d8e4f1a7c3b6d0e9f"  # both workers key senders alike
START_SECONDS = 90.0
MESSAGES = 2_000
RETRIES = 300
IN_FLIGHT = 32
QUESTIONS = [
    "What is an EHC plan?", "how do i apply for an ehcp", "short breaks for my son", "respite care",
    "school transport for my autistic daughter", "camhs waiting list how long", "what is the local offer",
    "who can refer to camhs", "what is sendiass", "tribunal appeal", "what happens at an annual review",
    "going to college at 16", "hello", "thanks", "menu",
]


@dataclass
class Worker:
    process: subprocess.Popen
    base: str
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""


def _start(database: str, work: Path, name: str) -> Worker:
    port = free_port()
    folder = work / name  # its own pid file and data folder; the log is in PostgreSQL
    folder.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "SIGNPOST_", "TWILIO_"))}
    env.update(SIGNPOST_DB=database, SIGNPOST_SECRET=SECRET, TWILIO_AUTH_TOKEN=TOKEN, PUBLIC_BASE_URL=PUBLIC,
               SIGNPOST_RATE_LIMIT_COUNT="100000", SIGNPOST_CACHE_DIR=os.environ.get("SIGNPOST_CACHE_DIR", ""))
    log = folder / "server.log"
    with open(log, "wb") as out:
        process = subprocess.Popen([sys.executable, str(ROOT / "main.py"), "serve", "--host", "127.0.0.1",
                                    "--port", str(port)], env=env, cwd=folder, stdout=out, stderr=out)
    return Worker(process, f"http://127.0.0.1:{port}", log)


def _wait_healthy(worker: Worker, deadline: float) -> None:
    with httpx.Client(timeout=2) as client:
        while time.monotonic() < deadline:
            assert worker.process.poll() is None, f"worker exited:\n{worker.output()}"
            with contextlib.suppress(httpx.TransportError):
                if client.get(worker.base + "/healthz").status_code == 200:
                    return
            time.sleep(0.1)
    raise AssertionError(f"worker not healthy in time:\n{worker.output()}")


@contextlib.contextmanager
def two_workers(database: str) -> Iterator[tuple[Worker, Worker]]:
    with tempfile.TemporaryDirectory() as tmp:
        workers = [_start(database, Path(tmp), name) for name in ("one", "two")]
        try:
            deadline = time.monotonic() + START_SECONDS
            for worker in workers:
                _wait_healthy(worker, deadline)
            yield workers[0], workers[1]
        finally:
            for worker in workers:
                if worker.process.poll() is None:
                    worker.process.terminate()
            for worker in workers:
                try:
                    worker.process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    worker.process.kill()
                    worker.process.wait()


async def post(client: httpx.AsyncClient, worker: Worker, form: dict[str, str]) -> httpx.Response:
    return await client.post(worker.base + PATH, data=form, headers={"X-Twilio-Signature": sign(form, PUBLIC + PATH)})


async def rows(database: str, sql: str) -> list[asyncpg.Record]:
    db = await asyncpg.connect(database, timeout=10)
    try:
        return await db.fetch(sql)
    finally:
        await db.close()


@pytest.mark.timeout(240)
async def test_two_workers_take_two_thousand_webhooks_with_retries_on_the_other(postgres_url: str) -> None:
    rng = random.Random(18)
    forms = [twilio_form(rng.choice(QUESTIONS), sender=f"+4477009{n % 250:05d}", sid=f"SMw{n:031d}")
             for n in range(MESSAGES)]
    # (form, worker index): spread over both; each retry goes to the other worker, shuffled in among the rest,
    # so some retries arrive while the first delivery is still being answered.
    sends = [(form, n % 2) for n, form in enumerate(forms)]
    sends += [(forms[n], 1 - n % 2) for n in rng.sample(range(MESSAGES), RETRIES)]
    rng.shuffle(sends)
    with two_workers(postgres_url) as workers:
        gate = asyncio.Semaphore(IN_FLIGHT)
        async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=IN_FLIGHT * 2, keepalive_expiry=1.0)) as client:
            async def send(form: dict[str, str], index: int) -> tuple[str, httpx.Response]:
                async with gate:
                    return form["MessageSid"], await post(client, workers[index], form)

            started = time.perf_counter()
            results = await asyncio.wait_for(asyncio.gather(*(send(f, i) for f, i in sends)), 180)
            took = time.perf_counter() - started
            health = [(await client.get(w.base + "/healthz")).json()["status"] for w in workers]
    print(f"\ntwo workers: {len(sends)} webhooks in {took:.1f} s ({len(sends) / took:.0f}/s)")

    assert Counter(r.status_code for _, r in results) == {200: len(sends)}
    replies: dict[str, set[str]] = {}
    for sid, response in results:
        assert bodies(response.text), response.text  # every message is answered
        replies.setdefault(sid, set()).add(response.text)
    assert all(len(twimls) == 1 for twimls in replies.values()), "a retry on the other worker got a different reply"
    assert health == ["ok", "ok"]

    deliveries = await rows(postgres_url, "SELECT delivery_id, reply FROM deliveries")
    assert Counter(r["delivery_id"] for r in deliveries) == Counter({f["MessageSid"]: 1 for f in forms})
    assert all({r["reply"]} == replies[r["delivery_id"]] for r in deliveries)  # what was sent is what was kept
    [count] = await rows(postgres_url, "SELECT count(*) AS n, count(DISTINCT sender) AS senders FROM messages")
    assert (count["n"], count["senders"]) == (MESSAGES, 250)  # one row per message, none for the retries


VAGUE = ["support", "therapy", "help", "camhs", "school"]  # one of them is a clarify in the bundled base


@pytest.mark.timeout(180)
async def test_a_clarify_on_one_worker_is_answered_by_2_on_the_other(postgres_url: str) -> None:
    # What a single worker answers, in this process: a vague word offers choices, "2" picks the second.
    single = Conversation(build_replies(None))
    word, offered = next((w, r) for w in VAGUE if (r := single.reply_to(f"k-{w}", w)).outcome == "clarify")
    second = single.reply_to(f"k-{word}", "2")
    assert len(offered.choices) >= 2 and second.outcome == "answer" and second.topic == offered.choices[1].id
    with two_workers(postgres_url) as (one, two):
        async with httpx.AsyncClient(timeout=30) as client:
            [clarify] = bodies((await post(client, one, twilio_form(word, sender="+447700900555"))).text)
            [picked] = bodies((await post(client, two, twilio_form("2", sender="+447700900555"))).text)
            # Someone who was never offered a choice: "2" alone means nothing.
            [alone] = bodies((await post(client, two, twilio_form("2", sender="+447700900556"))).text)
    assert sms_bodies(offered) == [clarify]
    assert sms_bodies(second) == [picked]
    assert picked != alone


@pytest.mark.timeout(240)
async def test_kill_9_of_one_worker_mid_load_loses_nothing_acknowledged(postgres_url: str) -> None:
    count = 600
    forms = [twilio_form(QUESTIONS[n % len(QUESTIONS)], sender=f"+4477008{n % 100:05d}", sid=f"SMk{n:031d}")
             for n in range(count)]
    acknowledged: dict[str, str] = {}
    with two_workers(postgres_url) as (one, two):
        gate = asyncio.Semaphore(IN_FLIGHT)
        async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=IN_FLIGHT * 2, keepalive_expiry=1.0)) as client:
            async def send(n: int, form: dict[str, str]) -> None:
                async with gate:
                    if n == count // 3:
                        os.kill(one.process.pid, signal.SIGKILL)  # mid-load, with requests in flight on it
                    first = one if n % 2 == 0 else two
                    try:
                        response = await post(client, first, form)
                    except httpx.TransportError:
                        response = None  # never acknowledged: Twilio then tries the fallback URL
                    if response is None or response.status_code != 200:
                        response = await post(client, two, form)
                    assert response.status_code == 200, response.text
                    acknowledged[form["MessageSid"]] = response.text

            await asyncio.wait_for(asyncio.gather(*(send(n, f) for n, f in enumerate(forms))), 150)
        assert one.process.wait(timeout=10) == -signal.SIGKILL
    deliveries = await rows(postgres_url, "SELECT delivery_id, reply FROM deliveries")
    assert Counter(r["delivery_id"] for r in deliveries) == Counter({f["MessageSid"]: 1 for f in forms})
    assert {r["delivery_id"]: r["reply"] for r in deliveries} == acknowledged  # each answer sent is the one kept
    [row] = await rows(postgres_url, "SELECT count(*) AS n FROM messages")
    assert row["n"] == count
