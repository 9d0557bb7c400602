"""Render a `Reply` as text messages: SMS (GSM-7, every segment costs) and WhatsApp.

SMS: the short answer, the contacts that fit, and "Reply MORE for the next part.", in at
most two GSM-7 segments, numbered choices and menus included. Each MORE then
sends the next part of the full answer (sms_parts.py): two segments a part, six for the
whole answer. WhatsApp gets the same replies and parts, keeping its typography (a part
that needs UCS-2 is measured as UCS-2). Twilio refuses a body over 1,600 characters.
"""
from __future__ import annotations

import re
from dataclasses import replace

from typing import Callable

from ..contacts import UNCONFIRMED, UNCONFIRMED_SHORT
from ..gsm7 import budget, segments, septets, to_gsm7
from ..messages import Choice, Contact, Reply
from .links import short_link
from .sms_parts import NEXT_PART, THE_END, answer_parts, cut_at_word, needed_segments

MAX_BODY = 1_600  # Twilio's limit for one message body
ANSWER_SEGMENTS = 2
# Menus and clarifies too: knowledge/groups.yaml keeps each group small enough for its titles to fit whole,
# and a clarify's two or three options fit, titles cut if need be.
CHOICE_SEGMENTS = 2
GROUP_PREFIX = "group:"
# The topic menu lists every group (a dozen): on SMS a short heading leaves room for each title whole.
MENU_HEADINGS = {"menu": "Pick a topic:", "nothing-more": "Nothing more. Pick a topic:"}
MORE_FOOTER = NEXT_PART
HELP_SMS = (
    "SEND Signpost answers questions about support for children with SEND in Herefordshire. "
    "It is free apart from your normal text charges. Text a question, or MENU for topics. "
    "Text STOP to stop."
)
MEDIA_ONLY = "Sorry, I can only read text. Please type your question, or text MENU to see the topics."
STOPPED = "You will get no more messages from SEND Signpost. Text START to start again."
STARTED = "SEND Signpost: replies are on again. Text a question, MENU for topics or HELP for help."
GREETING_NEXT = "Text MENU to see the topics."


def truncate(text: str, limit: int) -> str:
    """Cut at a word boundary so the text with "..." is at most `limit` septets."""
    if septets(text) <= limit:
        return text
    cut = text
    while cut and septets(cut) > limit - 3:
        cut = cut[: len(cut) - (septets(cut) - (limit - 3))]  # each character is 1 or 2 septets
    space = cut.rfind(" ")
    if space > len(cut) // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:-") + "..."


def compact_contact(contact: Contact) -> str | None:
    """One line a parent can act on: the name and the first phone, text, web or email,
    marked on the same line when no editor has confirmed it (the parent may act on it alone)."""
    mark = f" {UNCONFIRMED_SHORT}" if UNCONFIRMED in contact.lines else ""
    for prefix in ("Phone: ", "Text: ", "Web: ", "Email: "):
        for line in contact.lines:
            if line.startswith(prefix):
                detail = line.removeprefix(prefix)
                if prefix == "Web: ":
                    detail = short_link(detail) or detail
                return f"{contact.name}: {detail}{mark}"
    return None  # no details at all: the full answer (MORE) says where to look


def _says_number(text: str, contact: Contact) -> bool:
    """Whether the text already gives this contact's phone number (spaces aside)."""
    numbers = {re.sub(r"\D", "", n) for n in re.findall(r"\d[\d ]*\d", text)}
    phone = next((re.sub(r"\D", "", line) for line in contact.lines if line.startswith(("Phone: ", "Text: "))), "")
    return bool(phone) and phone in numbers


def numbered(choices: tuple[Choice, ...]) -> list[str]:
    return [f"{n}. {choice.title}" for n, choice in enumerate(choices, 1)]


def pick_prompt(count: int) -> str:
    if count <= 1:
        return "Reply 1."
    if count <= 3:
        return "Reply " + ", ".join(str(n) for n in range(1, count)) + f" or {count}."
    return f"Reply with a number from 1 to {count}."


def _join(parts: list[str]) -> str:
    return "\n".join(part for part in parts if part)


def _fit(head: str, extras: list[str], footer: str, count: int) -> str:
    """The head (cut at a word if need be), as many extras as fit, then the footer, within `count` segments."""
    fits: Callable[[str], bool] = lambda body: segments(_join([body, footer])) <= count  # noqa: E731
    body = head if fits(head) else cut_at_word(head, fits)
    for extra in extras:
        candidate = _join([body, extra])
        if fits(candidate):
            body = candidate
    return _join([body, footer])


