"""Tests for bot/redaction.py: personal details never reach the log."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.redaction import redact

BOUNDED = settings(max_examples=200, deadline=None)


# ------------------------------------------------------------------ phone numbers


@pytest.mark.parametrize(
    "number",
    [
        "07700 900123",
        "07700900123",
        "07700 900 123",
        "+44 7700 900123",
        "+447700900123",
        "0044 7700 900 123",
        "(01432) 260000",
        "01432 260 000",
        "01432-260000",
        "01432 260000",
        "020 7946 0958",
        "+44 (0)1432 260000",
        "+44(0)20 7946 0958",
        "0800 1111",
        "0808 800 5000",
    ],
)
def test_uk_phone_numbers_are_redacted(number: str) -> None:
    """Every common way of writing a UK phone number becomes [phone]."""
    out = redact(f"you can call me on {number} after 3pm")
    assert out == "you can call me on [phone] after 3pm"


def test_several_numbers_in_one_message() -> None:
    """Two numbers in one message are both redacted, and the words between survive."""
    out = redact("mobile 07700 900123 or home (01432) 260000, thanks")
    assert out == "mobile [phone] or home [phone], thanks"


# ------------------------------------------------------------------ emails


@pytest.mark.parametrize(
    "email", ["jo@example.com", "jo.bloggs+send@example.co.uk", "MUM_of_3@mail.example.org"]
)
def test_emails_are_redacted(email: str) -> None:
    """Email addresses become [email]."""
    assert redact(f"email me at {email} please") == "email me at [email] please"


# ------------------------------------------------------------------ postcodes


@pytest.mark.parametrize(
    "postcode",
    ["HR4 0LE", "hr40le", "HR1 2AB", "SW1A 1AA", "M1 1AE", "B33 8TH", "CR2 6XH", "DN55 1PT",
     "dn551pt", "hr4 0le", "Hr1 2Ab"],
)
def test_postcodes_are_redacted(postcode: str) -> None:
    """UK postcodes in any case, with or without the space, become [postcode]."""
    assert redact(f"we live at {postcode}, near Leominster") == "we live at [postcode], near Leominster"


# ------------------------------------------------------------------ NHS numbers


@pytest.mark.parametrize("nhs", ["943 476 5919", "9434765919", "943-476-5919"])
def test_nhs_numbers_are_redacted(nhs: str) -> None:
    """NHS numbers with spaces, dashes or none become [nhs-number]."""
    assert redact(f"his NHS number is {nhs}.") == "his NHS number is [nhs-number]."


# ------------------------------------------------------------------ dates


@pytest.mark.parametrize(
    "text,expected",
    [
        ("she was born 12/03/2015", "she was born [date]"),
        ("dob 12/03/15", "dob [date]"),
        ("dob: 12.3.15", "dob: [date]"),
        ("DOB 12-03-2015", "DOB [date]"),
        ("born on 12 March 2015", "born on [date]"),
        ("born 3rd March 2015 in Hereford", "born [date] in Hereford"),
        ("his birthday is March 3 2015", "his birthday is [date]"),
        ("March 3rd, 2015", "[date]"),
        ("born on 12 March", "born on [date]"),
        ("born in March 2015", "born in [date]"),
        ("date of birth 2015-03-12", "date of birth [date]"),
    ],
)
def test_dates_of_birth_are_redacted(text: str, expected: str) -> None:
    """Dates of birth in numeric and written forms become [date]."""
    assert redact(text) == expected


# ------------------------------------------------------------------ names


@pytest.mark.parametrize(
    "text,expected",
    [
        ("my son is called jack smith and he is 7", "my son is called [name] and he is 7"),
        ("My son is called Jack Smith, he has ADHD", "My son is called [name], he has ADHD"),
        ("my daughter's name is Lily-Mae", "my daughter's name is [name]"),
        ("my daughter\u2019s name is Lily", "my daughter\u2019s name is [name]"),
        ("My granddaughter is named Ava Rose.", "My granddaughter is named [name]."),
        ("our boy is called oliver", "our boy is called [name]"),
        ("he is called Tom and he is 9", "he is called [name] and he is 9"),
        ("she's called ella", "she's called [name]"),
        ("my name is Karen Jones", "my name is [name]"),
        ("I'm called dave", "I'm called [name]"),
        ("Hi, this is Sarah Jones (mum of Tom, 8)", "Hi, this is [name] (mum of [name], 8)"),
        ("My son Jack has autism", "My son [name] has autism"),
        ("my kid is called Zoë", "my kid is called [name]"),
    ],
)
def test_names_after_introductions_are_redacted(text: str, expected: str) -> None:
    """A name after 'my son is called', 'my name is', 'this is' etc. becomes [name]."""
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "This is hard to write.",
        "my son is autistic and in year 7",
        "My son ADHD diagnosis came last week",
        "my son is called in to see the head every week",
    ],
)
def test_ordinary_sentences_keep_their_words(text: str) -> None:
    """Sentences that only look like introductions are not mangled."""
    assert redact(text) == text


def test_over_redaction_is_accepted_for_privacy() -> None:
    """A word after 'is called' is taken for a name even when it is not: privacy wins."""
    assert redact("my daughter is called names at school") == "my daughter is called [name] at school"


# ------------------------------------------------------------------ what must survive


@pytest.mark.parametrize(
    "text",
    [
        "he is in year 7",
        "the plan must be issued within 20 weeks",
        "EHC plans cover ages 0 to 25, aged 16 to 25 for young people",
        "section 42 of the Children and Families Act 2014",
        "the school is 2 miles away",
        "it takes 6 weeks to decide",
        "y7 2nd term, ks2 sats, 2024-25 school year",
        "3.5 hours a day, starting at 10:30",
        "she is 14 and has had 3 exclusions",
        "he was diagnosed in 2019",
        "Children and Families Act 2014, section 37(2)",
        "call 999 now",
        "NHS 111",
    ],
)
def test_ordinary_send_text_is_untouched(text: str) -> None:
    """Ages, years, weeks, sections and distances in SEND questions are left alone."""
    assert redact(text) == text


def test_empty_text() -> None:
    """Empty text stays empty."""
    assert redact("") == ""


# ------------------------------------------------------------------ property-based

_FILLER = st.sampled_from(
    ["my", "son", "is", "in", "year", "7", "and", "needs", "help", "with", "his", "ehcp",
     "please", "call", "on", "or", "text", "after", "3pm", "thanks", "the", "school", "said",
     "20", "weeks", "we", "live", "at", "email", "me", "hi", ",", ".", "?", "(", ")", ":"]
)
_SEPARATORS = st.sampled_from(["", " ", "-", " ", "  ", "."])


@st.composite
def _grouped(draw: st.DrawFn, digits: str) -> str:
    """Digits split into groups with varied separators ("07700 900-123")."""
    cuts = sorted(draw(st.sets(st.integers(1, len(digits) - 1), max_size=3)))
    parts = [digits[a:b] for a, b in zip([0, *cuts], [*cuts, len(digits)])]
    out = parts[0]
    for part in parts[1:]:
        out += draw(_SEPARATORS) + part
    return out


@st.composite
def uk_phone_numbers(draw: st.DrawFn) -> str:
    """UK mobiles and landlines in national or international form, varied spacing."""
    kind = draw(st.sampled_from(["mobile", "geo", "london", "freephone"]))
    if kind == "mobile":
        national = "07" + draw(st.text("0123456789", min_size=9, max_size=9))
    elif kind == "geo":
        national = "01" + draw(st.text("0123456789", min_size=9, max_size=9))
    elif kind == "london":
        national = "020" + draw(st.text("0123456789", min_size=8, max_size=8))
    else:
        national = "0800" + draw(st.text("0123456789", min_size=6, max_size=7))
    style = draw(st.sampled_from(["national", "brackets", "plus", "plus-zero", "double-zero"]))
    if style == "brackets" and kind == "geo":
        return f"({national[:5]}) " + draw(_grouped(national[5:]))
    if style == "national" or style == "brackets":
        return draw(_grouped(national))
    rest = draw(_grouped(national[1:]))
    if style == "plus":
        return "+44" + draw(st.sampled_from(["", " "])) + rest
    if style == "plus-zero":
        return "+44 (0)" + rest
    return "0044" + draw(st.sampled_from(["", " "])) + rest


_LOCAL = st.text("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._+-", min_size=1, max_size=20)
_LABEL = st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=12)


@st.composite
def emails(draw: st.DrawFn) -> str:
    """Plausible email addresses, subdomains and digits included."""
    local = draw(_LOCAL.filter(lambda s: s[0].isalnum() and s[-1].isalnum()))
    labels = draw(st.lists(_LABEL, min_size=1, max_size=3))
    tld = draw(st.sampled_from(["com", "co.uk", "org.uk", "gov.uk", "nhs.net", "net"]))
    return f"{local}@{'.'.join(labels)}.{tld}"


_AREAS = ["HR", "WR", "SW", "M", "B", "CR", "DN", "E", "EC", "W", "NW", "GL", "SY", "LD", "NP"]
_INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"


@st.composite
def postcodes(draw: st.DrawFn) -> str:
    """UK postcodes in all six outward shapes, any case, with or without the space."""
    area = draw(st.sampled_from(_AREAS))
    district = draw(st.sampled_from(["1", "4", "9", "10", "55", "1A", "2W"]))
    inward = draw(st.sampled_from("0123456789")) + draw(
        st.text(_INWARD_LETTERS, min_size=2, max_size=2)
    )
    code = area + district + draw(st.sampled_from(["", " "])) + inward
    return draw(st.sampled_from([code, code.lower(), code.title()]))


@st.composite
def sentence_with(draw: st.DrawFn, item: st.SearchStrategy[str]) -> tuple[str, str]:
    """A random sentence with the personal detail somewhere inside it."""
    before = draw(st.lists(_FILLER, max_size=8))
    after = draw(st.lists(_FILLER, max_size=8))
    secret = draw(item)
    return " ".join([*before, secret, *after]), secret


def _assert_gone(text: str, secret: str) -> None:
    out = redact(text)
    assert secret not in out, out
    assert not re.search(r"\d{10,}", out), out
    assert not re.search(r"\d(?:[ \-.()]{0,2}\d){9,}", out), out


@BOUNDED
@given(sentence_with(uk_phone_numbers()))
def test_property_phone_numbers_never_survive(case: tuple[str, str]) -> None:
    """No generated UK phone number survives redaction, whatever its format."""
    _assert_gone(*case)


@BOUNDED
@given(sentence_with(emails()))
def test_property_emails_never_survive(case: tuple[str, str]) -> None:
    """No generated email address survives redaction."""
    _assert_gone(*case)


@BOUNDED
@given(sentence_with(postcodes()))
def test_property_postcodes_never_survive(case: tuple[str, str]) -> None:
    """No generated postcode survives redaction, in any case or spacing."""
    _assert_gone(*case)


@BOUNDED
@given(st.text(max_size=200))
def test_property_arbitrary_text_never_crashes(text: str) -> None:
    """Any unicode text is redacted without an error and without a long digit run left."""
    out = redact(text)
    assert isinstance(out, str)
    assert not re.search(r"(?<!\d)[0-9]{10,}", out) or not text.isascii()


# ------------------------------------------------------------------ names in the ways parents write them (F04)

from bot.first_names import AMBIGUOUS, FIRST_NAMES  # noqa: E402

_NAMES = sorted(n for n in FIRST_NAMES if n not in AMBIGUOUS and n.isalpha() and len(n) > 2)
_RELATIONS = ["son", "daughter", "child", "boy", "girl", "grandson", "granddaughter", "youngest", "eldest"]
_ADJECTIVES = ["", "autistic ", "little ", "7 year old ", "disabled "]
_TEMPLATES = [  # {name} as the parent would type it, {rel} the relation, {adj} an optional adjective
    ("my {adj}{rel} {name} has adhd and struggles at school", "any"),
    ("My {adj}{rel} {name} needs help with school transport", "any"),
    ("my {rel} is {name} and he is waiting for camhs", "any"),
    ("{Name} is my {rel} and she has an ehcp", "capital"),
    ("My {rel}, {Name}, has autism. What support is there?", "capital"),
    ("Hi I'm {Name} {Surname}, mum of two, how do I get an ehcp", "capital"),
    ("{Name} has adhd, can the school do more?", "capital"),
    ("our {rel} is called {name} and is in year 4", "any"),
]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(_TEMPLATES), st.sampled_from(_NAMES), st.sampled_from(_RELATIONS),
       st.sampled_from(_ADJECTIVES), st.booleans(), st.sampled_from(["Smith", "Jones", "Price", "Powell"]))
def test_property_names_never_survive(template: tuple[str, str], name: str, rel: str, adj: str, capital: bool,
                                      surname: str) -> None:
    """Generated wordings (relation words, apposition, "X is my son", "I'm", a name at the start) lose the name."""
    text, case = template
    typed = name.capitalize() if capital or case == "capital" else name
    message = text.format(name=typed, Name=name.capitalize(), rel=rel, adj=adj, Surname=surname)
    out = redact(message)
    assert not re.search(rf"\b{re.escape(name)}\b", out, re.IGNORECASE), (message, out)
    if "{Surname}" in text:
        assert surname not in out, (message, out)
