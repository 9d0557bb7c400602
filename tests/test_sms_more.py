"""Every entry of the bundled knowledge base, read to the end through MORE on SMS and WhatsApp.

A parent on pay-as-you-go pays for each part: no part over two segments, no entry over six
segments in all (the first reply included), and every link one the entry itself gives.
"""
from __future__ import annotations

import re

import pytest

from bot.channels.links import display, urls_in
from bot.channels.sms import MORE_FOOTER, sms_bodies, sms_cost, whatsapp_bodies
from bot.channels.sms_parts import NEXT_PART, PART_SEGMENTS, THE_END, TOTAL_SEGMENTS
from bot.conversation import Conversation
from bot.gsm7 import is_gsm7, segments
from bot.knowledge import Entry
from bot.messages import Incoming
from bot.replies import Replies
from bot.signpost import build_replies
from tests.conftest import write_kb

CHANNELS = {"sms": sms_bodies, "whatsapp": whatsapp_bodies}
LINK = re.compile(r"\b(?:www\.)?[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:uk|org|com|net)(?:/[^\s,]*)?")  # as printed: lower case


async def read_to_the_end(replies: Replies, entry: Entry, channel: str) -> list[str]:
    """Open the entry as a parent would (a pick), then send MORE until the bot says that was all."""
    conversation, render = Conversation(replies), CHANNELS[channel]
    first = await conversation.pick(Incoming(channel, "parent", f"[button] {entry.id}"), entry.id)
    bodies = render(first)
    for _ in range(TOTAL_SEGMENTS + 1):
        [body] = render(conversation.reply_to("parent", "MORE"))
        if body == THE_END:
            return bodies
        bodies.append(body)
    raise AssertionError(f"{entry.id}: MORE never came to an end")


def known_links(replies: Replies, entry: Entry) -> set[str]:
    services = [replies.knowledge.services[s] for s in entry.services if s in replies.knowledge.services]
    return {display(u) for u in [*urls_in(entry.sources), *(s.web for s in services if s.web)]}


@pytest.mark.parametrize("channel", sorted(CHANNELS))
async def test_every_entry_through_more_stays_within_two_segments_a_part_and_six_in_all(
        bundled_replies: Replies, channel: str) -> None:
    """For every entry: each message at most two segments, all of them at most six, each part but the
    last ends with "Reply MORE for the next part.", and every link printed is one the entry gives."""
    entries = [e for e in bundled_replies.knowledge.entries if e.answers]
    assert len(entries) > 40
    worst_part = worst_total = 0
    for entry in entries:
        bodies = await read_to_the_end(bundled_replies, entry, channel)
        sizes = [segments(b) for b in bodies]
        worst_part, worst_total = max(worst_part, *sizes), max(worst_total, sum(sizes))
        assert max(sizes) <= PART_SEGMENTS and sum(sizes) <= TOTAL_SEGMENTS, (entry.id, sizes)
        assert all(b.endswith(MORE_FOOTER) for b in bodies[:-1]), entry.id
        assert not bodies[-1].endswith(NEXT_PART), entry.id
        if not sms_cost(bundled_replies.answer(entry, 1.0))[2]:  # cut short: the last line says where to read on
            assert bodies[-1].splitlines()[-1].startswith("Read more: "), entry.id
        if channel == "sms":
            assert all(is_gsm7(b) for b in bodies), entry.id
        for link in LINK.findall("\n".join(bodies)):
            assert link.rstrip(".") in known_links(bundled_replies, entry) and "?" not in link, (entry.id, link)
    print(f"{channel}: largest message {worst_part} segments, largest whole answer {worst_total} segments")


LONG_KB = """
- id: long-one
  title: A long answer
  questions: [tell me everything about help]
  answer: |
    {answer}
  sms: The short version of the long answer.
  sources: ["Team page: https://www.example.gov.uk/team/section/page?utm_source=news"]
  services: [team, helpline]
"""
SERVICES = """
services:
  - id: helpline
    name: Helpline
    phone: "0800 000 0000"
    checked: true
  - id: team
    name: The Team
    web: https://www.example.gov.uk/team/section/page/with/a/very/long/path/that/nobody/can/type/on/a/phone
    checked: false
"""


async def test_a_cut_answer_ends_with_where_to_read_more(tmp_path) -> None:
    """An answer longer than six segments stops within them; its last part ends with "Read more:" and the
    entry's own page, shortened to the shorter page its sources name and marked as not yet confirmed."""
    answer = " ".join(f"Sentence {n} is a useful thing to know about getting help." for n in range(40))
    kb = write_kb(tmp_path / "kb", LONG_KB.format(answer=answer), services=SERVICES)
    replies = build_replies(kb)
    entry = replies.knowledge.entry("long-one")
    bodies = await read_to_the_end(replies, entry, "sms")
    needed, sent, complete = sms_cost(replies.answer(entry, 1.0))
    assert not complete and sent == sum(segments(b) for b in bodies) <= TOTAL_SEGMENTS < needed
    assert bodies[-1].splitlines()[-1] == "Read more: www.example.gov.uk/team/section/page (not yet confirmed)"
