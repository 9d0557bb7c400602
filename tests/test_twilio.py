"""The Twilio webhook over real HTTP: signed requests to the real app under uvicorn on 127.0.0.1."""
from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from bot.emergency import DANGER_FOOTER
from bot.gsm7 import is_gsm7, segments, to_gsm7
from bot.privacy import FORGOTTEN
from bot.signpost import Signpost
from bot.web import create_app
from bot.channels.sms import MEDIA_ONLY, MORE_FOOTER, STARTED, STOPPED
from bot.channels.sms_parts import NEXT_PART, THE_END, TOTAL_SEGMENTS
from twilio_client import make_signpost, PATH, PUBLIC, Phone, bodies, log_rows, running, settings_for, sign, twilio_form

DEV_SET = Path(__file__).resolve().parents[2] / "shared" / "eval" / "dev.jsonl"
EHCP_QUESTION = "What is an EHC plan?"
@contextlib.asynccontextmanager
async def phone(tmp_path: Path, sender: str | None = None, **changes) -> AsyncIterator[tuple[Phone, Signpost]]:
    signpost = await make_signpost(settings_for(tmp_path, **changes))
    async with running(create_app(signpost)) as (base, _), httpx.AsyncClient() as client:
        yield Phone(base, client, **({"sender": sender} if sender else {})), signpost


def assert_sms(body: str, max_segments: int = 2) -> None:
    assert body and is_gsm7(body), body
    assert segments(body) <= max_segments, (segments(body), body)


# ------------------------------------------------------------------ answers

async def test_an_answer_is_short_gsm7_and_offers_more(tmp_path: Path) -> None:
    """A question gets one GSM-7 message of at most two segments, ending with how to get more when shortened."""
    async with phone(tmp_path) as (parent, signpost):
        expected = signpost.conversation.replies.respond(EHCP_QUESTION)
        [body] = await parent.text(EHCP_QUESTION)
    assert_sms(body)
    assert expected.outcome == "answer"
    if expected.short and expected.short != expected.text:
        assert body.endswith(MORE_FOOTER)
    [row] = log_rows(tmp_path / "log.sqlite3")
    assert (row["channel"], row["outcome"], row["topic"]) == ("sms", "answer", expected.topic)


async def test_more_sends_the_next_part_each_time_within_six_segments(tmp_path: Path) -> None:
    """Each MORE gets one message, the next part of the full answer, until six segments in all; then the end."""
    async with phone(tmp_path) as (parent, signpost):
        first = signpost.conversation.replies.respond(EHCP_QUESTION)
        [short] = await parent.text(EHCP_QUESTION)
        parts = [body for _ in range(4) for body in await parent.text("MORE")]
    assert all(segments(b) <= 2 and is_gsm7(b) for b in parts)
    assert parts[0].startswith(to_gsm7(first.text)[:60]) and parts[0].endswith(NEXT_PART)
    sent = [short] + parts[: parts.index(THE_END)]
    assert sum(segments(b) for b in sent) <= TOTAL_SEGMENTS and parts[-1] == THE_END
    rows = log_rows(tmp_path / "log.sqlite3")
    assert [r["kind"] for r in rows] == [None, "more", "more", "more", "more"]


async def test_clarify_is_numbered_then_a_number_picks(tmp_path: Path, small_kb: Path) -> None:
    """An unclear question gets numbered choices within two segments; "2" answers the second choice."""
    async with phone(tmp_path, knowledge_dir=small_kb) as (parent, signpost):
        unclear = "camhs"  # two entries of the small knowledge base fit it equally well
        clarify = signpost.conversation.replies.respond(unclear)
        [body] = await parent.text(unclear)
        [picked] = await parent.text("2")
    assert clarify.outcome == "clarify"
    assert_sms(body, 2)
    count = len(clarify.choices)
    assert all(f"\n{n}. " in body for n in range(1, count + 1))
    assert body.endswith({2: "Reply 1 or 2.", 3: "Reply 1, 2 or 3."}[count] + "\n" + DANGER_FOOTER)
    assert_sms(picked)
    rows = log_rows(tmp_path / "log.sqlite3")
    assert [r["outcome"] for r in rows] == ["clarify", "answer"]
    assert rows[1]["topic"] == clarify.choices[1].id


