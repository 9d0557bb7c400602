"""Web addresses as a text message carries them: the page a parent needs, short, never made up.

A link in an SMS is paid for by the character and often read on a basic phone, so it
is shown without its scheme, tracking tags or fragment. A long address gives way to a
much shorter page of the same site only when the entry itself names that page (in its
sources or contacts): a shorter address is never guessed, because a made-up one sends a
family nowhere.
"""
from __future__ import annotations

import re
from typing import Iterable
from urllib.parse import parse_qsl, urlsplit

URL = re.compile(r"https?://[^\s\"'<>,;()\[\]]+", re.I)
# Query keys that only say where a click came from; everything else is part of the page.
TRACKING = re.compile(r"utm_\w+|fbclid|gclid|dclid|msclkid|mc_cid|mc_eid|_ga|_gl|igshid|yclid", re.I)
MUCH_SHORTER = 0.5  # another page of the same site replaces a link only at half its length or less


def urls_in(texts: Iterable[str]) -> list[str]:
    """Every web address written in the texts, in order, without the punctuation after it."""
    return [url.rstrip(".:") for text in texts for url in URL.findall(text)]


def _site(url: str) -> str:
    return urlsplit(url).netloc.lower().removeprefix("www.")


def _path(url: str) -> str:
    return urlsplit(url).path.rstrip("/")


def clean(url: str) -> str | None:
    """The address without tracking tags or fragment; None when it still needs a query to work."""
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not TRACKING.fullmatch(k)]
    if query:  # the page depends on it, and a query string is no place for a parent to type
        return None
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}{parts.path}"


def display(url: str) -> str:
    """How the address is printed: no scheme and no trailing slash (phones still make it a link)."""
    return re.sub(r"^https?://", "", url, flags=re.I).rstrip("/")


def _parent_page(candidate: str, url: str) -> bool:
    """The candidate is the same site and a page above the address (its home page, or a section)."""
    if _site(candidate) != _site(url):
        return False
    above, below = _path(candidate), _path(url)
    return above != below and (above == "" or below.startswith(above + "/"))


def short_link(url: str, named: Iterable[str] = ()) -> str | None:
    """The address to print, or None when there is none worth sending.

    `named` are the other addresses the entry gives (its sources and contacts): one of them
    that is a page above this one on the same site, and at most half as long, is used instead.
    """
    cleaned = clean(url)
    above = [c for n in named if (c := clean(n)) and _parent_page(c, cleaned or url)]
    shortest = min(above, key=lambda c: len(display(c)), default=None)
    if cleaned is None:
        return display(shortest) if shortest else None
    if shortest and len(display(shortest)) <= MUCH_SHORTER * len(display(cleaned)):
        return display(shortest)
    return display(cleaned)
