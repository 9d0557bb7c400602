"""A real PostgreSQL server for the tests, in a temporary directory, stopped at the end.

Debian's binaries live in /usr/lib/postgresql/<version>/bin (not on PATH). PostgreSQL refuses
to run as root and the tests run as root in CI, so then the server runs as the `postgres`
user (runuser): its directory is made for and owned by that user. It listens on 127.0.0.1 on
a free port with trust authentication (loopback only, a throwaway cluster), fsync off (the
tests kill workers, never the machine), and every wait is bounded.
"""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ports import free_port

START_SECONDS = 30.0
STOP_SECONDS = 20.0


def find_bin_dir() -> Path | None:
    """The newest PostgreSQL server binaries on this machine, or None."""
    if found := shutil.which("initdb"):
        return Path(found).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                        key=lambda p: int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0)
    return Path(candidates[-1]).parent if candidates else None


@dataclass
class PostgresServer:
    bin_dir: Path
    root: Path  # the temporary directory: data/ and the log
    port: int
    run_as: str | None  # "postgres" when we are root, else None (run as ourselves)

    @property
    def url(self) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/postgres"

    @property
    def user(self) -> str:
        return self.run_as or pwd.getpwuid(os.getuid()).pw_name

    def database_url(self, name: str) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{name}"

    def _run(self, *args: str, timeout: float) -> subprocess.CompletedProcess:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if self.run_as:
            command = ["runuser", "-u", self.run_as, "--", *command]
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=self.root)

    def start(self) -> None:
        data = self.root / "data"
        done = self._run("initdb", "-D", str(data), "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8",
                         "-U", self.user, timeout=START_SECONDS)
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed: {done.stderr[-1500:]}")
        options = (f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories={self.root}"
                   " -c fsync=off -c full_page_writes=off -c max_connections=100")
        done = self._run("pg_ctl", "-D", str(data), "-l", str(self.root / "server.log"), "-o", options,
                         "-w", "-t", str(int(START_SECONDS)), "start", timeout=START_SECONDS + 5)
        if done.returncode != 0:
            log = (self.root / "server.log").read_text(errors="replace")[-1500:] if (self.root / "server.log").exists() else ""
            raise RuntimeError(f"pg_ctl start failed: {done.stderr[-800:]} {log}")
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError("PostgreSQL did not accept connections in time")

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.root / "data"), "-m", "fast", "-w", "-t", str(int(STOP_SECONDS)),
                      "stop", timeout=STOP_SECONDS + 5)
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def unavailable_reason() -> str | None:
    """Why a server cannot be started here, or None."""
    if find_bin_dir() is None:
        return "PostgreSQL is not installed (no initdb on PATH or in /usr/lib/postgresql/*/bin)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no 'postgres' user to run the server as"
        if shutil.which("runuser") is None:
            return "running as root and runuser is missing"
    return None


def start_server() -> PostgresServer:
    bin_dir = find_bin_dir()
    assert bin_dir is not None
    root = Path(tempfile.mkdtemp(prefix="signpost-pg-"))
    run_as = None
    if os.geteuid() == 0:
        run_as = "postgres"
        entry = pwd.getpwnam(run_as)
        os.chown(root, entry.pw_uid, entry.pw_gid)
    os.chmod(root, 0o700)
    server = PostgresServer(bin_dir, root, free_port(), run_as)
    try:
        server.start()
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    return server


def create_database(server: PostgresServer, name: str) -> str:
    """CREATE DATABASE on the server (in a thread of its own, so it works inside a running event loop); its URL."""
    import asyncio
    import threading

    import asyncpg

    async def create() -> None:
        admin = await asyncpg.connect(server.url, timeout=10)
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()

    failure: list[BaseException] = []
    thread = threading.Thread(target=lambda: _capture(failure, lambda: asyncio.run(create())))
    thread.start()
    thread.join(timeout=30)
    if failure:
        raise failure[0]
    return server.database_url(name)


def _capture(failure: list[BaseException], work) -> None:
    try:
        work()
    except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
        failure.append(exc)
