"""Normalisation: case, unicode, punctuation and the lexicon."""
from __future__ import annotations

from bot.text import Lexicon, fold


def test_fold_handles_case_unicode_and_punctuation() -> None:
    """Curly apostrophes, accents, dots and punctuation all fold to plain lower-case words."""
    assert fold("What’s an E.H.C. Plan?!") == "whats an ehc plan"
    assert fold("Café  naïve—test") == "cafe naive test"


def test_lexicon_replaces_longest_phrase_first() -> None:
    """A multi-word variant wins over a shorter one inside it."""
    lexicon = Lexicon({"education health and care plan": "ehcp", "echp": "ehcp", "care": "care"})
    assert lexicon.apply("what is an education health and care plan".split()) == ["what", "is", "an", "ehcp"]
    assert lexicon.apply(["my", "echp"]) == ["my", "ehcp"]
