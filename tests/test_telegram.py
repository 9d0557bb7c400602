"""The Telegram channel: the real python-telegram-bot Application against a fake Bot API on 127.0.0.1."""
from __future__ import annotations

import asyncio
import html
import logging
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import uvicorn
from hypothesis import given, settings as hsettings, strategies as st

from bot.channels import telegram_render as render
from bot.channels.telegram import (COMMANDS, FEEDBACK_THANKS, NETWORK_RETRIES, TEXT_ONLY, WEBHOOK_PATH,
                                  webhook_secret)
from bot.config import Settings
from bot.feedback import ASK_WHAT_WAS_MISSING, DETAIL_THANKS, NOT_HELPED
from bot.messages import Choice, Contact, Reply
from bot.privacy import FORGET_CONFIRM, FORGOTTEN
from bot.replies import GREETING
from bot.signpost import build_replies, open_signpost
from conftest import ROOT, SMALL_KB, write_kb
from fake_telegram import BOT_USERNAME, FakeTelegram, parse_telegram_html, polling_bot, utf16_len

CHAT = 4242
OTHER_CHAT = 5151
LONG_ID = "transport-appeal-when-the-council-says-no-to-travel-help-for-ki"  # 63 characters, the most allowed
LONG_PARAGRAPH = "Ask the school & the council <in writing> for a meeting about support. " * 40
KB = SMALL_KB + f"""
- id: {LONG_ID}
  title: Appeal about travel to school
  questions: [free transport to school, taxi to special school, school bus for my disabled child]
  answer: Your child may get free travel to school after an appeal.
- id: holiday-clubs
  title: Holiday clubs
  questions: [clubs for disabled children in the holidays, holiday activities for send children]
  answer: Holiday clubs run in the school holidays.
- id: weekend-clubs
  title: Weekend clubs
  questions: [clubs for disabled children at weekends, weekend activities for send children]
  answer: Weekend clubs run on Saturdays.
- id: long-answer
  title: Everything about tribunals & appeals
  questions: [tell me everything about the send tribunal]
  answer: |
{chr(10).join('    ' + LONG_PARAGRAPH + chr(10) for _ in range(4))}
"""
GROUPS = """
groups:
  - id: plans
    title: EHC plans
    topics: [ehcp-what-is, ehcp-request, long-answer]
  - id: travel
    title: Travel
    topics: [school-transport, {long}]
""".format(long=LONG_ID)
SERVICES = """
services:
  - id: sendiass
    name: SENDIASS
    phone: "01905 768153"
    checked: true
  - id: local-offer
    name: The Local Offer
    web: https://www.example.gov.uk/local-offer
    checked: true
"""


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    kb = write_kb(tmp_path / "kb", KB, groups=GROUPS, services=SERVICES)
    return Settings(db_path=tmp_path / "log.sqlite3", secret="s" * 40, knowledge_dir=kb)


def rows(db: Path, sql: str, params: tuple = ()) -> list[tuple]:
    with sqlite3.connect(db) as connection:
        return connection.execute(sql, params).fetchall()


def callbacks(call) -> list[str]:
    return [b["callback_data"] for b in call.buttons]


async def answer_and_press_feedback(fake, helpful: bool):
    """Ask "what is an ehcp" and press its Yes or No button: (the button's data, the edited keyboard)."""
    await fake.send_text(CHAT, "what is an ehcp")
    [answer] = await fake.wait_for("sendMessage")
    pressed = next(d for d in callbacks(answer) if d.startswith("f:") and d.endswith(":1" if helpful else ":0"))
    await fake.press(CHAT, pressed)
    [edited] = await fake.wait_for("editMessageReplyMarkup")
    return pressed, edited


