"""What a regular expression needs in a text before it can match: a cheap check that skips most rules.

The crisis rules are about 400 regular expressions; Python's engine tries each of them at every
word of a message, so a 1,600-character story cost 6-8 ms whatever it said. Most rules cannot
match most messages: "\\b(my|our) (partner|husband) (hit|kicked) me" needs "partner" or "husband"
somewhere in the text. `needs` reads a pattern's parse tree and returns such a set of strings, one
of which every match must contain, or None when it cannot tell (the rule then always runs). A
substring test costs well under a microsecond, so a rule runs only when the text could hold it.

It is a necessary condition, never a decision: a rule whose strings are present still runs in
full, so the rules match exactly what they matched before (tests/test_crisis.py compares both on
every written message).
"""
from __future__ import annotations

import re
from typing import Any

try:  # The parser Python's re module itself uses (re._parser since 3.11).
    from re import _constants as _c, _parser
except ImportError:  # pragma: no cover - another Python: every rule simply runs
    _parser = None

Needs = frozenset[str] | None


def needs(pattern: str) -> Needs:
    """Strings one of which is in every text the pattern matches (searched, anywhere), or None."""
    if _parser is None:
        return None
    try:
        found = _sequence(_parser.parse(pattern))
    except (re.error, RecursionError, TypeError, ValueError):
        return None
    return found if found and all(found) else None


def _better(a: Needs, b: Needs) -> Needs:
    """The more selective of two requirements: longer shortest string (spaces, in almost every text,
    not counted), then fewer strings."""
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b, key=lambda s: (min(len(x.strip()) for x in s), -len(s)))


def _sequence(items: Any) -> Needs:
    """A concatenation: the best of its runs of literal characters and of its parts' own needs.
    Zero-width assertions (\\b, lookarounds) consume nothing, so a run goes on across them."""
    best: Needs = None
    run = ""
    for op, value in items:
        if op is _c.LITERAL:
            run += chr(value)
            continue
        if op in (_c.AT, _c.ASSERT, _c.ASSERT_NOT):
            continue
        if run:
            best = _better(best, frozenset({run}))
            run = ""
        best = _better(best, _item(op, value))
    if run:
        best = _better(best, frozenset({run}))
    return best


def _item(op: Any, value: Any) -> Needs:
    if op is _c.SUBPATTERN:
        return _sequence(value[-1])
    if op is _c.BRANCH:
        union: set[str] = set()
        for branch in value[1]:
            found = _sequence(branch)
            if found is None:
                return None  # one way through needs nothing we can name
            union |= found
        return frozenset(union)
    if op in (_c.MAX_REPEAT, _c.MIN_REPEAT, getattr(_c, "POSSESSIVE_REPEAT", None)):
        low, _, body = value
        return _sequence(body) if low >= 1 else None
    return None  # a character class, any character, a back-reference: nothing certain
