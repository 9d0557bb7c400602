"""Unconfirmed contact details must carry their marker on every channel.

A detail of a service with `checked: false` (a phone number, email or web address that no
editor has confirmed) may be shown, but never bare: a parent on SMS acts on the one line
they get. This renders every answer, and the unanswered reply, as each channel sends it
(SMS and WhatsApp, first reply and every MORE; Telegram; console) and reports every
unconfirmed detail that appears without the marker: on its own line by text message, in
its own block (a contact card) on Telegram and the console.
`kb check` counts each as an error. It belongs with the checks, not the core: it imports
the channel renderers on purpose, to check what families really receive.
"""
from __future__ import annotations

import html
import re
from dataclasses import fields, replace
from typing import Callable, Iterable

from .channels.sms import sms_bodies, whatsapp_bodies
from .channels.telegram_render import render_html
from .contacts import UNCONFIRMED, UNCONFIRMED_SHORT
from .knowledge import Knowledge
from .messages import Reply
from .plain import render
from .replies import Replies

_MARKS = (UNCONFIRMED.lower(), UNCONFIRMED_SHORT.lower())


def unconfirmed_details(knowledge: Knowledge) -> dict[str, str]:
    """Each unconfirmed detail as it is printed, and the service it belongs to."""
    details: dict[str, str] = {}
    for service in knowledge.services.values():
        if not service.checked:
            for value in (service.phone, service.text, service.email, service.web):
                if value:
                    details[value] = service.id
    return details


_PAGED = "part" in {f.name for f in fields(Reply)}  # MORE sends the answer part by part


def _after_more(bodies: Callable[[Reply], list[str]], reply: Reply) -> list[str]:
    """What each MORE sends after the first reply: every part, until the channel repeats itself."""
    if not _PAGED:
        return bodies(replace(reply, kind="more", short=None))
    sent: list[str] = []
    for part in range(1, 20):
        more = bodies(replace(reply, kind="more", part=part))  # type: ignore[call-arg]
        if all(body in sent for body in more):
            break
        sent.extend(more)
    return sent


def _channels() -> dict[str, tuple[Callable[[Reply], list[str]], str]]:
    """Each channel's renderer and the unit a marker must share with its detail."""
    return {
        "sms": (sms_bodies, "line"),
        "sms after MORE": (lambda r: _after_more(sms_bodies, r), "line" if _PAGED else "block"),
        # WhatsApp sends the SMS texts when MORE pages them, else the whole reply with contact cards.
        "whatsapp": (whatsapp_bodies, "line" if _PAGED else "block"),
        "whatsapp after MORE": (lambda r: _after_more(whatsapp_bodies, r), "line" if _PAGED else "block"),
        "telegram": (lambda r: [html.unescape(re.sub(r"</?b>", "", m)) for m in render_html(r)], "block"),
        "console": (lambda r: [render(r)], "block"),
    }


def unmarked(text: str, detail: str, unit: str) -> bool:
    """Whether `detail` appears in `text` somewhere without the marker in the same line or block.
    A detail inside a longer one is not it: the Local Offer's address starts the Zone's."""
    shown = re.compile(re.escape(detail) + r"(?![\w/.-]*\w)")
    separator = "\n" if unit == "line" else "\n\n"
    for piece in text.split(separator):
        if shown.search(piece) and not any(mark in piece.lower() for mark in _MARKS):
            return True
    return False


def _replies(knowledge: Knowledge, replies: Replies) -> Iterable[tuple[str, Reply]]:
    for entry in knowledge.entries:
        if entry.answers:
            yield f"entry '{entry.id}'", replies.answer(entry, 1.0)
    yield "the unanswered reply", replies.unanswered(0.0)


def unmarked_contacts(knowledge: Knowledge) -> list[str]:
    """One problem per reply, channel and detail shown without its "not yet confirmed" marker."""
    details = unconfirmed_details(knowledge)
    if not details:
        return []
    # Building an answer or the unanswered reply needs only the knowledge: no matcher, no safety.
    replies = Replies(knowledge, None, None, risk=None)  # type: ignore[arg-type]
    problems = []
    for where, reply in _replies(knowledge, replies):
        for channel, (bodies, unit) in _channels().items():
            for body in bodies(reply):
                for detail, service in details.items():
                    if unmarked(body, detail, unit):
                        problems.append(f"{where}: on {channel}, '{detail}' ({service}, checked: false) "
                                        f"is shown without its 'not yet confirmed' marker")
    return sorted(set(problems))
