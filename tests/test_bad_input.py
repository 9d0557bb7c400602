"""Bad input on every entry point: a clear reply or a clean 4xx, never a 500, never a traceback.

Entry points: the Twilio webhook and the Telegram webhook on the real app under uvicorn,
the console chat and `main.py answer --jsonl` as real subprocesses with piped stdin, and
the conversation core itself.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

import httpx
import pytest

from bot.channels.telegram import SECRET_HEADER, WEBHOOK_PATH, webhook_secret
from bot.conversation import Conversation
from bot.messages import OUTCOMES, Incoming
from bot.replies import Replies
from bot.store import SQLiteStore
from bot.web import create_app
from fake_telegram import FakeTelegram
from twilio_client import PATH, PUBLIC, Phone, log_rows, make_signpost, running, settings_for, sign, twilio_form

ROOT = Path(__file__).resolve().parent.parent
TRACEBACK_MARKS = ("Traceback", 'File "', "Error:")

# What families (and pranksters, and broken phones) send. Each must get a clear reply.
BAD_TEXTS = {
    "empty": "",
    "whitespace": " \t \u00a0\u3000 ",
    "60 KB": "help with school " * 3_600,
    "control characters": "what is \x00an\x01 ehcp\x07\x1b[2J\x7f\x0b\x0c",
    "right-to-left": "\u202eEHC plan\u202c \u05de\u05d4 \u05d6\u05d4 \u0645\u0627 \u0647\u064a \u062e\u0637\u0629",
    "zero-width": "E\u200bH\u200cC\u200d p\u2060lan\ufeff?",
    "emoji only": "😀👍🏽👨‍👩‍👧🏳️‍🌈",
    "SQL injection": "'; DROP TABLE messages; -- \" OR 1=1; SELECT * FROM deliveries",
    "HTML injection": "<script>alert(1)</script><b>bold</b>&amp; <a href='javascript:x'>x</a>",
    "TwiML injection": "<?xml version='1.0'?><Response><Message>pwned</Message></Response>]]>",
    "format strings": "%s %n {0} {__class__} ${{7*7}} {{ config }}",
    "combining marks": "E\u0301\u0302\u0303" * 200,
    "one long word": "a" * 5_000,
}


def assert_clean(text: str) -> None:
    assert not any(mark in text for mark in TRACEBACK_MARKS), text[:500]


def twiml_bodies(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text[:300]
    assert response.headers["content-type"].startswith("application/xml")
    root = ET.fromstring(response.text)
    assert root.tag == "Response"
    return [message.text or "" for message in root.iter("Message")]


@contextlib.asynccontextmanager
async def app(tmp_path: Path) -> AsyncIterator[tuple[Phone, FakeTelegram, str, dict[str, str]]]:
    """The real app, Twilio and Telegram webhook on, under uvicorn on 127.0.0.1:0."""
    async with FakeTelegram() as fake:
        settings = settings_for(tmp_path, telegram_token=fake.token, telegram_api_base_url=fake.url,
                                rate_limit_count=1_000)
        signpost = await make_signpost(settings)
        async with running(create_app(signpost)) as (base, _), httpx.AsyncClient(timeout=15) as client:
            yield Phone(base, client), fake, base + WEBHOOK_PATH, {SECRET_HEADER: webhook_secret(signpost)}


# ------------------------------------------------------------------ Twilio webhook

async def test_twilio_answers_every_bad_text_with_valid_twiml(tmp_path: Path) -> None:
    """Each bad text, signed as Twilio would, gets 200 and well-formed TwiML with a non-empty reply."""
    async with app(tmp_path) as (parent, _, _, _):
        for name, text in BAD_TEXTS.items():
            response = await parent.post(twilio_form(text))
            bodies = twiml_bodies(response)
            assert bodies and all(b.strip() for b in bodies), name
            assert "pwned" not in response.text
            assert_clean(response.text)
    rows = log_rows(tmp_path / "log.sqlite3")
    assert len(rows) == len(BAD_TEXTS) and all(len(r["text"]) <= 1_600 for r in rows)


def signed_raw(body: bytes) -> dict[str, str]:
    """Sign a raw body the way Twilio would have if it had sent it: over its parsed fields."""
    try:
        form = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    except UnicodeDecodeError:
        form = {}
    return {"X-Twilio-Signature": sign(form, PUBLIC + PATH),
            "Content-Type": "application/x-www-form-urlencoded"}


MALFORMED_FORMS = {
    "separators only": b"&&&===&",
    "broken percent escapes": b"Body=%zz%&From=%&MessageSid=%E2%82",
    "no equals signs": b"Body&From&MessageSid",
    "NUL bytes": b"\x00\x00\x00",
    "invalid UTF-8 bytes": b"Body=\xff\xfe\xfd&From=%2B447700900123&MessageSid=SMx",
    "invalid UTF-8 escaped": b"Body=%FF%FE%C0%AF&From=%2B447700900123&MessageSid=SMbadutf8",
    "thousands of fields": "&".join(f"f{n}=v" for n in range(5_000)).encode(),
    "a few hundred fields": ("&".join(f"f{n}=v" for n in range(250)) + "&From=%2B44&MessageSid=SM1").encode(),
    "JSON instead of a form": json.dumps(twilio_form("hello")).encode(),
    "100 KB body": urlencode(twilio_form("a" * 100_000)).encode(),
    "missing From": urlencode({k: v for k, v in twilio_form("hi").items() if k != "From"}).encode(),
    "missing MessageSid": urlencode({k: v for k, v in twilio_form("hi").items() if k != "MessageSid"}).encode(),
    "blank From": urlencode(twilio_form("hi", sender="   ")).encode(),
    "NumMedia not a number": urlencode(twilio_form("hi", NumMedia="1e309")).encode(),
    "negative NumMedia": urlencode(twilio_form("", NumMedia="-5")).encode(),
    "duplicate fields": urlencode(twilio_form("hi")).encode() + b"&Body=second&From=%2B449999",
}


@pytest.mark.parametrize("name", list(MALFORMED_FORMS))
async def test_twilio_malformed_forms_get_a_4xx_or_a_reply_never_a_500(tmp_path: Path, name: str) -> None:
    """Broken, oversized or incomplete form bodies, correctly signed, get a 4xx or valid TwiML: never a 500."""
    body = MALFORMED_FORMS[name]
    async with app(tmp_path) as (parent, _, _, _):
        response = await parent.client.post(parent.base + PATH, content=body, headers=signed_raw(body))
        healthy = (await parent.client.get(parent.base.replace(PATH, "") + "/healthz")).json()
    assert response.status_code < 500, response.text
    if response.status_code == 200:
        twiml_bodies(response)
    else:
        assert 400 <= response.status_code < 500
    assert_clean(response.text)
    assert healthy["status"] == "ok"


@pytest.mark.parametrize("content_type", ["application/json", "text/plain", "multipart/form-data; boundary=x",
                                          "application/x-www-form-urlencoded; charset=latin-1", ""])
async def test_twilio_wrong_content_types_get_a_4xx_or_a_reply(tmp_path: Path, content_type: str) -> None:
    """A signed form sent with the wrong Content-Type, or a real multipart body, never gets a 500."""
    form = twilio_form("What is an EHC plan?")
    multipart = (b"--x\r\nContent-Disposition: form-data; name=\"Body\"\r\n\r\nhello\r\n--x--\r\n")
    async with app(tmp_path) as (parent, _, _, _):
        headers = {"X-Twilio-Signature": sign(form), "Content-Type": content_type}
        as_form = await parent.client.post(parent.base + PATH, content=urlencode(form).encode(), headers=headers)
        as_multipart = await parent.client.post(parent.base + PATH, content=multipart,
                                                headers={**headers, "X-Twilio-Signature": sign({})})
    for response in (as_form, as_multipart):
        assert response.status_code < 500 and (response.status_code != 200 or twiml_bodies(response))
        assert_clean(response.text)


async def test_twilio_huge_headers_and_signatures_are_refused_cleanly(tmp_path: Path) -> None:
    """A 100 KB signature header or a forged one of odd characters gets a 4xx, not a 500."""
    form = twilio_form("hello")
    async with app(tmp_path) as (parent, _, _, _):
        odd = await parent.client.post(parent.base + PATH, data=form,
                                       headers={"X-Twilio-Signature": "\u00e9\u00e8 \t==".encode("latin-1")})
        with contextlib.suppress(httpx.RemoteProtocolError):  # h11 may just close the connection: also fine
            huge = await parent.post(form, signature="A" * 100_000)
            assert 400 <= huge.status_code < 500
    assert odd.status_code == 403
    assert log_rows(tmp_path / "log.sqlite3") == []


# ------------------------------------------------------------------ Telegram webhook

UNKNOWN_UPDATES = [
    {"poll": {"id": "1", "question": "?", "options": [], "total_voter_count": 0, "is_closed": False,
              "is_anonymous": True, "type": "regular", "allows_multiple_answers": False}},
    {"my_chat_member": {"chat": {"id": 1, "type": "private"}, "from": {"id": 1, "is_bot": False, "first_name": "P"},
                        "date": 0, "old_chat_member": {"status": "member", "user": {"id": 2, "is_bot": True,
                                                                                    "first_name": "B"}},
                        "new_chat_member": {"status": "kicked", "until_date": 0,
                                            "user": {"id": 2, "is_bot": True, "first_name": "B"}}}},
    {"a_type_telegram_adds_next_year": {"id": 1, "whatever": [1, 2, 3]}},
    {"channel_post": {"message_id": 1, "date": 0, "chat": {"id": -100, "type": "channel"}, "text": "news"}},
    {"message_reaction": {"chat": {"id": 1, "type": "private"}, "message_id": 1, "date": 0,
                          "old_reaction": [], "new_reaction": [{"type": "emoji", "emoji": "👍"}]}},
    {"callback_query": {"id": "c1", "chat_instance": "i", "from": {"id": 4242, "is_bot": False, "first_name": "P"},
                        "data": "group:../../etc/passwd\x00" + "x" * 200}},
    {"callback_query": {"id": "c2", "chat_instance": "i", "from": {"id": 4242, "is_bot": False, "first_name": "P"}}},
]


async def test_telegram_answers_every_bad_text(tmp_path: Path) -> None:
    """Each bad text in a Telegram update is accepted with 200 and answered with a non-empty message."""
    texts = {name: text for name, text in BAD_TEXTS.items() if text}  # Telegram never delivers an empty text
    texts["lone surrogate"] = "\udcff what is an ehcp"  # JSON can carry "\udcff"; UTF-8 cannot
    async with app(tmp_path) as (parent, fake, url, secret):
        for number, (name, text) in enumerate(texts.items(), 1):
            update = {"update_id": number, "message": fake.message(4242, text)}
            body = json.dumps(update).encode()  # ensure_ascii: the surrogate goes as an escape
            response = await parent.client.post(url, content=body, headers={**secret,
                                                                             "Content-Type": "application/json"})
            assert response.status_code == 200, (name, response.text)
        sent = await fake.wait_for("sendMessage", len(texts), timeout=20)
    assert all(call.text.strip() for call in sent)
    assert not any("pwned" in call.text or "<script>" in call.text for call in sent)
    assert len(log_rows(tmp_path / "log.sqlite3")) == len(texts)


async def test_telegram_unknown_update_types_are_accepted_and_ignored(tmp_path: Path) -> None:
    """Updates of types the bot does not handle get 200 and no crash; the next text is still answered."""
    async with app(tmp_path) as (parent, fake, url, secret):
        for number, update in enumerate(UNKNOWN_UPDATES, 1):
            response = await parent.client.post(url, json={"update_id": number, **update}, headers=secret)
            assert response.status_code in (200, 400), (update, response.text)
        response = await parent.client.post(url, json={"update_id": 99, "message": fake.message(4242, "short breaks")},
                                            headers=secret)
        assert response.status_code == 200
        [answer] = await fake.wait_for("sendMessage", where=lambda c: "break" in c.text.lower(), timeout=10)
    assert answer.chat_id == 4242


@pytest.mark.parametrize("name,body", [
    ("nested past the stack", b"[" * 200_000),
    ("nested object", b'{"update_id": 1, "message": ' + b'{"a": ' * 50_000 + b"1" + b"}" * 50_000 + b"}"),
    ("invalid UTF-8", b'{"update_id": 1, "message": "\xff\xfe"}'),
    ("NUL bytes", b"\x00" * 100),
    ("huge update_id", b'{"update_id": 1' + b"0" * 5_000 + b"}"),
    ("text is a number", b'{"update_id": 3, "message": {"message_id": 1, "date": 0, "chat": {"id": 1, "type": '
                         b'"private"}, "text": 12345}}'),
    ("over 1 MB", b'{"update_id": 1, "x": "' + b"a" * 1_100_000 + b'"}'),
])
async def test_telegram_malformed_bodies_get_a_4xx_not_a_500(tmp_path: Path, name: str, body: bytes) -> None:
    """Bodies that are not Telegram updates get a clean 4xx (or are ignored with 200), never a 500."""
    async with app(tmp_path) as (parent, _, url, secret):
        response = await parent.client.post(url, content=body, headers=secret)
    assert response.status_code in (200, 400, 413), (name, response.status_code, response.text[:200])
    assert_clean(response.text)


# ------------------------------------------------------------------ console and `answer --jsonl`

def stdin_lines() -> bytes:
    """Every bad text on its own line, plus bytes that are not UTF-8 and a line of only CR."""
    lines = [text.encode("utf-8", "surrogatepass") for text in BAD_TEXTS.values()]
    lines += [b"\xff\xfe what is an ehcp \xc0\xaf", b"\r", b"\x1c\x1d\x1e", "hello".encode()]
    return b"\n".join(lines) + b"\n"


def seen_lines(data: bytes) -> list[str]:
    """The non-blank lines as the programs read them (universal newlines, undecodable bytes replaced)."""
    text = data.decode("utf-8", "replace").replace("\r\n", "\n").replace("\r", "\n")
    return [line for line in text.split("\n") if line.strip()]


def run_main(args: list[str], data: bytes, tmp_path: Path) -> subprocess.CompletedProcess[bytes]:
    # PYTHONIOENCODING=utf-8 makes stdin strict, as a en_GB.UTF-8 terminal would: the harder case.
    env = {**os.environ, "SIGNPOST_DB": str(tmp_path / "log.sqlite3"), "SIGNPOST_SECRET": "s" * 40,
           "PYTHONIOENCODING": "utf-8"}
    for name in ("TWILIO_AUTH_TOKEN", "TELEGRAM_BOT_TOKEN", "PUBLIC_BASE_URL"):
        env.pop(name, None)
    return subprocess.run([sys.executable, str(ROOT / "main.py"), *args], input=data, capture_output=True,
                          env=env, cwd=tmp_path, timeout=60)


def test_console_chat_with_piped_bad_lines_answers_each_and_exits_0(tmp_path: Path) -> None:
    """`main.py chat` with bad lines piped in answers every non-blank line and exits 0 without a traceback."""
    data = stdin_lines()
    done = run_main(["chat"], data, tmp_path)
    stderr = done.stderr.decode("utf-8", "replace")
    assert done.returncode == 0, stderr
    assert "Traceback" not in stderr
    output = done.stdout.decode("utf-8")  # valid UTF-8 whatever came in
    assert output.count("-" * 40) == len(seen_lines(data))
    assert len(log_rows(tmp_path / "log.sqlite3")) == len(seen_lines(data))


def test_answer_jsonl_with_bad_lines_prints_one_valid_json_line_each(tmp_path: Path) -> None:
    """`main.py answer --jsonl` prints one valid UTF-8 JSON result per non-blank line, bad JSON included."""
    json_lines = [b'{"q": "\\udcff what is an ehcp"}', b'{"q": null}', b'{"q": 5}', b'{"q": ["a", {"b": 1}]}',
                  b'{"x": "no q"}', b"[1, 2, 3]", b'{"q": "unclosed', b"{" + b"[" * 100_000, b'"just a string"',
                  b'{"q": "' + b"\\u0000" * 10 + b'"}']
    data = stdin_lines() + b"\n".join(json_lines) + b"\n"
    done = run_main(["answer", "--jsonl"], data, tmp_path)
    stderr = done.stderr.decode("utf-8", "replace")
    assert done.returncode == 0, stderr
    assert "Traceback" not in stderr
    results = [json.loads(line) for line in done.stdout.decode("utf-8").splitlines()]
    assert len(results) == len(seen_lines(data))
    assert all(r["outcome"] in OUTCOMES and isinstance(r["score"], (int, float)) for r in results)
    assert not (tmp_path / "log.sqlite3").exists()  # answer --jsonl logs nothing


# ------------------------------------------------------------------ the conversation core

async def test_conversation_core_answers_and_logs_every_bad_text(tmp_path: Path, bundled_replies: Replies) -> None:
    """Replies.respond and Conversation.handle give one of the five outcomes with text for each bad text, and log it."""
    texts = [*BAD_TEXTS.values(), "\udcff\ud800 lone surrogates", "\x00", "1" * 10_000, "2", "more", "MORE"]
    async with SQLiteStore(tmp_path / "log.sqlite3") as store:
        conversation = Conversation(bundled_replies, store)
        for text in texts:
            assert bundled_replies.respond(text).outcome in OUTCOMES
            reply = await asyncio.wait_for(conversation.handle(Incoming("console", "k", text)), 10)
            assert reply.outcome in OUTCOMES and reply.text.strip() and reply.log_id
    assert len(log_rows(tmp_path / "log.sqlite3")) == len(texts)
