"""The GSM-7 alphabet of SMS: what fits in a text message and what it costs.

One character outside GSM-7 (a curly quote, a long dash, an emoji) turns the whole
message into UCS-2, and a two-part message then holds 134 characters instead of 306.
"""
from __future__ import annotations

import re
import unicodedata

BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
EXTENDED = frozenset("^{}\\[~]|€\f")  # each costs two septets (an escape, then the character)
SINGLE_SEGMENT, MULTI_SEGMENT = 160, 153  # septets; a multi-part message loses 7 to its header
UCS2_SINGLE, UCS2_MULTI = 70, 67

# Typography that phones and word processors insert, and its plain GSM-7 equivalent.
REPLACEMENTS = {
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'", "\u00b4": "'", "`": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u2033": '"', "\u00ab": '"', "\u00bb": '"',
    "\u2013": "-", "\u2014": "-", "\u2012": "-", "\u2015": "-", "\u2212": "-", "\u2010": "-", "\u2011": "-",
    "\u2026": "...", "\u00a0": " ", "\u2007": " ", "\u202f": " ", "\u2009": " ", "\u200a": " ",
    "\u2022": "-", "\u00b7": "-", "\t": " ", "\u00d7": "x",
}


_SPACES = re.compile(r"(?<=\S) {2,}(?=\S)")  # left where a removed emoji stood


_OUTSIDE = re.compile("[^" + re.escape("".join(sorted(BASIC | EXTENDED))) + "]")


def is_gsm7(text: str) -> bool:
    return _OUTSIDE.search(text) is None


def septets(text: str) -> int:
    """Length in GSM-7 septets (extension characters count twice)."""
    return len(text) + sum(text.count(c) for c in EXTENDED)


def segments(text: str) -> int:
    """How many SMS segments the text costs."""
    if is_gsm7(text):
        size, single, multi = septets(text), SINGLE_SEGMENT, MULTI_SEGMENT
    else:
        size = sum(2 if ord(c) > 0xFFFF else 1 for c in text)  # UTF-16 code units
        single, multi = UCS2_SINGLE, UCS2_MULTI
    if size <= single:
        return 1
    return -(-size // multi)


def budget(segments: int) -> int:
    """How many septets fit in this many GSM-7 segments."""
    return SINGLE_SEGMENT if segments == 1 else segments * MULTI_SEGMENT


def to_gsm7(text: str) -> str:
    """Plain GSM-7 text: typography replaced, accents dropped where GSM-7 lacks them, the rest removed."""
    if is_gsm7(text):  # the usual case, and on every SMS reply: nothing to replace
        return text
    out = []
    for char in text:
        char = REPLACEMENTS.get(char, char)
        if all(c in BASIC or c in EXTENDED for c in char):
            out.append(char)
            continue
        plain = "".join(c for c in unicodedata.normalize("NFKD", char) if c in BASIC)
        out.append(plain)  # emoji and other symbols vanish rather than doubling the cost
    return _SPACES.sub(" ", "".join(out))
