"""Turn services-directory records into the contact lines a reply shows.

A parent acts on what we print, so a detail no editor has checked yet is marked as
such, a service with no sourced details points to the Local Offer, and opening times
are shown (with whether the line is open now) only when checked.
"""
from __future__ import annotations

import datetime as dt

from .knowledge import DAYS, Knowledge, OpeningHours, Service
from .messages import Contact

_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
# What a family sees beside a detail no editor has confirmed: the full line in a full reply,
# the short one after the number on SMS (a parent on SMS acts on that line alone).
UNCONFIRMED = "(Not yet confirmed by the council: please check before you rely on it.)"
UNCONFIRMED_SHORT = "(not yet confirmed)"
NO_DETAILS = "Find their contact details on the Herefordshire Local Offer."


def _clock(t: dt.time) -> str:
    hour = t.hour % 12 or 12
    minutes = f":{t.minute:02d}" if t.minute else ""
    return f"{hour}{minutes}{'am' if t.hour < 12 else 'pm'}"


def _days(days: tuple[int, ...]) -> str:
    if len(days) > 2 and list(days) == list(range(days[0], days[-1] + 1)):
        return f"{DAYS[days[0]].title()}-{DAYS[days[-1]].title()}"
    return ", ".join(DAYS[d].title() for d in days)


def hours_text(service: Service) -> str | None:
    if service.always_open:
        return "any time, day or night"
    if not service.hours:
        return None
    return "; ".join(f"{_days(h.days)} {_clock(h.opens)}-{_clock(h.closes)}" for h in service.hours)


def next_open(hours: tuple[OpeningHours, ...], now: dt.datetime) -> tuple[bool, dt.datetime | None]:
    """Whether a line is open at `now` (local time), and if not when it next opens."""
    for span in hours:
        if now.weekday() in span.days and span.opens <= now.time() < span.closes:
            return True, None
    for ahead in range(0, 8):
        day = (now + dt.timedelta(days=ahead)).date()
        starts = sorted(s.opens for s in hours if day.weekday() in s.days)
        for opens in starts:
            moment = dt.datetime.combine(day, opens, tzinfo=now.tzinfo)
            if moment > now:
                return False, moment
    return False, None


def _open_line(service: Service, now: dt.datetime | None) -> str | None:
    text = hours_text(service)
    if text is None:
        return None
    if now is None or service.always_open:
        return f"Open: {text}"
    is_open, opens = next_open(service.hours, now)
    if is_open:
        return f"Open now ({text})"
    when = f"{_DAY_NAMES[opens.weekday()]} {_clock(opens.time())}" if opens else "check their website"
    return f"Closed now; opens {when} ({text})"


def contact(service: Service, knowledge: Knowledge, now: dt.datetime | None = None) -> Contact:
    lines = [f"Phone: {service.phone}" if service.phone else None,
             f"Text: {service.text}" if service.text else None,
             f"Email: {service.email}" if service.email else None,
             f"Web: {service.web}" if service.web else None]
    shown = [line for line in lines if line]
    if service.checked:
        opening = _open_line(service, now)
        return Contact(service.name, tuple(shown + ([opening] if opening else [])))
    # Unchecked details come from a cited source but no editor has confirmed them yet:
    # show them marked as such, and never show unchecked opening times.
    if not shown:
        return Contact(service.name, (NO_DETAILS,))
    return Contact(service.name, tuple(shown + [UNCONFIRMED]))


def contacts_for(ids: tuple[str, ...], knowledge: Knowledge, now: dt.datetime | None = None) -> tuple[Contact, ...]:
    return tuple(contact(knowledge.services[i], knowledge, now) for i in ids if i in knowledge.services)