async def test_start_gets_the_welcome_and_the_topic_menu(settings: Settings) -> None:
    """/start gets the two-sentence welcome with one button per menu group; the commands are registered."""
    async with polling_bot(settings) as (fake, _):
        await fake.send_text(CHAT, "/start")
        [reply] = await fake.wait_for("sendMessage")
    assert parse_telegram_html(reply.text) == GREETING
    assert callbacks(reply) == ["t:group:plans", "t:group:travel"]
    [commands] = fake.of("setMyCommands")
    assert [c["command"] for c in commands.params["commands"]] == [c.command for c in COMMANDS]
    methods = [c.method for c in fake.calls]
    assert methods.index("deleteWebhook") < methods.index("getUpdates")


async def test_a_question_gets_its_answer_with_buttons(settings: Settings) -> None:
    """A question gets the answer in HTML, its contacts, a Related button and "did this help?" Yes/No."""
    async with polling_bot(settings) as (fake, signpost):
        await fake.send_text(CHAT, "what is an ehcp")
        [reply] = await fake.wait_for("sendMessage")
    assert reply.text.startswith("<b>What an EHC plan is</b>\n\nAn EHC plan is a legal document")
    assert "<b>SENDIASS</b>\nPhone: 01905 768153" in reply.text
    assert reply.text.endswith(render.FEEDBACK_QUESTION)
    assert reply.params["parse_mode"] == "HTML"
    [log_id] = [r[0] for r in rows(settings.db_path, "SELECT id FROM messages WHERE topic = 'ehcp-what-is'")]
    assert callbacks(reply) == ["t:ehcp-request", f"f:{log_id}:1", f"f:{log_id}:0"]
    typing = fake.of("sendChatAction", CHAT)
    assert typing and typing[0].params["action"] == "typing"
    assert fake.calls.index(typing[0]) < fake.calls.index(reply)
    stored = rows(settings.db_path, "SELECT sender, channel FROM messages")
    assert stored == [(signpost.key("telegram", str(CHAT)), "telegram")]


def clarifying_question(settings: Settings) -> str:
    """A question the current matcher answers with a clarify on this knowledge base.

    The matcher's thresholds are tuned on their own; this test is about the buttons, so it
    asks the core which of a few ambiguous questions clarifies rather than hard-coding one.
    """
    replies = build_replies(settings.knowledge_dir)
    candidates = ["activities for send children", "clubs", "activities", "clubs for disabled children",
                  "send clubs", "school", "transport to school", "school bus"]
    found = next((q for q in candidates if replies.respond(q).outcome == "clarify"), None)
    assert found is not None, "none of the ambiguous questions clarifies any more: add one to the list"
    return found


async def test_a_clarify_button_gets_the_chosen_answer(settings: Settings) -> None:
    """A close call offers one button per candidate; pressing one gets that answer and answerCallbackQuery."""
    question = clarifying_question(settings)
    async with polling_bot(settings) as (fake, _):
        await fake.send_text(CHAT, question)
        [clarify] = await fake.wait_for("sendMessage")
        data = callbacks(clarify)
        assert len(data) >= 2 and all(d.startswith(("t:", "h:")) for d in data)
        await fake.press(CHAT, data[-1])
        answered = await fake.wait_for("sendMessage", 2)
        await fake.wait_for("answerCallbackQuery")
    title = clarify.buttons[-1]["text"]
    assert answered[1].text.startswith(f"<b>{html.escape(title, quote=False)}</b>")


async def test_a_too_long_topic_id_is_hashed_into_64_bytes_and_still_works(settings: Settings) -> None:
    """Menu group, then a topic whose id is too long for callback_data: the hashed button answers it."""
    async with polling_bot(settings) as (fake, _):
        await fake.send_text(CHAT, "/topics")
        await fake.wait_for("sendMessage")
        await fake.press(CHAT, "t:group:travel")
        [_, group] = await fake.wait_for("sendMessage", 2)
        data = callbacks(group)
        assert data[0] == "t:school-transport" and data[1].startswith("h:")
        assert all(len(d.encode()) <= render.CALLBACK_LIMIT for d in data)
        await fake.press(CHAT, data[1])
        answered = await fake.wait_for("sendMessage", 3)
    assert answered[2].text.startswith("<b>Appeal about travel to school</b>")
    assert len(fake.of("answerCallbackQuery")) == 2