def _fit_choices(intro: str, choices: tuple[Choice, ...], count: int, footer: str = "") -> str:
    """Every option must be shown, so titles are shortened until the list fits."""
    intro, prompt = truncate(intro, budget(count) // 3), _join([pick_prompt(len(choices)), footer])
    lines = numbered(choices)
    width = max(len(line) for line in lines)
    while width > 12 and segments(_join([intro, *lines, prompt])) > count:
        width -= 4
        lines = [truncate(line, width) for line in numbered(choices)]
    return _join([intro, *lines, prompt])


Encode = Callable[[str], str]


def _as_sent(text: str) -> str:
    return text


def sms_bodies(reply: Reply) -> list[str]:
    """The SMS message for a reply, in GSM-7: the first reply, or the part of the answer MORE asked for."""
    return _bodies(_gsm7_reply(reply), to_gsm7)


def whatsapp_bodies(reply: Reply) -> list[str]:
    """The same messages on WhatsApp, typography kept (a part that needs UCS-2 is measured as UCS-2)."""
    return _bodies(reply, _as_sent)


def _bodies(reply: Reply, encode: Encode) -> list[str]:
    if reply.kind == "more":
        return [more_part(reply, encode)]
    return [encode(_sms_text(reply))]


def more_part(reply: Reply, encode: Encode = _as_sent) -> str:
    """Part `reply.part` of the answer after its first reply, or THE_END once every part was sent."""
    first = encode(_sms_text(replace(reply, kind=None)))
    parts = answer_parts(reply, first, encode).parts
    number = max(reply.part, 1)
    return parts[number - 1] if number <= len(parts) else encode(THE_END)


def sms_cost(reply: Reply) -> tuple[int, int, bool]:
    """An answer by SMS: the segments the whole of it would need, the segments it costs through
    every MORE (never over TOTAL_SEGMENTS), and whether every word of it is sent."""
    reply = _gsm7_reply(replace(reply, kind=None))
    first = to_gsm7(_sms_text(reply))
    paged = answer_parts(reply, first, to_gsm7)
    sent = segments(first) + sum(segments(p) for p in paged.parts)
    return needed_segments(reply, first, to_gsm7), sent, paged.complete


def _gsm7_reply(reply: Reply) -> Reply:
    """Convert the pieces first, so segments are counted on what is really sent."""
    return replace(
        reply, text=to_gsm7(reply.text), short=to_gsm7(reply.short) if reply.short else None,
        footer=to_gsm7(reply.footer) if reply.footer else None,
        choices=tuple(Choice(c.id, to_gsm7(c.title)) for c in reply.choices),
        contacts=tuple(Contact(to_gsm7(c.name), tuple(to_gsm7(line) for line in c.lines)) for c in reply.contacts),
    )


def _heading(reply: Reply) -> str:
    """The line above numbered choices: the short SMS heading when they are the menu's groups."""
    if reply.kind in MENU_HEADINGS and all(c.id.startswith(GROUP_PREFIX) for c in reply.choices):
        return MENU_HEADINGS[reply.kind]
    return reply.text


def _sms_text(reply: Reply) -> str:
    if reply.outcome == "crisis":
        return reply.text  # written to fit two segments; safety beats cost if a local line makes it longer
    if reply.kind == "help":
        return HELP_SMS
    if reply.kind == "greeting":
        return _fit(reply.text, [], GREETING_NEXT, ANSWER_SEGMENTS)
    if reply.choices:
        return _fit_choices(_heading(reply), reply.choices, CHOICE_SEGMENTS, reply.footer or "")
    head = reply.short or reply.text
    # A confirmed number the text already gives is not worth paying for twice.
    contacts = [line for c in reply.contacts
                if (line := compact_contact(c)) and not (_says_number(head, c) and UNCONFIRMED not in c.lines)]
    if reply.outcome == "answer":
        footer = MORE_FOOTER if head != reply.text else ""
        if segments(_join([head, *contacts])) > ANSWER_SEGMENTS and not footer:
            footer = MORE_FOOTER  # the full text did not fit: MORE sends the rest
        # Next steps, numbered, each only if it fits: its number picks it (the conversation keeps them).
        nexts = [f"Reply {n} for {c.title}" for n, c in enumerate(reply.related, 1)]
        return _fit(head, [*contacts, *nexts], footer, ANSWER_SEGMENTS)
    return _fit(reply.short or reply.text, contacts, reply.footer or "", ANSWER_SEGMENTS)


# ------------------------------------------------------------------ the whole reply in one text

def full_text(reply: Reply, bold: bool) -> str:
    """The whole reply in one text: title, answer, every contact line, choices, next steps.
    No channel sends this any more (MORE sends parts); it shows what a reply holds in full."""
    mark = (lambda s: f"*{s}*") if bold else (lambda s: s.upper())
    parts = [mark(reply.title)] if reply.title and reply.outcome == "answer" else []
    parts.append(reply.text)
    for contact in reply.contacts:
        parts.append("\n".join([mark(contact.name) if bold else contact.name, *contact.lines]))
    if reply.choices:
        parts.append("\n".join([*numbered(reply.choices), pick_prompt(len(reply.choices))]))
    if reply.related and bold:
        parts.append("Related: " + "; ".join(c.title for c in reply.related))
    if reply.footer:
        parts.append(reply.footer)
    return "\n\n".join(parts)


def split(text: str, limit: int = MAX_BODY) -> list[str]:
    """Split at paragraph, then line, then word boundaries into bodies of at most `limit` characters."""
    bodies: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        window = rest[:limit]
        cut = next((at for sep in ("\n\n", "\n", " ") if (at := window.rfind(sep)) > limit // 3), limit)
        bodies.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        bodies.append(rest)
    return bodies or [""]
