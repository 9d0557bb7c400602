"""The command line contracts: batch answers, console chat with piped stdin, ask, kb check."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, SHARED, write_kb


def run(*args: str, stdin: str = "", env: dict | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "main.py"), *args], input=stdin, capture_output=True,
                          text=True, timeout=180, cwd=cwd, env={**os.environ, **(env or {})})


def test_answer_jsonl_contract(small_kb: Path, tmp_path: Path) -> None:
    """answer --jsonl prints one JSON line per question, in order, with the contract's keys, and logs nothing."""
    questions = [json.dumps({"q": "free transport to school"}), "plain text: respite care", json.dumps({"q": "hi"})]
    result = run("answer", "--jsonl", "--kb", str(small_kb), stdin="\n".join(questions) + "\n",
                 env={"SIGNPOST_DB": str(tmp_path / "db.sqlite3")})
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["q"] for r in rows] == ["free transport to school", "plain text: respite care", "hi"]
    assert all(set(r) == {"q", "outcome", "topic", "options", "score", "safety", "category", "reply"} for r in rows)
    assert all(r["safety"] is None and r["category"] is None and r["reply"] for r in rows)
    assert rows[0]["outcome"] == "answer" and rows[0]["topic"] == "school-transport"
    assert rows[2]["outcome"] == "smalltalk"
    assert not (tmp_path / "db.sqlite3").exists()


def test_console_commands_are_not_questions(small_kb: Path, tmp_path: Path) -> None:
    """clear and exit typed in the console are commands: neither answered nor logged; exit ends the chat."""
    db = tmp_path / "chat.sqlite3"
    result = run("chat", "--kb", str(small_kb), "--db", str(db),
                 stdin="Hiya, is anyone there?\nclear\nthank you thats really helpful\nexit\ncamhs\n")
    assert result.returncode == 0, result.stderr
    import sqlite3

    with sqlite3.connect(db) as conn:
        rows = [tuple(r) for r in conn.execute("SELECT outcome, kind FROM messages ORDER BY id")]
    assert rows == [("smalltalk", "greeting"), ("smalltalk", "thanks")]


def test_answer_keeps_crisis_check_on_any_kb(small_kb: Path) -> None:
    """The crisis check belongs to the bot and stays on with another knowledge base."""
    result = run("answer", "--jsonl", "--kb", str(small_kb), stdin='{"q": "i want to kill myself"}\n')
    row = json.loads(result.stdout)
    assert row["outcome"] == "crisis" and row["safety"] == "crisis" and row["category"]
    assert "999" in row["reply"] and "116 123" in row["reply"]


def test_chat_with_piped_stdin(small_kb: Path, tmp_path: Path) -> None:
    """chat reads one message per line from a pipe, answers each, logs each, and exits 0 at the end."""
    db = tmp_path / "chat.sqlite3"
    result = run("chat", "--kb", str(small_kb), "--db", str(db), stdin="camhs\n2\nthanks\n")
    assert result.returncode == 0, result.stderr
    blocks = [b for b in result.stdout.split("-" * 40) if b.strip()]
    assert len(blocks) == 3
    assert "Reply with a number" in blocks[0]
    import sqlite3

    with sqlite3.connect(db) as conn:
        outcomes = [r[0] for r in conn.execute("SELECT outcome FROM messages ORDER BY id")]
    assert outcomes == ["clarify", "answer", "smalltalk"]


def test_ask_answers_from_the_bundled_base(tmp_path: Path) -> None:
    """ask answers the headline question from the bundled knowledge base."""
    result = run("ask", "--db", str(tmp_path / "ask.sqlite3"), "do i need a diagnosis for an ehcp")
    assert result.returncode == 0, result.stderr
    assert "diagnosis" in result.stdout.lower()


def test_ask_logs_like_the_console_so_an_unanswered_question_reaches_editors(small_kb: Path, tmp_path: Path) -> None:
    """ask says an unanswered question was passed on, and it was: the row is in the log, as from the console."""
    db = tmp_path / "ask.sqlite3"
    result = run("ask", "--kb", str(small_kb), "--db", str(db), "is there a sensory room in hereford")
    assert result.returncode == 0, result.stderr
    assert "passed your question" in result.stdout
    import sqlite3

    with sqlite3.connect(db) as conn:
        rows = [tuple(r) for r in conn.execute("SELECT channel, outcome, text FROM messages")]
    assert rows == [("console", "unanswered", "is there a sensory room in hereford")]