async def test_no_feedback_is_stored_in_the_sqlite_file(settings: Settings) -> None:
    """Pressing "No" stores helpful=0 against the answer, thanks the parent and removes the Yes/No row."""
    async with polling_bot(settings) as (fake, signpost):
        no, edited = await answer_and_press_feedback(fake, helpful=False)
        [thanks] = await fake.wait_for("answerCallbackQuery")
    log_id = int(no.split(":")[1])
    assert rows(settings.db_path, "SELECT message_id, sender, helpful FROM feedback") == [
        (log_id, signpost.key("telegram", str(CHAT)), 0)]
    assert thanks.params["text"] == FEEDBACK_THANKS
    assert callbacks(edited) == ["t:ehcp-request"]


async def test_no_offers_related_topics_the_menu_and_advice_then_keeps_what_was_missing(settings: Settings) -> None:
    """After "No": the answer keeps its related-topic button; a new message offers the related topics, the
    menu, SENDIASS and the Local Offer from the services directory, and asks what was missing; the parent's
    next words are logged redacted as feedback detail and thanked; a related button still answers."""
    async with polling_bot(settings) as (fake, signpost):
        _, edited = await answer_and_press_feedback(fake, helpful=False)
        [_, offer] = await fake.wait_for("sendMessage", 2)
        await fake.send_text(CHAT, "nothing on how long it takes, email me at jo@example.com")
        [*_, thanks] = await fake.wait_for("sendMessage", 3)
        await fake.press(CHAT, "t:ehcp-request")
        [*_, picked] = await fake.wait_for("sendMessage", 4)
    assert callbacks(edited) == ["t:ehcp-request"]
    shown = parse_telegram_html(offer.text)
    assert shown.startswith(NOT_HELPED) and ASK_WHAT_WAS_MISSING in shown
    assert "SENDIASS\nPhone: 01905 768153" in shown and "The Local Offer\nWeb: https://www.example.gov.uk/local-offer" in shown
    assert callbacks(offer) == ["t:ehcp-request", render.MENU]
    assert parse_telegram_html(thanks.text) == DETAIL_THANKS and callbacks(thanks) == [render.MENU]
    assert picked.text.startswith("<b>How to ask for an EHC needs assessment</b>")
    [(text, topic)] = rows(settings.db_path, "SELECT text, topic FROM messages WHERE kind = 'feedback-detail'")
    assert topic == "ehcp-what-is" and "nothing on how long it takes" in text and "jo@example.com" not in text


async def test_yes_keeps_the_related_topics_usable(settings: Settings) -> None:
    """After "Yes" only the Yes/No row goes; the related-topic button on the answer still answers that topic."""
    async with polling_bot(settings) as (fake, _):
        _, edited = await answer_and_press_feedback(fake, helpful=True)
        await fake.press(CHAT, callbacks(edited)[0])
        [_, picked] = await fake.wait_for("sendMessage", 2)
    assert callbacks(edited) == ["t:ehcp-request"] and len(fake.sent(CHAT)) == 2
    assert picked.text.startswith("<b>How to ask for an EHC needs assessment</b>")


async def test_feedback_on_someone_elses_answer_is_not_stored(settings: Settings) -> None:
    """A forged feedback button for another chat's answer stores nothing, and still gets answerCallbackQuery."""
    async with polling_bot(settings) as (fake, _):
        await fake.send_text(CHAT, "what is an ehcp")
        [answer] = await fake.wait_for("sendMessage")
        await fake.press(OTHER_CHAT, callbacks(answer)[-1])
        await fake.wait_for("answerCallbackQuery")
    assert rows(settings.db_path, "SELECT * FROM feedback") == []


