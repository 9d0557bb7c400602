"""Flesch reading ease, computed here.

textstat now needs NLTK's pronouncing dictionary downloaded at run time, which a fresh
machine without internet cannot do, and the formula is three lines: so we count
syllables ourselves with the usual vowel-group rule.
"""
from __future__ import annotations

import re

_SENTENCE_END = re.compile(r"[.!?]+(?:\s|$)|\n\s*\n|\n\s*-\s")
_WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?")
_VOWEL_GROUP = re.compile(r"[aeiouy]+")


def syllables(word: str) -> int:
    """Vowel groups, less a silent final e ("make"), but not "-le" ("little")."""
    word = word.lower().replace("'", "")
    count = len(_VOWEL_GROUP.findall(word))
    if word.endswith("e") and not word.endswith(("le", "ee", "ye")) and count > 1:
        count -= 1
    if word.endswith(("ed", "es")) and count > 1 and not word.endswith(("ted", "ded", "ses", "zes", "ces", "ges")):
        count -= 1
    return max(count, 1)


def reading_ease(text: str) -> float:
    """Flesch reading ease: 206.835 - 1.015 x words per sentence - 84.6 x syllables per word.

    A bullet line or a paragraph counts as the end of a sentence, as a reader takes it.
    """
    words = _WORD.findall(text)
    if not words:
        return 100.0
    sentences = max(len([s for s in _SENTENCE_END.split(text) if _WORD.search(s)]), 1)
    total = sum(syllables(w) for w in words)
    return round(206.835 - 1.015 * len(words) / sentences - 84.6 * total / len(words), 1)