def test_serve_prints_one_line_saying_what_runs_where(tmp_path: Path) -> None:
    """serve prints one start-up line: the address, the channels on, the knowledge and the database,
    and no token or secret; it stops on SIGTERM."""
    import signal

    env = {**os.environ, "SIGNPOST_DB": str(tmp_path / "serve.sqlite3"), "SIGNPOST_SECRET": "q" * 40,
           "TWILIO_AUTH_TOKEN": "twilio-secret-token", "PUBLIC_BASE_URL": "https://signpost.example.org"}
    for name in ("TELEGRAM_BOT_TOKEN", "SIGNPOST_EDITOR_PASSWORD_HASH", "SIGNPOST_ENV", "SIGNPOST_KNOWLEDGE"):
        env.pop(name, None)
    process = subprocess.Popen([sys.executable, str(ROOT / "main.py"), "serve", "--host", "127.0.0.1", "--port", "0"],
                               cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        line = process.stderr.readline()  # the line comes before anything else the server says
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            _, rest = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            _, rest = process.communicate()
    assert line.strip() == (f"SEND Signpost: server on http://127.0.0.1:0; channels: SMS and WhatsApp (Twilio); "
                            f"knowledge: {ROOT / 'knowledge'}; database: {tmp_path / 'serve.sqlite3'}")
    assert "twilio-secret-token" not in line + rest and "q" * 40 not in line + rest


def test_kb_check_fails_on_a_bad_file(tmp_path: Path) -> None:
    """kb check exits 1 and prints each error with its file and entry."""
    kb = write_kb(tmp_path / "kb", "- {id: a, title: A, questions: [q]}\n")
    result = run("kb", "check", "--kb", str(kb))
    assert result.returncode == 1
    assert "entry 'a': 'answer' is missing" in result.stdout


def test_bot_refuses_to_start_on_a_bad_file(tmp_path: Path) -> None:
    """chat will not start on invalid knowledge; it says why and exits non-zero."""
    kb = write_kb(tmp_path / "kb", "- {id: a, title: A}\n")
    result = run("chat", "--kb", str(kb), "--db", str(tmp_path / "x.sqlite3"), stdin="hi\n")
    assert result.returncode == 2 and "'questions' is missing" in result.stderr


@pytest.mark.timeout(300)  # the example-question pass is slow on a busy 2-core machine
def test_bundled_kb_check_is_clean() -> None:
    """The shipped knowledge base has no errors and no warnings: every answer, among other things,
    goes whole by SMS within six segments."""
    result = run("kb", "check")
    assert result.returncode == 0, result.stdout
    assert "0 errors, 0 warnings" in result.stdout, result.stdout


def test_kb_check_names_an_entry_too_long_for_six_segments(tmp_path: Path) -> None:
    """kb check warns, naming the entry, when its whole SMS answer would need more than six segments;
    an answer that fits gets no such warning."""
    long_answer = " ".join(f"Sentence {n} is a useful thing to know about getting help." for n in range(40))
    kb = write_kb(tmp_path / "kb", f"""
    - id: long-one
      title: A long answer
      questions: [tell me everything about help]
      answer: {long_answer}
      sms: The short version of the long answer.
    - id: short-one
      title: A short answer
      questions: [tell me one thing about clubs]
      answer: Clubs run on Saturdays. Ask the school about them.
      sms: Clubs run on Saturdays.
    """)
    result = run("kb", "check", "--kb", str(kb))
    sms_warnings = [line for line in result.stdout.splitlines() if "by SMS" in line]
    assert len(sms_warnings) == 1 and "entry 'long-one'" in sms_warnings[0], result.stdout
    assert "needs 1" in sms_warnings[0] or "needs 2" in sms_warnings[0]


@pytest.mark.skipif(not (SHARED / "eval" / "score.py").exists(), reason="shared eval set not present")
def test_dev_set_targets() -> None:
    """On the dev set: top-1 >= 85%, resolved >= 93%, wrong <= 4%, abstention >= 85%, crisis recall 100%."""
    result = subprocess.run([sys.executable, str(SHARED / "eval" / "score.py"), "--json", "--", sys.executable,
                             str(ROOT / "main.py"), "answer", "--jsonl"], capture_output=True, text=True, timeout=120, cwd=ROOT)
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures["top1_pct"] >= 85 and figures["resolved_pct"] >= 93, figures
    assert figures["wrong_answer_pct"] <= 4 and figures["oos_abstain_pct"] >= 85, figures
    assert figures["crisis_recall_pct"] == 100 and figures["false_crisis_pct"] <= 1, figures


def test_kb_flag_works_before_or_after_the_command(small_kb: Path) -> None:
    """--kb given before the sub-command is not lost to the sub-command's own default."""
    for args in (("--kb", str(small_kb), "answer", "--jsonl"), ("answer", "--jsonl", "--kb", str(small_kb))):
        result = run(*args, stdin='{"q": "is there respite care"}\n')
        assert json.loads(result.stdout)["topic"] == "short-breaks", args