async def test_forget_erases_the_senders_rows_after_a_confirm_button(settings: Settings) -> None:
    """/forget asks first; "Yes" deletes every row of this chat's key (and no one else's) and confirms."""
    async with polling_bot(settings) as (fake, signpost):
        await fake.send_text(CHAT, "what is an ehcp")
        await fake.send_text(OTHER_CHAT, "short breaks")
        [answer] = await fake.wait_for("sendMessage", where=lambda c: c.chat_id == CHAT)
        await fake.wait_for("sendMessage", where=lambda c: c.chat_id == OTHER_CHAT)
        await fake.press(CHAT, callbacks(answer)[-1])
        await fake.wait_for("answerCallbackQuery")
        await fake.send_text(CHAT, "/forget")
        [confirm] = await fake.wait_for("sendMessage", where=lambda c: FORGET_CONFIRM in c.text)
        assert callbacks(confirm) == [render.FORGET_YES, render.FORGET_NO]
        key = signpost.key("telegram", str(CHAT))
        assert rows(settings.db_path, "SELECT count(*) FROM messages WHERE sender = ?", (key,)) == [(1,)]
        await fake.press(CHAT, render.FORGET_YES)
        [done] = await fake.wait_for("editMessageText")
    assert done.text == FORGOTTEN
    assert rows(settings.db_path, "SELECT count(*) FROM messages WHERE sender = ?", (key,)) == [(0,)]
    assert rows(settings.db_path, "SELECT count(*) FROM feedback") == [(0,)]
    assert rows(settings.db_path, "SELECT count(*) FROM messages") == [(1,)]  # the other family's row


async def test_a_voice_note_gets_the_text_only_reply(settings: Settings) -> None:
    """A voice note, photo, sticker or location gets "I can only read text messages" and logs nothing."""
    extras = [
        {"voice": {"file_id": "v1", "file_unique_id": "u1", "duration": 3}},
        {"photo": [{"file_id": "p1", "file_unique_id": "u2", "width": 10, "height": 10}]},
        {"sticker": {"file_id": "s1", "file_unique_id": "u3", "type": "regular", "width": 1, "height": 1,
                     "is_animated": False, "is_video": False}},
        {"location": {"latitude": 52.05, "longitude": -2.71}},
    ]
    async with polling_bot(settings) as (fake, _):
        for extra in extras:
            await fake.push_update({"message": fake.message(CHAT, **extra)})
        replies = await fake.wait_for("sendMessage", len(extras))
    assert {parse_telegram_html(r.text) for r in replies} == {TEXT_ONLY}
    assert rows(settings.db_path, "SELECT count(*) FROM messages") == [(0,)]


async def test_group_chats_are_answered_only_when_addressed(settings: Settings) -> None:
    """In a group the bot ignores chatter, and answers a mention, a reply to itself or a /command."""
    group = -100200
    async with polling_bot(settings) as (fake, _):
        await fake.send_text(group, "what is an ehcp", chat_type="supergroup")
        await fake.push_update({"message": fake.message(group, chat_type="supergroup",
                                                        voice={"file_id": "v", "file_unique_id": "u", "duration": 1})})
        await fake.wait_for("getUpdates", where=lambda c: int(c.params.get("offset") or 0) > 2, status=None)
        await fake.send_text(group, f"@{BOT_USERNAME} what is an ehcp", chat_type="supergroup")
        await fake.wait_for("sendMessage", 1)
        await fake.send_text(group, "short breaks", chat_type="supergroup", reply_to_bot=True)
        await fake.wait_for("sendMessage", 2)
        await fake.send_text(group, f"/topics@{BOT_USERNAME}", chat_type="supergroup")
        replies = await fake.wait_for("sendMessage", 3)
    assert replies[0].text.startswith("<b>What an EHC plan is</b>")
    assert replies[1].text.startswith("<b>Short breaks</b>")
    assert callbacks(replies[2])[:1] == ["t:group:plans"]
    assert len(fake.sent(group)) == 3


