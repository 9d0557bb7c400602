"""Rendering replies as SMS and WhatsApp: GSM-7, segment budgets, numbered choices, 1,600-character bodies."""
from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from bot.channels.sms import (
    MAX_BODY, MORE_FOOTER, budget, compact_contact, pick_prompt, sms_bodies, split, truncate, whatsapp_bodies,
)
from bot.gsm7 import is_gsm7, segments, septets
from bot.messages import Choice, Contact, Reply
from bot.replies import Replies

LONG = " ".join(f"Sentence {n} says something useful about support \u2014 \u201cquoted\u201d." for n in range(80))


def test_answer_uses_the_short_text_and_offers_more() -> None:
    """An answer with a short version sends that version and ends with the MORE line."""
    reply = Reply("answer", LONG, short="Short version \u2013 with a dash.", title="Title", topic="t")
    [body] = sms_bodies(reply)
    assert body == "Short version - with a dash.\n" + MORE_FOOTER


def test_a_long_short_text_is_cut_to_two_segments() -> None:
    """A `sms` text that is too long is cut at a word, within two segments, still ending with MORE."""
    [body] = sms_bodies(Reply("answer", LONG + " more", short=LONG, title="T", topic="t"))
    assert is_gsm7(body) and segments(body) == 2 and body.endswith("...\n" + MORE_FOOTER)


def test_an_answer_that_fits_whole_needs_no_more_line() -> None:
    """When the short text is the whole answer, there is nothing more to offer."""
    [body] = sms_bodies(Reply("answer", "All of it.", short="All of it.", title="T", topic="t"))
    assert body == "All of it."


def test_contacts_are_compact_and_only_what_fits() -> None:
    """Contacts become "Name: number" lines, added while they fit; unchecked ones are left to MORE."""
    contacts = (Contact("SENDIASS", ("Phone: 01432 260955", "Open now (Monday-Friday 9am-5pm)")),
                Contact("Unchecked", ("Find their current contact details on the Herefordshire Local Offer.",)),
                Contact("Local Offer", ("Web: https://www.herefordshire.gov.uk/localoffer",)))
    [body] = sms_bodies(Reply("answer", "Full.", short="Short.", contacts=contacts, topic="t", title="T"))
    assert body == ("Short.\nSENDIASS: 01432 260955\nLocal Offer: https://www.herefordshire.gov.uk/localoffer\n"
                    + MORE_FOOTER)
    [crowded] = sms_bodies(Reply("answer", "Full.", short="x " * 120, contacts=contacts, topic="t", title="T"))
    assert segments(crowded) <= 2 and "Local Offer:" not in crowded
    assert compact_contact(contacts[1]) is None


def test_clarify_choices_are_numbered_within_three_segments() -> None:
    """Clarify lists every option with its number and says "Reply 1, 2 or 3", shortening titles if needed."""
    choices = tuple(Choice(f"id{n}", f"A very long title number {n} " + "that goes on " * 8) for n in range(1, 4))
    [body] = sms_bodies(Reply("clarify", "I'm not sure which of these you mean. Please pick one:", choices=choices))
    assert is_gsm7(body) and segments(body) <= 3
    assert all(f"\n{n}. A very long" in body for n in (1, 2, 3)) and body.endswith("Reply 1, 2 or 3.")


def test_pick_prompts() -> None:
    """The prompt names the numbers a parent can reply with."""
    assert [pick_prompt(n) for n in (1, 2, 3, 8)] == [
        "Reply 1.", "Reply 1 or 2.", "Reply 1, 2 or 3.", "Reply with a number from 1 to 8."]


def test_crisis_reply_is_sent_unchanged(bundled_replies: Replies) -> None:
    """The crisis reply is sent as written, and fits two segments."""
    crisis = bundled_replies.crisis("suicide")
    [body] = sms_bodies(crisis)
    assert body == crisis.text and is_gsm7(body) and segments(body) <= 2


def test_more_splits_the_full_answer_into_bodies_under_1600() -> None:
    """MORE sends everything, split at paragraph or word boundaries into bodies of at most 1,600 characters."""
    reply = Reply("answer", "\n\n".join([LONG] * 3), title="Title", topic="t", kind="more",
                  contacts=(Contact("SENDIASS", ("Phone: 01432 260955",)),))
    messages = sms_bodies(reply)
    assert len(messages) > 3 and all(len(m) <= MAX_BODY and is_gsm7(m) for m in messages)
    assert messages[0].startswith("TITLE") and messages[-1].endswith("Phone: 01432 260955")
    assert all(not m.startswith(" ") and not m.endswith(" ") for m in messages)


def test_whatsapp_has_a_bold_title_and_keeps_typography() -> None:
    """WhatsApp gets the full answer with a *bold* title; it need not be GSM-7 but stays under 1,600 a message."""
    reply = Reply("answer", LONG, short="short", title="Short breaks", topic="t",
                  related=(Choice("x", "Clubs"),), contacts=(Contact("SENDIASS", ("Phone: 01432 260955",)),))
    messages = whatsapp_bodies(reply)
    assert messages[0].startswith("*Short breaks*\n\n") and "\u201cquoted\u201d" in messages[0]
    assert "*SENDIASS*" in "".join(messages) and all(len(m) <= MAX_BODY for m in messages)


@given(st.text(min_size=0, max_size=5000))
def test_split_never_exceeds_the_limit_and_loses_no_words(text: str) -> None:
    """Whatever the text, every body is at most 1,600 characters and the words survive in order."""
    parts = split(text)
    assert all(len(p) <= MAX_BODY for p in parts)
    assert "".join("".join(p.split()) for p in parts) == "".join(text.split())


@given(st.text(alphabet=st.sampled_from("abc de{}[]€\u2019"), max_size=600), st.integers(10, 459))
def test_truncate_respects_septets(text: str, limit: int) -> None:
    """Truncation counts GSM-7 extension characters as two septets."""
    assert septets(truncate(text, limit)) <= limit


@pytest.mark.parametrize("segments_count", [1, 2, 3])
def test_budget(segments_count: int) -> None:
    """One segment holds 160 septets; longer messages hold 153 a segment."""
    assert budget(segments_count) == {1: 160, 2: 306, 3: 459}[segments_count]


def test_every_bundled_answer_fits_two_segments(bundled_replies: Replies) -> None:
    """Every entry of the bundled base, with its contacts, renders as GSM-7 in at most two segments."""
    for entry in bundled_replies.knowledge.entries:
        if not entry.answers:
            continue
        [body] = sms_bodies(bundled_replies.answer(entry, 1.0))
        assert is_gsm7(body) and segments(body) <= 2, (entry.id, body)


def test_menu_and_every_group_fit_three_segments(bundled_replies: Replies) -> None:
    """The topic menu and every group list all their options, numbered, within three segments."""
    menus = [bundled_replies.menu()] + [bundled_replies.group(g.id) for g in bundled_replies.knowledge.groups]
    for menu in menus:
        [body] = sms_bodies(menu)
        assert is_gsm7(body) and segments(body) <= 3, body
        assert f"{len(menu.choices)}. " in body


@pytest.mark.parametrize("kind", ["greeting", "help", "thanks", "empty", "menu"])
def test_smalltalk_fits(bundled_replies: Replies, kind: str) -> None:
    """Small talk replies are GSM-7 within two segments (the menu within three)."""
    [body] = sms_bodies(bundled_replies.smalltalk(kind))
    assert is_gsm7(body) and segments(body) <= (3 if kind == "menu" else 2)
