"""Privacy on Telegram: what a family types never reaches the SQLite files, nor does their chat id."""
from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import Settings
from conftest import write_kb
from fake_telegram import polling_bot

CHAT = 8675309123  # distinctive, so that finding it in the files means it was stored
DETAILS = {
    "phone": "07700 900123",
    "phone, international": "+44 7700 900456",
    "email": "jane.doe.parent@example.com",
    "postcode": "HR4 9AB",
    "child's name": "Oliver",
    "date of birth": "14/03/2015",
    "date of birth in words": "3 March 2016",
    "NHS number": "943 476 5919",
}
CONVERSATION = [
    "hello",
    "my son is called Oliver and he needs an ehcp",
    f"what is an ehcp? you can call me on {DETAILS['phone']}",
    f"my email is {DETAILS['email']} and we live at {DETAILS['postcode']}",
    f"he was born {DETAILS['date of birth']}, NHS number {DETAILS['NHS number']}",
    f"my daughter is named Amelia, dob {DETAILS['date of birth in words']}, ring {DETAILS['phone, international']}",
    "short breaks please",
]


def file_bytes(db: Path) -> dict[str, bytes]:
    """The database and whatever sits beside it (-wal, -shm, -journal), byte by byte."""
    return {p.name: p.read_bytes() for p in db.parent.glob(db.name + "*")}


def leaks(files: dict[str, bytes], secrets: dict[str, str]) -> list[str]:
    found = []
    for label, value in secrets.items():
        forms = {value, value.replace(" ", ""), value.lower()}
        for name, data in files.items():
            if any(form.encode() in data or form.encode("utf-16-le") in data for form in forms):
                found.append(f"{label} in {name}")
    return found


def chat_id_forms(chat_id: int) -> list[bytes]:
    """The chat id as text, and as the big-endian integer SQLite would write (6 or 8 bytes)."""
    return [str(chat_id).encode(), chat_id.to_bytes(6, "big"), chat_id.to_bytes(8, "big")]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(db_path=tmp_path / "db" / "log.sqlite3", secret="p" * 40, knowledge_dir=write_kb(tmp_path / "kb"))


@pytest.mark.timeout(60)
async def test_a_conversation_full_of_personal_details_leaves_none_in_the_files(settings: Settings) -> None:
    """Phone, email, postcode, names, dates of birth, NHS number and the chat id are in no byte of the db, -wal or -shm."""
    async with polling_bot(settings) as (fake, _):
        for number, text in enumerate(CONVERSATION, 1):
            await fake.send_text(CHAT, text)
            await fake.wait_for("sendMessage", number)
        await fake.edit_text(CHAT, f"sorry, my number is {DETAILS['phone']} not the other one")
        replies = await fake.wait_for("sendMessage", len(CONVERSATION) + 1)
        feedback = next(b["callback_data"] for r in replies for b in r.buttons if b["callback_data"].startswith("f:"))
        await fake.press(CHAT, feedback)
        await fake.wait_for("answerCallbackQuery")
        while_running = file_bytes(settings.db_path)
    after = file_bytes(settings.db_path)
    assert any(name.endswith("-wal") for name in while_running), "the WAL should be read while the bot runs"
    details = {**DETAILS, "second child's name": "Amelia"}
    for files in (while_running, after):
        assert leaks(files, details) == []
        assert not [(n, f) for n, data in files.items() for f in chat_id_forms(CHAT) if f in data]
    # The conversation was logged, redacted: the editors still see the questions.
    assert b"needs an ehcp" in after["log.sqlite3"] + while_running.get("log.sqlite3-wal", b"")


@pytest.mark.timeout(60)
async def test_forget_leaves_no_trace_of_the_erased_messages_in_the_files(settings: Settings) -> None:
    """After /forget, words only that family typed are in no byte of the db or its -wal."""
    marker = "quokkaxylophone"  # nothing redacts it: only erasure can remove it
    async with polling_bot(settings) as (fake, _):
        await fake.send_text(CHAT, f"does the {marker} club take children with autism")
        await fake.wait_for("sendMessage")
        assert any(marker.encode() in data for data in file_bytes(settings.db_path).values())
        await fake.send_text(CHAT, "/forget")
        await fake.wait_for("sendMessage", 2)
        await fake.press(CHAT, "x:1")
        await fake.wait_for("editMessageText")
        erased = file_bytes(settings.db_path)
    assert leaks(erased, {"erased question": marker}) == []
    assert leaks(file_bytes(settings.db_path), {"erased question": marker}) == []