async def test_an_edited_message_is_answered_as_a_new_one(settings: Settings) -> None:
    """Editing a message sends the edited text through the conversation again."""
    async with polling_bot(settings) as (fake, _):
        await fake.edit_text(CHAT, "short breaks")
        [reply] = await fake.wait_for("sendMessage")
    assert reply.text.startswith("<b>Short breaks</b>")


async def test_a_crisis_message_gets_the_crisis_reply_and_a_way_back(settings: Settings) -> None:
    """A crisis message gets 999 and Samaritans, with a button back to normal help that opens the menu."""
    async with polling_bot(settings) as (fake, _):
        await fake.send_text(CHAT, "I want to kill myself")
        [reply] = await fake.wait_for("sendMessage")
        assert "999" in reply.text and "116 123" in reply.text
        assert callbacks(reply) == [render.MENU]
        await fake.press(CHAT, render.MENU)
        menu = await fake.wait_for("sendMessage", 2)
    assert callbacks(menu[1]) == ["t:group:plans", "t:group:travel"]


async def test_a_long_answer_is_split_into_valid_html_messages(settings: Settings) -> None:
    """An answer over 4,096 characters with & and < in it arrives as several escaped messages, buttons on the last."""
    async with polling_bot(settings) as (fake, _):
        await fake.send_text(CHAT, "tell me everything about the send tribunal")
        await fake.wait_for("getUpdates", where=lambda c: int(c.params.get("offset") or 0) > 1, status=None)
        await asyncio.sleep(0.3)
        await fake.wait_for("sendMessage", 2)
    parts = fake.of("sendMessage")
    assert len(parts) >= 2 and all(p.status == 200 for p in parts)
    assert parts[0].text.startswith("<b>Everything about tribunals &amp; appeals</b>")
    assert all(not p.buttons for p in parts[:-1]) and parts[-1].buttons
    shown = "".join(parse_telegram_html(p.text) for p in parts)
    assert shown.count("<in writing>") == LONG_PARAGRAPH.count("<in writing>") * 4


async def test_privacy_command_says_what_is_kept_and_for_how_long(settings: Settings) -> None:
    """/privacy and the word PRIVACY give the retention period and how to erase."""
    async with polling_bot(settings) as (fake, _):
        await fake.send_text(CHAT, "/privacy")
        await fake.wait_for("sendMessage", 1)
        await fake.send_text(CHAT, "PRIVACY")
        replies = await fake.wait_for("sendMessage", 2)
    assert all("90 days" in r.text and "/forget" in r.text for r in replies)
    assert rows(settings.db_path, "SELECT count(*) FROM messages") == [(0,)]


async def test_a_429_is_retried_and_the_message_still_arrives(settings: Settings) -> None:
    """Telegram's flood limit (429, retry_after 1) is waited out and the same message sent again."""
    async with polling_bot(settings) as (fake, _):
        fake.fail_next("sendMessage", 1, status=429)
        await fake.send_text(CHAT, "short breaks")
        [reply] = await fake.wait_for("sendMessage", timeout=8)
    statuses = [c.status for c in fake.of("sendMessage")]
    assert statuses == [429, 200]
    assert reply.text.startswith("<b>Short breaks</b>")


