"""Rendering replies as SMS and WhatsApp: GSM-7, segment budgets, numbered choices, 1,600-character bodies."""
from __future__ import annotations

import re

import pytest
from hypothesis import given, strategies as st

from dataclasses import replace

from bot.channels.sms import (
    MAX_BODY, MORE_FOOTER, budget, compact_contact, pick_prompt, sms_bodies, split, truncate, whatsapp_bodies,
)
from bot.channels.sms_parts import NEXT_PART, PART_SEGMENTS, THE_END, TOTAL_SEGMENTS, paginate
from bot.contacts import UNCONFIRMED
from bot.conversation import Conversation
from bot.emergency import DANGER_FOOTER
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
    assert body == ("Short.\nSENDIASS: 01432 260955\nLocal Offer: www.herefordshire.gov.uk/localoffer\n"
                    + MORE_FOOTER)
    [crowded] = sms_bodies(Reply("answer", "Full.", short="x " * 120, contacts=contacts, topic="t", title="T"))
    assert segments(crowded) <= 2 and "Local Offer:" not in crowded
    assert compact_contact(contacts[1]) is None


def test_clarify_choices_are_numbered_within_two_segments() -> None:
    """Clarify lists every option with its number and says "Reply 1, 2 or 3", shortening titles if needed."""
    choices = tuple(Choice(f"id{n}", f"A very long title number {n} " + "that goes on " * 8) for n in range(1, 4))
    [body] = sms_bodies(Reply("clarify", "I'm not sure which of these you mean. Please pick one:", choices=choices))
    assert is_gsm7(body) and segments(body) <= 2
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


def more(reply: Reply, part: int, render=sms_bodies) -> str:
    [body] = render(replace(reply, kind="more", part=part))
    return body


def test_more_sends_the_answer_in_parts_until_six_segments() -> None:
    """Each MORE sends the next part (two segments at most, "Reply MORE for the next part."); the first
    reply and the parts come to six segments at most, the last part says where to read more, then the end."""
    reply = Reply("answer", "\n\n".join([LONG] * 3), short="The short answer.", title="Title", topic="t",
                  contacts=(Contact("Team", ("Phone: 01432 260955", "Web: https://www.example.gov.uk/team")),))
    [first] = sms_bodies(reply)
    parts = [more(reply, n) for n in (1, 2)]
    assert all(is_gsm7(p) and segments(p) <= PART_SEGMENTS for p in parts)
    assert segments(first) + sum(segments(p) for p in parts) <= TOTAL_SEGMENTS
    assert parts[0].endswith("\n" + NEXT_PART) and parts[0].startswith("Sentence 0 says")
    assert parts[1].endswith("\nRead more: www.example.gov.uk/team")
    assert more(reply, 3) == THE_END
    assert "TITLE" not in parts[0] and "\n\n" not in "".join(parts)


def test_a_short_full_answer_comes_whole_with_no_link() -> None:
    """When the whole answer fits, MORE sends all of it, with the contacts the first reply had no room for."""
    contacts = (Contact("SENDIASS", ("Phone: 01905 768153", UNCONFIRMED)),
                Contact("Team", ("Web: https://www.example.gov.uk/team/?utm_source=x#top",)))
    reply = Reply("answer", "First paragraph.\n\nSecond paragraph (details below).", short="x " * 150,
                  title="T", topic="t", contacts=contacts)
    assert more(reply, 1) == ("First paragraph.\nSecond paragraph.\nSENDIASS: 01905 768153 (not yet confirmed)\n"
                              "Team: www.example.gov.uk/team")
    assert more(reply, 2) == THE_END


def test_a_part_that_needs_ucs2_is_measured_as_ucs2_on_whatsapp() -> None:
    """WhatsApp keeps curly quotes and dashes, so its parts are held to UCS-2's smaller segments."""
    reply = Reply("answer", "\n\n".join([LONG] * 3), short="Short \u2013 answer.", title="T", topic="t")
    [first] = whatsapp_bodies(reply)
    parts = [more(reply, n, whatsapp_bodies) for n in (1, 2, 3, 4, 5)]
    assert first == "Short \u2013 answer.\n" + MORE_FOOTER
    assert "\u201cquoted\u201d" in parts[0] and not is_gsm7(parts[0])
    sent = [p for p in parts if p != THE_END]
    assert all(segments(p) <= PART_SEGMENTS for p in sent)
    assert segments(first) + sum(segments(p) for p in sent) <= TOTAL_SEGMENTS


@given(st.lists(st.text(alphabet=st.sampled_from("abcdefgh .,\n\u2019\u20ac"), min_size=0, max_size=400),
                min_size=1, max_size=12), st.integers(1, 6))
