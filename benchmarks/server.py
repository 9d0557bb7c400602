"""End to end: signed SMS webhooks against `python main.py serve`, beside a bare Starlette endpoint.

For each concurrency level (1, 16, 64) a bounded asyncio httpx client sends signed Twilio
webhooks (twilio's RequestValidator, a new sender and MessageSid each time, SEND questions
from the dev set) first to the bot and then to a bare Starlette endpoint returning fixed
TwiML, served by uvicorn the same way (benchmarks/bare_twiml.py). Both servers run on
127.0.0.1 on free ports, pinned to one core when possible; the client is pinned to another
core. The figure that holds on a noisy machine is the ratio of the two throughputs.

Then the same webhooks against PostgreSQL (a throwaway server in a temporary directory, as the
tests start it): one worker, and two workers on the same database with the client alternating
between them, at concurrency 16 and 64. Every run logs each webhook and its delivery row in one
committed transaction (group commit) before answering.

The questions are a fixed list written here, repeated (sentence vectors are cached after the
first round, so the figures measure the server path, not the model); never the held-out sets.

Also measured: start-up (launch to a healthy /healthz) and peak RSS (VmHWM) of the server,
with the bundled knowledge base and with CLINC150 (15,000 phrasings). Database writes stay on.

    .venv/bin/python benchmarks/server.py [--requests N] [--skip-clinc] [--skip-postgres]
"""
from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import contextlib
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator
from urllib.parse import urlencode

import httpx
from twilio.request_validator import RequestValidator

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.clinc150_kb import write_kb  # noqa: E402

TOKEN = "benchmark-auth-token-" + "0" * 12
PUBLIC = "https://signpost.example.org"  # what the requests are signed for, whichever worker takes them
LEVELS = (1, 16, 64)
SHARED_LEVELS = (16, 64)
QUESTIONS = [
    "What is an EHC plan?", "how do i apply for an ehcp", "short breaks for my son", "respite care",
    "school transport for my autistic daughter", "camhs waiting list how long", "what is the local offer",
    "who can refer to camhs", "what is sendiass", "tribunal appeal", "what happens at an annual review",
    "going to college at 16", "help with toileting", "sleep problems autism", "is there a parent support group",
    "my son has adhd and the school keeps sending him home", "can I get help with money DLA",
    "speech and language therapy referral", "does my child need a diagnosis for an ehcp",
    "the council said no to an assessment", "personal budget for my son's care", "clubs in the holidays",
]
STARTUP_LIMIT = 120.0  # seconds; the CLINC150 base trains its model at load


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cores() -> tuple[str | None, int | None]:
    """(taskset core list for the server, core for the client), or None where pinning is unavailable."""
    try:
        available = sorted(os.sched_getaffinity(0))
    except AttributeError:
        return None, None
    if len(available) < 2 or not _which("taskset"):
        return None, None
    return str(available[-1]), available[0]


def _which(name: str) -> bool:
    return any((Path(p) / name).exists() for p in os.environ.get("PATH", "").split(os.pathsep))


@dataclass
class Server:
    process: subprocess.Popen
    base: str
    startup_s: float

    def peak_rss_mb(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")


@contextmanager
def running(command: list[str], env: dict[str, str], port: int, core: str | None) -> Iterator[Server]:
    if core is not None:
        command = ["taskset", "-c", core, *command]
    # The log goes to a file: a pipe nobody reads fills up and stalls the server mid-benchmark.
    log = tempfile.TemporaryFile()
    start = time.perf_counter()
    process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        startup = wait_healthy(base, process, start, log)
        yield Server(process, base, startup)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def wait_healthy(base: str, process: subprocess.Popen, start: float, log) -> float:
    with httpx.Client(timeout=2.0) as client:
        while time.perf_counter() - start < STARTUP_LIMIT:
            if process.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"server exited {process.returncode}: {log.read().decode()[-2000:]}")
            try:
                if client.get(base + "/healthz").status_code == 200:
                    return time.perf_counter() - start
            except httpx.TransportError:
                pass
            time.sleep(0.01)
    raise RuntimeError("server did not become healthy in time")


SECRET = secrets.token_hex(24)  # one for every worker of a run: they must key senders alike


