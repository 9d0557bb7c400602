"""Reloading the knowledge without a restart: Signpost.reload and `main.py kb reload` with its pid file."""
from __future__ import annotations

import os
import signal
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from bot.cli import main
from bot.config import Settings
from bot.knowledge import BUNDLED_DIR
from bot.reload import pid_path, remove_pid, request_reload, running_server, write_pid
from bot.signpost import open_signpost

ROOT = Path(__file__).resolve().parent.parent
QUESTION = "what is an ehcp"


@pytest.fixture
def kb_copy(tmp_path: Path) -> Path:
    return Path(shutil.copytree(BUNDLED_DIR, tmp_path / "knowledge"))


def settings_for(tmp_path: Path, kb: Path | None = None) -> Settings:
    return Settings(db_path=tmp_path / "data" / "log.sqlite3", secret="s" * 32, knowledge_dir=kb)


def break_file(kb: Path) -> Path:
    broken = kb / "entries" / "ehcp.yaml"
    broken.write_text("- id: Not An Id!\n  title: 3\n", encoding="utf-8")
    return broken


async def test_reload_with_a_broken_file_keeps_the_old_knowledge(tmp_path: Path, kb_copy: Path) -> None:
    """A broken file is refused: the old entries still answer and reload_error says why; a fix clears it."""
    signpost = await open_signpost(settings_for(tmp_path, kb_copy))
    try:
        old = signpost.conversation.replies
        assert old.respond(QUESTION).topic == "ehcp-what-is"
        broken = break_file(kb_copy)
        problems = signpost.reload()
        assert problems and signpost.conversation.replies is old
        assert signpost.reload_error and broken.name in signpost.reload_error
        assert signpost.conversation.replies.respond(QUESTION).topic == "ehcp-what-is"

        shutil.copy(BUNDLED_DIR / "entries" / "ehcp.yaml", broken)
        assert signpost.reload() == [] and signpost.reload_error is None
        assert signpost.conversation.replies is not old
    finally:
        await signpost.close()


async def test_reload_picks_up_a_new_phrasing(tmp_path: Path, kb_copy: Path) -> None:
    """An edit that passes validation is live after reload."""
    signpost = await open_signpost(settings_for(tmp_path, kb_copy))
    try:
        question = "zorbing quidditch tournament"
        assert signpost.conversation.replies.respond(question).outcome == "unanswered"
        path = kb_copy / "entries" / "family.yaml"
        path.write_text(path.read_text().replace("questions:", f"questions:\n    - {question}", 1))
        assert signpost.reload() == []
        assert signpost.conversation.replies.respond(question).outcome == "answer"
    finally:
        await signpost.close()


def test_pid_file_round_trip(tmp_path: Path) -> None:
    """write_pid names this process; running_server finds it; remove_pid removes only our own file."""
    settings = settings_for(tmp_path)
    assert write_pid(settings) == pid_path(settings) == tmp_path / "data" / "signpost.pid"
    assert running_server(settings) == (os.getpid(), "")
    remove_pid(settings)
    assert not pid_path(settings).exists()
    pid_path(settings).write_text("1 0\n")  # someone else's
    remove_pid(settings)
    assert pid_path(settings).exists()


def test_stale_pid_is_not_signalled(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """A pid file left by a server that has gone is reported, and nothing is signalled."""
    settings = settings_for(tmp_path)
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid_path(settings).parent.mkdir(parents=True)
    pid_path(settings).write_text(f"{gone.stdout.strip()} 1\n")
    assert request_reload(settings) == 1
    assert "not running" in capsys.readouterr().err


def test_no_server_running(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """Without a pid file kb reload validates the files, says no server is running, and exits 1."""
    assert main(["kb", "reload", "--db", str(tmp_path / "log.sqlite3")]) == 1
    captured = capsys.readouterr()
    assert "valid" in captured.out and "no running server" in captured.err


SERVER_STANDIN = textwrap.dedent("""
    import signal, sys, time
    from pathlib import Path
    from bot.config import Settings
    from bot.reload import write_pid
    marker = Path(sys.argv[2])
    signal.signal(signal.SIGHUP, lambda *_: (marker.write_text("reload"), sys.exit(0)))
    write_pid(Settings(db_path=Path(sys.argv[1])))
    print("ready", flush=True)
    time.sleep(20)
""")


@pytest.fixture
def standin(tmp_path: Path):
    """A process that writes the pid file as the server does and records a SIGHUP."""
    marker = tmp_path / "hup"
    process = subprocess.Popen([sys.executable, "-c", SERVER_STANDIN, str(tmp_path / "data" / "log.sqlite3"),
                                str(marker)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "ready"
    yield process, marker
    process.kill()
    process.wait(timeout=5)


@pytest.mark.timeout(30)
def test_kb_reload_signals_the_server(tmp_path: Path, standin, capsys: pytest.CaptureFixture) -> None:
    """With valid files, kb reload sends SIGHUP to the pid in the pid file."""
    process, marker = standin
    assert request_reload(settings_for(tmp_path)) == 0
    assert process.wait(timeout=10) == 0 and marker.read_text() == "reload"
    assert f"pid {process.pid}" in capsys.readouterr().out


@pytest.mark.timeout(30)
def test_kb_reload_with_broken_files_signals_nothing(tmp_path: Path, kb_copy: Path, standin,
                                                     capsys: pytest.CaptureFixture) -> None:
    """With a broken file, kb reload prints the problems and leaves the server alone."""
    process, marker = standin
    break_file(kb_copy)
    assert request_reload(settings_for(tmp_path, kb_copy)) == 1
    assert "ehcp.yaml" in capsys.readouterr().err
    time.sleep(0.2)
    assert process.poll() is None and not marker.exists()


def wait_for(condition, seconds: float = 60) -> bool:  # a bound on a busy machine, not a speed test
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


@pytest.mark.timeout(60)
def test_kb_reload_reaches_the_real_server(tmp_path: Path, kb_copy: Path) -> None:
    """`main.py serve` writes its pid file; `main.py kb reload` makes it reload, and a broken file is refused."""
    db = tmp_path / "data" / "log.sqlite3"
    env = {**os.environ, "SIGNPOST_DB": str(db), "SIGNPOST_KNOWLEDGE": str(kb_copy), "SIGNPOST_SECRET": "s" * 32,
           "SIGNPOST_ENV": "development"}
    for name in ("TELEGRAM_BOT_TOKEN", "TWILIO_AUTH_TOKEN", "PUBLIC_BASE_URL"):
        env.pop(name, None)
    log = tmp_path / "server.log"
    with log.open("w") as stderr:
        server = subprocess.Popen([sys.executable, "main.py", "serve", "--host", "127.0.0.1", "--port", "0"],
                                  cwd=ROOT, env=env, stdout=stderr, stderr=stderr)
    try:
        assert wait_for(lambda: pid_path(settings_for(tmp_path)).exists()), log.read_text()
        reload = subprocess.run([sys.executable, "main.py", "kb", "reload"], cwd=ROOT, env=env,
                                capture_output=True, text=True, timeout=30)
        assert reload.returncode == 0, reload.stderr
        assert wait_for(lambda: "knowledge reloaded" in log.read_text()), log.read_text()

        break_file(kb_copy)
        os.kill(server.pid, signal.SIGHUP)  # straight to the server, past kb reload's own check
        assert wait_for(lambda: "previous knowledge" in log.read_text()), log.read_text()
        assert server.poll() is None
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert not pid_path(settings_for(tmp_path)).exists()