def test_paginate_keeps_every_budget_and_the_words_in_order(paragraphs: list[str], budget_segments: int) -> None:
    """Whatever the text: each part within two segments, all parts within the budget, and what is sent is
    the start of the text, in order (a word cut short ends with "..."); a complete paging loses nothing."""
    tail = "Read more: www.example.gov.uk"
    text = "\n".join(paragraphs)
    paged = paginate(text, budget_segments, tail)
    assert all(segments(p) <= PART_SEGMENTS for p in paged.parts)
    assert sum(segments(p) for p in paged.parts) <= budget_segments
    def letters(t: str) -> str:  # the words without spaces and dots: a cut word gains "..."
        return "".join(t.replace(".", "").split())

    sent = "".join(letters(p.removesuffix(NEXT_PART).removesuffix(tail)) for p in paged.parts)
    assert letters(text).startswith(sent)
    if paged.complete:
        assert sent == letters(text)


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


def sms_menu_lines(body: str) -> dict[str, str]:
    """The numbered lines of a menu as a parent reads them: number -> title."""
    return dict(re.findall(r"^(\d+)\. (.+)$", body, flags=re.MULTILINE))


def test_every_topic_can_be_reached_from_the_sms_menu_in_two_segments_a_message(bundled_replies: Replies) -> None:
    """A parent who texts MENU, then a group's number, then a topic's number, can reach every topic of the
    bundled base; every menu on the way is GSM-7 within two segments, with every title whole."""
    conversation, reached = Conversation(bundled_replies), set()
    [menu] = sms_bodies(conversation.reply_to("parent", "MENU"))
    groups = sms_menu_lines(menu)
    assert len(groups) == len(bundled_replies.knowledge.groups) and segments(menu) <= 2 and is_gsm7(menu)
    for number in groups:
        conversation.reply_to("parent", "MENU")
        [group] = sms_bodies(conversation.reply_to("parent", number))
        topics = sms_menu_lines(group)
        assert is_gsm7(group) and segments(group) <= 2 and "..." not in group, group
        for pick in topics:
            conversation.reply_to("parent", "MENU")
            conversation.reply_to("parent", number)
            answer = conversation.reply_to("parent", pick)
            assert answer.outcome == "answer" and answer.title == topics[pick], (number, pick)
            reached.add(answer.topic)
    assert "..." not in menu
    assert reached == {e.id for e in bundled_replies.knowledge.entries if e.answers}


def test_nothing_more_lists_every_group_whole_in_two_segments(bundled_replies: Replies) -> None:
    """MORE with nothing to expand offers the whole menu on SMS, every group title whole, in two segments."""
    [body] = sms_bodies(bundled_replies.nothing_more())
    assert is_gsm7(body) and segments(body) <= 2 and "..." not in body
    assert list(sms_menu_lines(body).values()) == [g.title for g in bundled_replies.knowledge.groups]


def test_a_group_too_big_for_two_segments_is_cut_not_sent_longer() -> None:
    """A knowledge base with a dozen long topics in one group still gets every option, numbered, within
    two segments: the longest titles are cut at a word."""
    choices = tuple(Choice(f"t{n}", f"A long topic title number {n} about support in school") for n in range(12))
    [body] = sms_bodies(Reply("smalltalk", "School: pick a topic.", choices=choices, kind="menu"))
    assert is_gsm7(body) and segments(body) <= 2 and len(sms_menu_lines(body)) == 12
    assert body.endswith("Reply with a number from 1 to 12.")


@pytest.mark.parametrize("kind", ["greeting", "help", "thanks", "empty", "menu"])
def test_smalltalk_fits(bundled_replies: Replies, kind: str) -> None:
    """Small talk replies, the menu included, are GSM-7 within two segments."""
    [body] = sms_bodies(bundled_replies.smalltalk(kind))
    assert is_gsm7(body) and segments(body) <= 2


def test_a_clarify_of_the_longest_bundled_titles_fits_two_segments(bundled_replies: Replies) -> None:
    """Even the three longest titles of the bundled base, offered together with the 999 line, fit two segments."""
    titles = sorted((e.title for e in bundled_replies.knowledge.entries if e.answers), key=len, reverse=True)[:3]
    choices = tuple(Choice(str(n), title) for n, title in enumerate(titles))
    clarify = Reply("clarify", "I'm not sure which of these you mean. Please pick one:", choices=choices,
                    footer=DANGER_FOOTER)
    [body] = sms_bodies(clarify)
    assert is_gsm7(body) and segments(body) <= 2 and body.endswith("Reply 1, 2 or 3.\n" + DANGER_FOOTER)