def bot_env(db: Path | str, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "SIGNPOST_", "TWILIO_"))}
    env.update(SIGNPOST_DB=str(db), TWILIO_AUTH_TOKEN=TOKEN, PUBLIC_BASE_URL=PUBLIC, SIGNPOST_SECRET=SECRET,
               SIGNPOST_RATE_LIMIT_COUNT="1000000")
    return env


def signed_requests(url: str, count: int, questions: list[str], run: str) -> list[tuple[bytes, dict[str, str]]]:
    """Each request a new sender and MessageSid, so no rate limit or de-duplication cuts the work short."""
    validator = RequestValidator(TOKEN)
    url = PUBLIC + "/twilio/messages" if "/twilio/" in url else url  # the bot checks against its public URL
    out = []
    for i in range(count):
        form = {"MessageSid": f"SM{run}{i:08d}", "AccountSid": "AC" + "0" * 32, "From": f"+44770{i:07d}"[:13],
                "To": "+447700900000", "Body": questions[i % len(questions)], "NumMedia": "0", "FromCity": ""}
        headers = {"X-Twilio-Signature": validator.compute_signature(url, form),
                   "Content-Type": "application/x-www-form-urlencoded"}
        out.append((urlencode(form).encode(), headers))
    return out


@dataclass
class Load:
    concurrency: int
    requests: int
    seconds: float
    latencies: list[float]
    failures: int

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def pct(self, q: float) -> float:
        ms = sorted(x * 1000 for x in self.latencies)
        return ms[min(len(ms) - 1, int(q * len(ms)))] if ms else float("nan")


async def load(url: str | list[str], requests: list[tuple[bytes, dict[str, str]]], concurrency: int) -> Load:
    queue: asyncio.Queue = asyncio.Queue()
    for item in requests:
        queue.put_nowait(item)
    latencies: list[float] = []
    failures = 0
    # One client with one kept-alive connection per worker: a shared httpx pool serialises
    # on its own lock at high concurrency and then measures the client, not the server.
    clients = [httpx.AsyncClient(limits=httpx.Limits(max_connections=1), timeout=30.0) for _ in range(concurrency)]

    urls = [url] if isinstance(url, str) else url  # several workers: each client keeps to one, in turn

    async def worker(client: httpx.AsyncClient, url: str) -> None:
        nonlocal failures
        while not queue.empty():
            body, headers = queue.get_nowait()
            start = time.perf_counter()
            response = await client.post(url, content=body, headers=headers)
            latencies.append(time.perf_counter() - start)
            failures += response.status_code != 200 or b"<Response" not in response.content

    try:
        begin = time.perf_counter()
        await asyncio.wait_for(asyncio.gather(*(worker(c, urls[i % len(urls)]) for i, c in enumerate(clients))),
                               timeout=600)
        took = time.perf_counter() - begin
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))
    return Load(concurrency, len(requests), took, latencies, failures)


def questions() -> list[str]:
    return list(QUESTIONS)


