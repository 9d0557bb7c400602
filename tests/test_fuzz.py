"""Property-based tests (hypothesis): the conversation core and the Twilio webhook's parsing never fail.

Bounded: at most 150 examples each, no per-example deadline (the first match warms caches).
"""
from __future__ import annotations

import asyncio
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from hypothesis import HealthCheck, event, given, settings, strategies as st

from bot.conversation import Conversation
from bot.messages import OUTCOMES, Incoming
from bot.replies import Replies
from bot.store import SQLiteStore
from bot.web import create_app
from twilio_client import PATH, PUBLIC, make_signpost, settings_for, sign, twilio_form

# database=None: no example saved by one run is replayed by the next, so every run of a fresh
# checkout is the same kind of run (and a failure prints its example to reproduce it).
BOUNDED = settings(max_examples=150, deadline=None, database=None,
                   suppress_health_check=[HealthCheck.function_scoped_fixture])
# Words that steer the core down its different paths: keywords, follow-ups, topics, crisis, areas.
WORDS = ["ehcp", "EHC", "plan", "school", "camhs", "autism", "short", "breaks", "more", "MORE", "1", "2", "3", "9",
         "menu", "hello", "thanks", "help", "stop", "forget", "kill", "myself", "Powys", "Worcestershire",
         "Herefordshire", "moving", "from", "?", "!", "😀", "\u200b", "\u202e", "'", "<b>", "&", "%s", "\x00"]
ANY_TEXT = st.text(alphabet=st.characters(exclude_categories=()), max_size=400)  # lone surrogates included
TEXTS = st.one_of(ANY_TEXT, st.lists(st.sampled_from(WORDS), max_size=12).map(" ".join))
FORM_TEXT = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=300)  # what UTF-8 can carry


def assert_reply(reply) -> None:
    assert reply.outcome in OUTCOMES
    assert reply.text.strip()
    assert all(choice.id and choice.title for choice in reply.choices)


@BOUNDED
@given(text=TEXTS)
def test_respond_never_raises_and_gives_one_of_five_outcomes(bundled_replies: Replies, text: str) -> None:
    """Replies.respond gives an outcome from the five and a non-empty text, whatever the text."""
    assert_reply(bundled_replies.respond(text))


@BOUNDED
@given(turns=st.lists(st.tuples(st.sampled_from(["parent-a", "parent-b"]), TEXTS), min_size=1, max_size=8))
def test_conversations_never_raise_whatever_the_order(bundled_replies: Replies, turns: list[tuple[str, str]]) -> None:
    """Conversation.reply_to over any run of messages (picks, "more", nonsense) always gives a valid reply."""
    conversation = Conversation(bundled_replies)
    for sender, text in turns:
        assert_reply(conversation.reply_to(sender, text))


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    """A loop of the test's own: hypothesis calls the test body many times, synchronously."""
    running = asyncio.new_event_loop()
    yield running
    running.close()


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(TEXTS, min_size=1, max_size=5))
def test_handle_logs_every_message_whatever_its_text(bundled_replies: Replies, loop, texts: list[str]) -> None:
    """Conversation.handle with a real SQLite store logs one row per message, surrogates and NULs included."""
    async def run() -> None:
        with tempfile.TemporaryDirectory() as folder:
            async with SQLiteStore(Path(folder) / "log.sqlite3") as store:
                conversation = Conversation(bundled_replies, store)
                for text in texts:
                    reply = await conversation.handle(Incoming("console", "k", text))
                    assert_reply(reply)
                    assert reply.log_id
                (count,) = await (await store.db.execute("SELECT count(*) FROM messages")).fetchone()
                assert count == len(texts)

    loop.run_until_complete(asyncio.wait_for(run(), 30))


# ------------------------------------------------------------------ the webhook's parsing

@pytest.fixture
def webhook(tmp_path: Path, loop) -> Iterator[httpx.AsyncClient]:
    """The real app over httpx's ASGI transport: an app exception fails the test instead of becoming a 500."""
    signpost = loop.run_until_complete(make_signpost(settings_for(tmp_path, rate_limit_count=100_000)))
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(signpost)), base_url=PUBLIC)
    yield client
    loop.run_until_complete(client.aclose())
    loop.run_until_complete(signpost.close())


def check_response(response: httpx.Response) -> None:
    event(f"HTTP {response.status_code}")  # --hypothesis-show-statistics shows how many got how far
    assert response.status_code in (200, 400, 403, 413), (response.status_code, response.text[:300])
    if response.status_code == 200:
        root = ET.fromstring(response.text)
        assert root.tag == "Response"
        assert all((message.text or "").strip() for message in root.iter("Message"))
    assert "Traceback" not in response.text


def _is_int(text: str) -> bool:
    """What the server takes as a media count: int() of it works ("²" is a digit to isdigit(), not to int())."""
    try:
        int(text.strip())
    except ValueError:
        return False
    return True


REQUIRED = frozenset({"From", "MessageSid", "Body", "NumMedia"})
FIELDS = st.dictionaries(FORM_TEXT.filter(lambda k: len(k) < 40), FORM_TEXT, max_size=20)


@BOUNDED
@given(body=TEXTS.filter(lambda t: not any("\ud800" <= c <= "\udfff" for c in t)) | FORM_TEXT,
       extra=FIELDS, keep=st.just(REQUIRED) | st.sets(st.sampled_from(sorted(REQUIRED))),
       media=st.none() | st.none() | FORM_TEXT.filter(lambda t: len(t) < 10))
def test_any_signed_form_gets_twiml_or_a_4xx(webhook: httpx.AsyncClient, loop, body: str, extra: dict,
                                             keep: set[str], media: str | None) -> None:
    """A correctly signed form with any fields and values, some required ones missing, never gets a 500."""
    form = {**extra, **twilio_form(body, **({"NumMedia": media} if media is not None else {}))}
    form = {k: v for k, v in form.items() if k not in REQUIRED - keep}
    headers = {"X-Twilio-Signature": sign(form), "Content-Type": "application/x-www-form-urlencoded"}
    response = loop.run_until_complete(webhook.post(PATH, content=urlencode(form).encode(), headers=headers))
    check_response(response)
    if {"From", "MessageSid"} <= keep and form["From"].strip() and form["MessageSid"].strip() and \
            (media is None or _is_int(media)) and len(form) <= 200:
        assert response.status_code == 200


@BOUNDED
@given(raw=st.binary(max_size=2_000), signature=st.one_of(st.just("sign"), st.text(max_size=40)))
def test_any_bytes_posted_get_a_4xx_or_twiml(webhook: httpx.AsyncClient, loop, raw: bytes, signature: str) -> None:
    """Random bytes as the body, signed over whatever they parse to or with a random signature, never get a 500."""
    from urllib.parse import parse_qsl

    try:
        parsed = dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
    except (UnicodeDecodeError, ValueError):
        parsed = {}
    value = sign(parsed) if signature == "sign" else signature
    headers = {"X-Twilio-Signature": value.encode("utf-8")}
    check_response(loop.run_until_complete(webhook.post(PATH, content=raw, headers=headers)))