async def test_a_500_is_retried_and_a_failed_update_does_not_stop_the_next(settings: Settings, caplog) -> None:
    """One 500 is retried; when every retry fails that update is lost and logged without its text, and the next is answered."""
    caplog.set_level(logging.INFO)
    async with polling_bot(settings) as (fake, _):
        fake.fail_next("sendMessage", 1, status=500)
        await fake.send_text(CHAT, "short breaks")
        await fake.wait_for("sendMessage", 1, timeout=8)
        fake.fail_next("sendMessage", 1 + NETWORK_RETRIES, status=500)
        await fake.send_text(CHAT, "what is an ehcp")
        await fake.wait_for("sendMessage", 3 + NETWORK_RETRIES, status=None, timeout=8)
        await fake.send_text(CHAT, "respite care")
        [_, last] = await fake.wait_for("sendMessage", 2, timeout=8)
    statuses = [c.status for c in fake.of("sendMessage")]
    assert statuses == [500, 200] + [500] * (1 + NETWORK_RETRIES) + [200]
    assert last.text.startswith("<b>Short breaks</b>")
    assert "Telegram update" in caplog.text and "failed" in caplog.text
    assert "what is an ehcp" not in caplog.text and fake.token not in caplog.text


# ------------------------------------------------------------------ webhook on the real ASGI app

@pytest.fixture
async def webhook_server(settings: Settings):
    """The project's ASGI app (bot/web.py) served by uvicorn on port 0, talking to the fake Bot API."""
    from bot.web import create_app

    async with FakeTelegram() as fake:
        configured = Settings(**{**settings.__dict__, "telegram_token": fake.token,
                                 "telegram_api_base_url": fake.url, "public_base_url": "https://signpost.example"})
        signpost = await open_signpost(configured)
        server = uvicorn.Server(uvicorn.Config(create_app(signpost), host="127.0.0.1", port=0,
                                               log_level="warning", lifespan="on", timeout_graceful_shutdown=2))
        task = asyncio.create_task(server.serve())
        try:
            async with asyncio.timeout(10):
                while not server.started:
                    await asyncio.sleep(0.01)
            port = server.servers[0].sockets[0].getsockname()[1]
            yield fake, signpost, f"http://127.0.0.1:{port}{WEBHOOK_PATH}"
        finally:
            server.should_exit = True
            await asyncio.wait_for(task, 10)
            await signpost.close()


async def test_webhook_is_registered_with_a_secret_and_answers(webhook_server) -> None:
    """At start the webhook is set with the secret token; an update posted with it gets answered."""
    fake, signpost, url = webhook_server
    [registered] = fake.of("setWebhook")
    secret = webhook_secret(signpost)
    assert registered.params["url"] == "https://signpost.example/telegram/webhook"
    assert registered.params["secret_token"] == secret
    assert fake.of("setMyCommands")
    update = {"update_id": 1, "message": fake.message(CHAT, "short breaks")}
    async with httpx.AsyncClient(timeout=5) as client:
        response = await client.post(url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": secret})
    assert response.status_code == 200
    [reply] = await fake.wait_for("sendMessage")
    assert reply.text.startswith("<b>Short breaks</b>")


@pytest.mark.parametrize("headers", [{}, {"X-Telegram-Bot-Api-Secret-Token": "wrong"},
                                     {"X-Telegram-Bot-Api-Secret-Token": ""}])
async def test_webhook_without_the_right_secret_gets_403(webhook_server, headers: dict) -> None:
    """A webhook call with a missing, empty or wrong secret token gets 403 and is never handled."""
    fake, _, url = webhook_server
    update = {"update_id": 1, "message": fake.message(CHAT, "short breaks")}
    async with httpx.AsyncClient(timeout=5) as client:
        response = await client.post(url, json=update, headers=headers)
        garbage = await client.post(url, content=b"not json", headers=headers)
    assert (response.status_code, garbage.status_code) == (403, 403)
    await asyncio.sleep(0.2)
    assert fake.of("sendMessage") == []


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b"{}", b'{"update_id": "x"}',
                                  b'{"update_id": 5, "message": {"chat": 3}}', "\udcff".encode("utf-8", "surrogatepass")])
async def test_webhook_garbage_with_the_right_secret_gets_400(webhook_server, body: bytes) -> None:
    """A body that is not a Telegram update gets a clean 400, never a 500."""
    _, signpost, url = webhook_server
    async with httpx.AsyncClient(timeout=5) as client:
        response = await client.post(url, content=body,
                                     headers={"X-Telegram-Bot-Api-Secret-Token": webhook_secret(signpost)})
    assert response.status_code == 400