async def test_whatsapp_gets_the_short_answer_then_parts(tmp_path: Path) -> None:
    """A WhatsApp sender gets the short answer first and the full one part by part, as SMS does."""
    async with phone(tmp_path, sender="whatsapp:+447700900123") as (parent, signpost):
        expected = signpost.conversation.replies.respond(EHCP_QUESTION)
        [first] = await parent.text(EHCP_QUESTION)
        [part] = await parent.text("MORE")
    assert first.startswith(expected.short) and first.endswith(MORE_FOOTER)
    assert part.startswith(expected.text.split("\n\n")[0][:60]) and segments(part) <= 2
    rows = log_rows(tmp_path / "log.sqlite3")
    assert [r["channel"] for r in rows] == ["whatsapp", "whatsapp"]


async def test_emoji_and_curly_quotes_still_get_a_gsm7_answer(tmp_path: Path) -> None:
    """Typography and emoji in the question neither break matching nor leak into the SMS reply."""
    async with phone(tmp_path) as (parent, _):
        [body] = await parent.text("What\u2019s an \u201cEHC plan\u201d? \U0001F62D\u00a0\u2014 thanks\u2026")
    assert_sms(body)


async def test_empty_body_gets_a_clear_reply(tmp_path: Path) -> None:
    """An empty message gets a short reply asking for a question."""
    async with phone(tmp_path) as (parent, _):
        [body] = await parent.text("")
    assert_sms(body)
    assert "question" in body.lower()


async def test_media_without_text_gets_a_text_only_reply(tmp_path: Path) -> None:
    """A picture with no words gets a text reply saying only text can be read."""
    async with phone(tmp_path) as (parent, _):
        [body] = await parent.text("", NumMedia="1", MediaUrl0="https://api.twilio.com/x.jpg",
                                   MediaContentType0="image/jpeg")
    assert body == MEDIA_ONLY and is_gsm7(body)


async def test_a_body_over_1600_characters_is_cut_not_refused(tmp_path: Path) -> None:
    """A very long message is answered; only its first 1,600 characters are used and logged."""
    async with phone(tmp_path) as (parent, _):
        [body] = await parent.text(EHCP_QUESTION + " " + "really " * 700)
    assert_sms(body)
    [row] = log_rows(tmp_path / "log.sqlite3")
    assert len(row["text"]) <= 1600


# ------------------------------------------------------------------ keywords

async def test_stop_then_silence_then_start(tmp_path: Path) -> None:
    """STOP is confirmed once; later messages get no reply and no log row; START turns replies back on."""
    async with phone(tmp_path) as (parent, _):
        assert await parent.text("stop") == [STOPPED]
        assert await parent.text(EHCP_QUESTION) == []
        assert await parent.text("HELP") == []
        assert await parent.text("Start") == [STARTED]
        [answer] = await parent.text(EHCP_QUESTION)
    assert_sms(answer)
    rows = log_rows(tmp_path / "log.sqlite3")
    assert EHCP_QUESTION not in [r["text"] for r in rows[:-1]]  # nothing from the quiet time
    assert [r["kind"] for r in rows[:2]] == ["stop", "start"]


@pytest.mark.parametrize("word", ["STOPALL", "unsubscribe", "Cancel", "END", "quit", "REVOKE", "optout", "stop."])
async def test_every_stop_word_opts_out(tmp_path: Path, word: str) -> None:
    """Each of Twilio's stop words, in any case, opts the sender out."""
    async with phone(tmp_path) as (parent, _):
        assert await parent.text(word) == [STOPPED]
        assert await parent.text("hello") == []
        assert await parent.text("UNSTOP") == [STARTED]


async def test_stop_inside_a_sentence_is_not_a_keyword(tmp_path: Path) -> None:
    """"how do I stop the school excluding him" is a question, not an opt-out."""
    async with phone(tmp_path) as (parent, _):
        [reply] = await parent.text("how do I stop the school excluding him")
        assert reply != STOPPED
        assert await parent.text(EHCP_QUESTION) != []


async def test_twilio_opt_out_handling_means_empty_twiml(tmp_path: Path) -> None:
    """With Twilio's own opt-out handling on, STOP and START get empty TwiML but still take effect."""
    async with phone(tmp_path, twilio_opt_out_handling=True) as (parent, _):
        assert await parent.text("STOP") == []
        assert await parent.text(EHCP_QUESTION) == []
        assert await parent.text("YES") == []
        assert len(await parent.text(EHCP_QUESTION)) == 1


