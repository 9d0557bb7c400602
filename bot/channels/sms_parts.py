"""The full answer by text message, one part for each MORE, within what a parent can afford.

The first reply is the entry's short `sms` text. Each MORE then sends the next part of the
full answer, shaped for a phone (no title, no blank lines, contacts on one line each, short
links), every part within two segments and ending "Reply MORE for the next part." The whole
answer, first reply included, never costs more than six segments: when the full answer is
longer, the last part stops at a sentence and says where to read more, and `kb check`
names the entry so that an editor can shorten it.

Everything is measured with `gsm7.segments`, so a part that needs UCS-2 (WhatsApp keeps
typography) is held to UCS-2's smaller segments.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from ..contacts import UNCONFIRMED, UNCONFIRMED_SHORT
from ..gsm7 import segments
from ..messages import Contact, Reply
from .links import short_link, urls_in

PART_SEGMENTS = 2  # each text a parent gets
TOTAL_SEGMENTS = 6  # the whole answer through MORE, the first reply included
FIRST_SEGMENTS = 2  # what the first reply may use (sms.ANSWER_SEGMENTS)
NEXT_PART = "Reply MORE for the next part."
READ_MORE = "Read more: {link}"
THE_END = "That was all of this answer. Text MENU for the topics, or ask another question."
# "(details below)" points at contact cards; by text the contacts are in the first reply.
_POINTERS = re.compile(r" ?\((?:details|contact details|see) below\)", re.I)
_SENTENCE_END = re.compile(r"(?<=[.!?:;])[ \n]+|\n+")
_WORD_END = re.compile(r"[ \n]+")
GOOD_ENOUGH = 0.6  # a cut at a sentence end is kept if it uses this share of what a cut at a word would

Fits = Callable[[str], bool]


def _join(parts: list[str]) -> str:
    return "\n".join(part for part in parts if part)


def unconfirmed(contact: Contact) -> bool:
    return UNCONFIRMED in contact.lines


def _detail(contact: Contact, prefix: str) -> str | None:
    return next((line.removeprefix(prefix) for line in contact.lines if line.startswith(prefix)), None)


def contact_line(contact: Contact, named: tuple[str, ...] = ()) -> str | None:
    """"Name: phone, link", marked when no editor has confirmed it; None when it has no details."""
    web = _detail(contact, "Web: ")
    details = [d for d in (_detail(contact, "Phone: ") or _detail(contact, "Text: "),
                           short_link(web, named) if web else None) if d]
    if not details:
        email = _detail(contact, "Email: ")
        details = [email] if email else []
    if not details:
        return None
    mark = f" {UNCONFIRMED_SHORT}" if unconfirmed(contact) else ""
    return f"{contact.name}: {', '.join(details)}{mark}"


def named_addresses(reply: Reply) -> tuple[str, ...]:
    """The addresses the entry itself gives: a long link may give way to a shorter one of these."""
    webs = [w for c in reply.contacts if (w := _detail(c, "Web: "))]
    return tuple(urls_in(reply.sources)) + tuple(webs)


def read_more_link(reply: Reply) -> str | None:
    """Where to read more: the first confirmed contact's web page, else the first one, marked."""
    named = named_addresses(reply)
    ranked = sorted(reply.contacts, key=unconfirmed)  # stable: the editor's order within each kind
    for contact in ranked:
        web = _detail(contact, "Web: ")
        link = short_link(web, named) if web else None
        if link:
            return link + (f" {UNCONFIRMED_SHORT}" if unconfirmed(contact) else "")
    return None


def full_text(reply: Reply, first: str) -> str:
    """The full answer shaped for a phone, with the contacts the first reply had no room for."""
    named = named_addresses(reply)
    paragraphs = [_POINTERS.sub("", p.strip()) for p in re.split(r"\n\s*\n", reply.text) if p.strip()]
    lines = [line for c in reply.contacts if (line := contact_line(c, named))]
    shown = set(first.splitlines())
    return _join([*paragraphs, *(line for line in lines if line not in shown)])


# ------------------------------------------------------------------ cutting into parts

def take(text: str, fits: Fits) -> tuple[str, str]:
    """The longest head of `text` that fits, cut at a sentence end if that loses little, else at a word."""
    by_sentence = _longest(text, _SENTENCE_END, fits, "")
    by_word = _longest(text, _WORD_END, fits, "...")
    if by_sentence and (not by_word or len(by_sentence[0]) >= GOOD_ENOUGH * len(by_word[0])):
        return by_sentence
    if by_word:
        return by_word
    cut = len(text)
    while cut and not fits(text[:cut] + "..."):
        cut -= 1
    return (text[:cut] + "...", text[cut:]) if cut else ("", text)


def cut_at_word(text: str, fits: Fits) -> str:
    """The longest head of `text` cut at a word, with "...", that fits."""
    found = _longest(text, _WORD_END, fits, "...")
    return found[0] if found else take(text, fits)[0]


def _longest(text: str, boundary: re.Pattern[str], fits: Fits, mark: str) -> tuple[str, str] | None:
    best = None
    for found in boundary.finditer(text):
        head = text[: found.start()].rstrip()
        if not head:
            continue
        if not fits(head + mark):  # segments only grow with the head: no later cut fits either
            break
        best = (head + mark, text[found.end():])
    return best


@dataclass(frozen=True)
class Paged:
    parts: tuple[str, ...]
    complete: bool  # every word of the full text was sent


def paginate(text: str, budget: int, tail: str | None, part_segments: int = PART_SEGMENTS) -> Paged:
    """Parts of at most `part_segments` each and `budget` in all; the last one ends with `tail`
    when the text did not fit (and a part that needs another after it ends with NEXT_PART)."""
    parts: list[str] = []
    rest, used = text.strip(), 0
    while rest and used < budget:
        room = min(part_segments, budget - used)
        if segments(rest) <= room:
            parts.append(rest)
            return Paged(tuple(parts), True)
        last = budget - used - room < 1
        footer = (tail or "") if last else NEXT_PART
        if last and footer and segments(footer) > room:
            footer = ""  # a link too long to send is left out rather than cut
        head, rest = take(rest, lambda h: segments(_join([h, footer])) <= room)
        parts.append(_join([head, footer]))
        used += segments(parts[-1])
        rest = rest.strip()
    return Paged(tuple(parts), not rest)


def answer_parts(reply: Reply, first: str, encode: Callable[[str], str] = lambda s: s) -> Paged:
    """The parts MORE sends after the first reply `first`; none when the first reply was all of it."""
    if NEXT_PART not in first.splitlines():
        return Paged((), True)
    text = encode(full_text(reply, first))
    link = read_more_link(reply)
    tail = encode(READ_MORE.format(link=link)) if link else None
    return paginate(text, TOTAL_SEGMENTS - max(FIRST_SEGMENTS, segments(first)), tail)


def needed_segments(reply: Reply, first: str, encode: Callable[[str], str] = lambda s: s) -> int:
    """What the whole answer would cost with no cap: the first reply and every part."""
    if NEXT_PART not in first.splitlines():
        return segments(first)
    paged = paginate(encode(full_text(reply, first)), budget=10_000, tail=None)
    return segments(first) + sum(segments(p) for p in paged.parts)