# ------------------------------------------------------------------ rendering (pure)

@hsettings(max_examples=60, deadline=None)
@given(st.lists(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=3000),
                min_size=1, max_size=4))
def test_any_text_renders_to_valid_html_within_the_limit(paragraphs: list[str]) -> None:
    """Whatever the knowledge base holds (&, <, emoji, huge words), every message parses and fits 4,096 units."""
    text = "\n\n".join(paragraphs)
    reply = Reply("answer", text, title="A & B <c>", log_id=7,
                  contacts=(Contact("SEN<D>IASS", ("Phone: 01905 768153",)),))
    chunks = render.render_html(reply, limit=500)
    shown = [parse_telegram_html(c) for c in chunks]
    assert all(utf16_len(c) <= 500 for c in chunks)
    squeeze = lambda s: "".join(s.split())  # noqa: E731 - splitting may only move whitespace
    assert squeeze("".join(shown)) == squeeze("A & B <c>" + text + "SEN<D>IASSPhone: 01905 768153" + render.FEEDBACK_QUESTION)


def test_callback_data_fits_64_bytes_for_the_longest_ids() -> None:
    """Topic and group ids up to the longest the loader allows still make callback_data of 64 bytes or less."""
    longest = "a" * 63
    reply = Reply("clarify", "Pick", choices=(Choice(longest, "T"), Choice(f"group:{longest}", "G")),
                  related=(Choice("b" * 63, "R"),))
    data = [b.callback_data for row in render.keyboard_for(reply).inline_keyboard for b in row]
    assert all(len(d.encode()) <= render.CALLBACK_LIMIT for d in data)
    assert render.resolve_choice(data[1], ["x", f"group:{longest}"]) == f"group:{longest}"
    assert render.feedback_data(10**17, False) == f"f:{10**17}:0" and len(f"f:{10**17}:0") <= 64


# ------------------------------------------------------------------ python main.py

@pytest.mark.timeout(60)
async def test_main_py_polls_when_only_the_token_is_set_and_stops_on_sigterm(settings: Settings) -> None:
    """`python main.py` with TELEGRAM_BOT_TOKEN and no PUBLIC_BASE_URL long-polls, answers, and exits 0 on SIGTERM."""
    async with FakeTelegram() as fake:
        env = {**os.environ, "TELEGRAM_BOT_TOKEN": fake.token, "TELEGRAM_API_BASE_URL": fake.url,
               "SIGNPOST_DB": str(settings.db_path), "SIGNPOST_SECRET": "s" * 40,
               "SIGNPOST_KNOWLEDGE": str(settings.knowledge_dir)}
        for name in ("PUBLIC_BASE_URL", "TWILIO_AUTH_TOKEN", "SIGNPOST_ENV"):
            env.pop(name, None)
        process = await asyncio.create_subprocess_exec(sys.executable, str(ROOT / "main.py"), env=env, cwd=ROOT,
                                                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            await fake.wait_for("getUpdates", status=None, timeout=20)
            await fake.send_text(CHAT, "/start")
            await fake.wait_for("sendMessage", timeout=10)
            process.send_signal(signal.SIGTERM)
            code = await asyncio.wait_for(process.wait(), 10)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
        stderr = (await process.stderr.read()).decode()
    assert code == 0, stderr
    assert fake.token not in stderr and "s" * 40 not in stderr
    [line] = [line for line in stderr.splitlines() if line.startswith("SEND Signpost: ")]
    host = fake.url.removeprefix("http://")
    assert line == (f"SEND Signpost: Telegram long polling ({host}); channels: Telegram (long polling); "
                    f"knowledge: {settings.knowledge_dir.resolve()} (10 entries); database: {settings.db_path}")
