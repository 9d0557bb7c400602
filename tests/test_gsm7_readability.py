"""SMS cost counting and the reading-ease score kb check relies on."""
from __future__ import annotations

from bot.gsm7 import is_gsm7, segments, septets, to_gsm7
from bot.readability import reading_ease, syllables


def test_extension_characters_count_twice() -> None:
    """^ { } [ ] ~ | € and backslash cost two septets each."""
    assert septets("a[b]") == 6 and septets("€") == 2


def test_one_curly_quote_makes_the_whole_text_ucs2() -> None:
    """A curly quote forces UCS-2: 140 characters then cost three segments, not one."""
    plain = "a" * 139 + "'"
    assert segments(plain) == 1
    assert segments("a" * 139 + "\u2019") == 3


def test_two_segments_hold_306_gsm7_characters() -> None:
    """Two GSM-7 segments hold 306 septets; the 307th needs a third."""
    assert segments("a" * 306) == 2 and segments("a" * 307) == 3


def test_to_gsm7_replaces_typography_and_drops_emoji() -> None:
    """Curly quotes, dashes, ellipses and NBSP become plain; emoji vanish; the result is GSM-7."""
    text = to_gsm7("It\u2019s \u201cfine\u201d \u2014 really\u2026\u00a0\U0001F60A ça")
    assert text == "It's \"fine\" - really... ca" and is_gsm7(text)


def test_reading_ease_orders_plain_and_hard_text() -> None:
    """Short plain sentences score high; long Latinate ones score low."""
    plain = "You can ask the council for help. It is free. Ask the school first."
    hard = ("Notwithstanding the aforementioned statutory considerations, determination of eligibility "
            "necessitates comprehensive multidisciplinary assessment documentation.")
    assert reading_ease(plain) > 80 > 20 > reading_ease(hard)


def test_syllable_rule() -> None:
    """Vowel groups count syllables, a silent final e does not, '-le' does."""
    assert [syllables(w) for w in ("cat", "make", "little", "education", "the")] == [1, 1, 2, 4, 1]