def side_by_side(count: int, server_core: str | None, work: Path) -> list[tuple[Load, Load]]:
    asked = questions()
    bot_port, bare_port = free_port(), free_port()
    results = []
    with running([sys.executable, "main.py", "serve", "--host", "127.0.0.1", "--port", str(bot_port)],
                 bot_env(work / "bench.db", bot_port), bot_port, server_core) as bot, \
         running([sys.executable, "benchmarks/bare_twiml.py", "--port", str(bare_port)],
                 dict(os.environ), bare_port, server_core) as bare:
        bot_url, bare_url = bot.base + "/twilio/messages", bare.base + "/twilio/messages"
        asyncio.run(load(bot_url, signed_requests(bot_url, 200, asked, "warm"), 16))  # warm caches and connections
        for level in LEVELS:
            n = count if level > 1 else max(count // 4, 200)
            mine = asyncio.run(load(bot_url, signed_requests(bot_url, n, asked, f"c{level}x"), level))
            theirs = asyncio.run(load(bare_url, signed_requests(bare_url, n, asked, f"c{level}y"), level))
            results.append((mine, theirs))
        results_rss = bot.peak_rss_mb()
    print_load(results)
    for mine, theirs in results:
        if mine.concurrency in SHARED_LEVELS:
            print(f"SQLite ratio at concurrency {mine.concurrency}: {mine.rps / theirs.rps:.2f} (target 0.5)")
    print(f"Bot server peak RSS after the load (bundled base): {results_rss:.0f} MB; start-up to healthy "
          f"/healthz: {bot.startup_s:.2f} s (bare endpoint: {bare.startup_s:.2f} s)")
    return results


def memory_and_startup(kb: Path | None, work: Path, server_core: str | None, label: str) -> None:
    port = free_port()
    command = [sys.executable, "main.py", "serve", "--host", "127.0.0.1", "--port", str(port)]
    if kb is not None:
        command += ["--kb", str(kb)]
    with running(command, bot_env(work / f"{label}.db", port), port, server_core) as server:
        at_start = server.peak_rss_mb()
        url = server.base + "/twilio/messages"
        asyncio.run(load(url, signed_requests(url, 500, questions(), label), 16))
        print(f"{label}: start-up to healthy /healthz {server.startup_s:.2f} s; peak RSS {at_start:.0f} MB "
              f"after start-up, {server.peak_rss_mb():.0f} MB after 500 webhooks")


def postgres_runs(count: int, server_core: str | None, bare: dict[int, Load]) -> None:
    """One worker, then two on the same database, each against a fresh database."""
    sys.path.insert(0, str(ROOT / "tests"))
    from postgres_server import create_database, start_server, unavailable_reason

    if reason := unavailable_reason():
        print(f"PostgreSQL skipped: {reason}")
        return
    database = start_server()
    try:
        rows = []
        for workers in (1, 2):
            url = create_database(database, f"bench_{workers}")
            ports = [free_port() for _ in range(workers)]
            with contextlib.ExitStack() as stack:
                servers = [stack.enter_context(running(
                    [sys.executable, "main.py", "serve", "--host", "127.0.0.1", "--port", str(port)],
                    bot_env(url, port), port, server_core)) for port in ports]
                urls = [s.base + "/twilio/messages" for s in servers]
                asyncio.run(load(urls, signed_requests(urls[0], 200, questions(), f"pgwarm{workers}"), 16))
                for level in SHARED_LEVELS:
                    result = asyncio.run(load(urls, signed_requests(urls[0], count, questions(),
                                                                    f"pg{workers}c{level}"), level))
                    rows.append((workers, result))
    finally:
        database.stop()
    print("| PostgreSQL workers | concurrency | req/s | p50 ms | p99 ms | ratio to bare | errors |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for workers, result in rows:
        ratio = result.rps / bare[result.concurrency].rps if result.concurrency in bare else float("nan")
        print(f"| {workers} | {result.concurrency} | {result.rps:.0f} | {result.pct(0.5):.1f} | {result.pct(0.99):.1f} "
              f"| {ratio:.2f} | {result.failures} |")


def print_load(results: list[tuple[Load, Load]]) -> None:
    print("| concurrency | bot req/s | bot p50 ms | bot p99 ms | bare req/s | bare p50 ms | bare p99 ms | ratio | errors |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for mine, theirs in results:
        print(f"| {mine.concurrency} | {mine.rps:.0f} | {mine.pct(0.5):.1f} | {mine.pct(0.99):.1f} | {theirs.rps:.0f} "
              f"| {theirs.pct(0.5):.1f} | {theirs.pct(0.99):.1f} | {mine.rps / theirs.rps:.2f} "
              f"| {mine.failures}/{theirs.failures} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000, help="webhooks per concurrency level (default 2000)")
    parser.add_argument("--skip-clinc", action="store_true", help="leave out the CLINC150 memory run")
    parser.add_argument("--skip-postgres", action="store_true", help="leave out the PostgreSQL runs")
    args = parser.parse_args()
    server_core, client_core = cores()
    if client_core is not None:
        os.sched_setaffinity(0, {client_core})
    where = f"servers on core {server_core}, client on core {client_core}" if server_core else "not pinned"
    print(f"Signed Twilio SMS webhooks on 127.0.0.1, {args.requests} per level; {where}; database writes on\n")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        results = side_by_side(args.requests, server_core, work)
        print()
        if not args.skip_postgres:
            postgres_runs(args.requests, server_core, {theirs.concurrency: theirs for _, theirs in results})
            print()
        memory_and_startup(None, work, server_core, "bundled base")
        if not args.skip_clinc:
            memory_and_startup(write_kb(work / "clinc150-kb"), work, server_core, "CLINC150 base")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