@pytest.mark.parametrize("word", ["HELP", "info", "Help"])
async def test_help_says_what_it_is_what_it_costs_and_how_to_stop(tmp_path: Path, word: str) -> None:
    """HELP and INFO say what the service is, that it is free apart from text charges, and how to stop."""
    async with phone(tmp_path) as (parent, _):
        [body] = await parent.text(word)
    assert_sms(body)
    assert "free" in body and "STOP" in body and "SEND" in body


async def test_privacy_and_forget(tmp_path: Path) -> None:
    """PRIVACY explains what is kept; FORGET deletes every row of that sender and confirms."""
    async with phone(tmp_path, retention_days=45) as (parent, signpost):
        await parent.text(EHCP_QUESTION)
        [privacy] = await parent.text("privacy")
        assert_sms(privacy) and "45 days" in privacy and "FORGET" in privacy
        other = Phone(parent.base, parent.client, sender="+447700900456")
        await other.text(EHCP_QUESTION)
        assert await parent.text("FORGET") == [FORGOTTEN]
        assert signpost.conversation.sessions._items.get(signpost.key("sms", parent.sender)) is None
    rows = log_rows(tmp_path / "log.sqlite3")
    assert len(rows) == 1 and rows[0]["sender"] != signpost.key("sms", parent.sender)


# ------------------------------------------------------------------ signatures and bad input

async def test_missing_or_wrong_signature_is_refused_and_not_logged(tmp_path: Path) -> None:
    """No signature, a wrong one, or one over the internal URL gets 403, no reply and no log row."""
    async with phone(tmp_path) as (parent, _):
        form = twilio_form(EHCP_QUESTION)
        internal = sign(form, parent.base + PATH)  # what a proxy-unaware server would check
        for signature in (None, "", "bm90IGEgc2lnbmF0dXJl", internal, sign(form, token="another-token")):
            response = await parent.post(form, signature=signature)
            assert response.status_code == 403, signature
            assert "Message" not in response.text
        tampered = await parent.post({**form, "Body": "changed"}, signature=sign(form))
        assert tampered.status_code == 403
    assert log_rows(tmp_path / "log.sqlite3") == []


async def test_signature_covers_the_query_string(tmp_path: Path) -> None:
    """The signature is checked over the public URL with its query, exactly as Twilio signed it."""
    async with phone(tmp_path) as (parent, _):
        parent.query = "region=hfd&v=2"
        assert len(await parent.text(EHCP_QUESTION)) == 1
        form = twilio_form(EHCP_QUESTION)
        without_query = await parent.post(form, signature=sign(form, PUBLIC + PATH))
        assert without_query.status_code == 403


async def test_malformed_forms_get_400_not_500(tmp_path: Path) -> None:
    """A signed form without From or MessageSid, a bad NumMedia, or bytes that are not UTF-8 get 400."""
    async with phone(tmp_path) as (parent, _):
        no_from = {k: v for k, v in twilio_form("hi").items() if k != "From"}
        no_sid = {k: v for k, v in twilio_form("hi").items() if k != "MessageSid"}
        for form in (no_from, no_sid, twilio_form("hi", NumMedia="lots")):
            assert (await parent.post(form)).status_code == 400
        raw = await parent.client.post(parent.base + PATH, content=b"Body=\xff\xfe&From=%2B44",
                                       headers={"X-Twilio-Signature": "x",
                                                "Content-Type": "application/x-www-form-urlencoded"})
        assert raw.status_code == 400
        huge = await parent.client.post(parent.base + PATH, content=b"Body=" + b"a" * 200_000,
                                        headers={"X-Twilio-Signature": "x"})
        assert huge.status_code == 413
        assert (await parent.client.get(parent.base + PATH)).status_code == 405
    assert log_rows(tmp_path / "log.sqlite3") == []


