"""Privacy on SMS and WhatsApp: what a parent writes reaches the database files only redacted and keyed."""
from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest

from bot.privacy import FORGOTTEN
from bot.signpost import Signpost
from bot.web import create_app
from twilio_client import make_signpost, Phone, log_rows, running, settings_for

SMS_NUMBER = "+447700900123"
WHATSAPP_NUMBER = "+447700900777"
DETAILS = {
    "mobile": "07700 900456",
    "international": "+44 7700 900789",
    "landline": "01432 260000",
    "email": "jane.doe@example.com",
    "postcode": "HR4 9AB",
    "name": "Zebedee",
    "date of birth": "14/03/2015",
    "NHS number": "943 476 5919",
}
CONVERSATION = [
    "Hi",
    f"my son is called {DETAILS['name']} and he was born {DETAILS['date of birth']}, what is an EHC plan?",
    "MORE",
    f"please ring me on {DETAILS['mobile']} or {DETAILS['international']}, landline {DETAILS['landline']}",
    f"my email is {DETAILS['email']} and we live at {DETAILS['postcode']}",
    f"his NHS number is {DETAILS['NHS number']}, can he get short breaks?",
    "STOP",
    f"{DETAILS['name']} still needs help",  # while opted out: not even a redacted row
    "START",
    "PRIVACY",
    f"thanks, his school is near {DETAILS['postcode']}",
]


def database_bytes(db_path: Path) -> dict[str, bytes]:
    """The SQLite file and its WAL (and journal, if any), exactly as they are on disk."""
    files = [db_path, Path(f"{db_path}-wal"), Path(f"{db_path}-journal")]
    return {path.name: path.read_bytes() for path in files if path.exists()}


def needles(*numbers: str) -> dict[str, bytes]:
    """Every raw detail, in the forms it could be stored in: as written and without spaces."""
    found = {}
    for label, value in {**DETAILS, **{f"sender {n}": n for n in numbers}}.items():
        for form in {value, value.replace(" ", ""), value.lstrip("+")}:
            found[f"{label} ({form})"] = form.encode()
    return found


def assert_absent(blobs: dict[str, bytes], searched: dict[str, bytes]) -> None:
    leaks = [f"{label} in {name}" for name, blob in blobs.items() for label, needle in searched.items()
             if needle in blob]
    assert not leaks, leaks


async def talk(base: str, client: httpx.AsyncClient, sender: str) -> list[list[str]]:
    parent = Phone(base, client, sender=sender)
    return [await parent.text(message) for message in CONVERSATION]


@pytest.mark.parametrize("sender", [SMS_NUMBER, f"whatsapp:{WHATSAPP_NUMBER}"])
async def test_no_personal_detail_reaches_the_database_files(
        tmp_path: Path, sender: str, caplog: pytest.LogCaptureFixture) -> None:
    """A whole conversation full of personal details leaves none of them, nor the number, in the DB, WAL or logs."""
    caplog.set_level(logging.DEBUG)
    settings = settings_for(tmp_path)
    signpost = await make_signpost(settings)
    async with running(create_app(signpost)) as (base, _), httpx.AsyncClient() as client:
        replies = await talk(base, client, sender)
        while_running = database_bytes(settings.db_path)
    after_stop = database_bytes(settings.db_path)

    assert replies[7] == []  # opted out: no reply
    assert "-wal" in "".join(while_running) and len(log_rows(settings.db_path)) >= 8
    searched = needles(SMS_NUMBER, WHATSAPP_NUMBER)
    assert_absent(while_running, searched)
    assert_absent(after_stop, searched)
    assert_absent({"python logs": caplog.text.encode()}, searched)
    texts = " ".join(row["text"] for row in log_rows(settings.db_path))
    assert "[name]" in texts and "[phone]" in texts and "[email]" in texts and "[postcode]" in texts


async def test_forget_removes_the_sender_key_from_the_files(tmp_path: Path) -> None:
    """After FORGET by SMS not even the sender's key or the redacted questions remain in the DB or WAL bytes."""
    settings = settings_for(tmp_path)
    signpost: Signpost = await make_signpost(settings)
    key = signpost.key("sms", SMS_NUMBER)
    async with running(create_app(signpost)) as (base, _), httpx.AsyncClient() as client:
        await talk(base, client, SMS_NUMBER)
        await Phone(base, client, sender="+447700900456").text("what is an EHC plan")
        before = b"".join(database_bytes(settings.db_path).values())
        assert key.encode() in before and b"[name] and he was born" in before  # so the check below means something
        assert await Phone(base, client, sender=SMS_NUMBER).text("forget") == [FORGOTTEN]
        after_forget = database_bytes(settings.db_path)
    assert_absent(after_forget, {"sender key": key.encode(), "question": b"still needs help",
                                 "redacted question": b"[name] and he was born"})
    assert_absent(database_bytes(settings.db_path), {"sender key": key.encode()})
    assert [row["sender"] for row in log_rows(settings.db_path)] == [signpost.key("sms", "+447700900456")]