async def test_development_flag_skips_signatures(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """SIGNPOST_INSECURE_SKIP_TWILIO_SIGNATURE accepts unsigned requests, with a loud warning."""
    async with phone(tmp_path, twilio_auth_token=None, public_base_url=None, twilio_skip_signature=True) as (parent, _):
        response = await parent.post(twilio_form(EHCP_QUESTION), signature=None)
    assert response.status_code == 200 and len(bodies(response.text)) == 1
    assert any("signature" in r.message.lower() and r.levelname == "WARNING" for r in caplog.records)


async def test_no_twilio_token_means_no_twilio_route(tmp_path: Path) -> None:
    """Without TWILIO_AUTH_TOKEN the webhook does not exist, rather than accepting anything."""
    async with phone(tmp_path, twilio_auth_token=None, public_base_url=None) as (parent, _):
        response = await parent.post(twilio_form(EHCP_QUESTION), signature=None)
    assert response.status_code == 404


# ------------------------------------------------------------------ retries and limits

async def test_a_retried_message_sid_gets_the_same_reply_and_one_log_row(tmp_path: Path) -> None:
    """Twilio's retry of a MessageSid gets the first reply again, even after the sender has sent STOP."""
    async with phone(tmp_path) as (parent, _):
        form = twilio_form(EHCP_QUESTION)
        first = await parent.post(form)
        assert await parent.text("STOP") == [STOPPED]
        again = await parent.post(form)
    assert first.status_code == again.status_code == 200
    assert first.text == again.text and len(bodies(first.text)) == 1
    assert [r["kind"] for r in log_rows(tmp_path / "log.sqlite3")] == [None, "stop"]


async def test_concurrent_deliveries_of_one_sid_are_answered_once(tmp_path: Path) -> None:
    """Two deliveries of the same MessageSid at the same moment get one answer and one log row."""
    async with phone(tmp_path) as (parent, _):
        form = twilio_form(EHCP_QUESTION)
        responses = await asyncio.gather(*(parent.post(form) for _ in range(4)))
    assert len({r.text for r in responses}) == 1 and all(r.status_code == 200 for r in responses)
    assert len(log_rows(tmp_path / "log.sqlite3")) == 1


async def test_rate_limit_gives_one_notice_then_silence_until_the_window_passes(tmp_path: Path) -> None:
    """After the limit a sender gets one short notice, then nothing, then answers again after the window."""
    async with phone(tmp_path, rate_limit_count=3, rate_limit_seconds=1) as (parent, _):
        answered = [await parent.text(f"hello {n}") for n in range(3)]
        notice = await parent.text("hello again")
        silent = await parent.text("hello yet again")
        other = await Phone(parent.base, parent.client, sender="+447700900456").text("hello")
        [crisis] = await parent.text("i want to kill myself")  # safety first, whatever the limit
        stop = await parent.text("STOP")  # an opt-out is honoured whatever the limit
        await parent.text("START")
        await asyncio.sleep(1.1)
        later = await parent.text("hello")
    assert all(len(a) == 1 for a in answered)
    assert len(notice) == 1 and "wait" in notice[0] and is_gsm7(notice[0])
    assert "999" in crisis
    assert silent == [] and len(other) == 1 and stop == [STOPPED] and len(later) == 1
    texts = [r["text"] for r in log_rows(tmp_path / "log.sqlite3")]
    assert "hello again" not in texts and "hello yet again" not in texts


# ------------------------------------------------------------------ the whole dev set

@pytest.mark.skipif(not DEV_SET.exists(), reason="shared/eval/dev.jsonl is not here")
async def test_every_dev_question_gets_a_gsm7_reply_within_budget(tmp_path: Path) -> None:
    """Every reply to every dev-set question is GSM-7, at most two segments (three for a clarify)."""
    questions = [json.loads(line)["q"] for line in DEV_SET.read_text(encoding="utf-8").splitlines() if line.strip()]
    async with phone(tmp_path, rate_limit_count=10_000) as (parent, _):
        replies = []
        for n, question in enumerate(questions):
            parent.sender = f"+4477009{n:05d}"  # a fresh parent each time: no follow-ups across questions
            replies.append(await parent.text(question))
    rows = log_rows(tmp_path / "log.sqlite3")
    assert len(rows) == len(questions)
    for question, reply, row in zip(questions, replies, rows):
        assert len(reply) == 1, question
        assert_sms(reply[0], 3 if row["outcome"] == "clarify" else 2)


async def test_forget_while_opted_out_erases_but_keeps_the_opt_out(tmp_path: Path) -> None:
    """FORGET after STOP erases the messages silently and the sender stays opted out."""
    async with phone(tmp_path) as (parent, _):
        await parent.text(EHCP_QUESTION)
        await parent.text("STOP")
        assert await parent.text("FORGET") == []
        assert await parent.text(EHCP_QUESTION) == []
    assert log_rows(tmp_path / "log.sqlite3") == []
