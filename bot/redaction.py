"""Redaction: strip personal details from a message before it is written to the log.

Messages come from families of disabled children (special category data), so the
log keeps the question, not the person: phone numbers, emails, postcodes, NHS and
National Insurance numbers, street addresses, social media handles, dates of birth and
names become placeholders such as "[phone]".

Names are found where parents write them: after an introduction ("is called", "my name
is"), after a relation word ("my son Jack", "my autistic son jack", "My daughter, Emily,",
"my son is Jack"), before one ("Jack is my son"), after "I'm", and any common first name
written with a capital ("Jack has ADHD"; bot/first_names.py). What cannot be caught
reliably (a rare name in lower case with nothing around it, a number spelt out in words,
a postcode written one letter at a time) is said plainly in the privacy text.

Privacy wins over precision: a public helpline number is redacted too. But the
patterns are anchored on real formats (UK dialling codes, the real list of
postcode areas) so ordinary SEND text such as "year 7", "20 weeks",
"aged 16 to 25" or "section 42" stays readable for the editors.
"""

from __future__ import annotations

import re

from .first_names import AMBIGUOUS, FIRST_NAMES

# ---------------------------------------------------------------- emails

# Bounded parts (RFC 5321: 64 before the @): unbounded, one 100,000-letter word took seconds.
_EMAIL_RE = re.compile(r"(?<![\w.+'-])[\w.+'-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63}){1,8}", re.UNICODE)

# ---------------------------------------------------------------- phone numbers

# A separator between digits: up to two of space, dash, dot or brackets,
# covering "07700 900123", "01432-260000", "(01432) 260000", "0044 7700 900 123".
_SEP = r"[ \t\-.()]{0,2}"
_PHONE_RE = re.compile(
    rf"""
    (?<![\w+])                                  # not glued to a word or another number
    (?:
        (?:\+|00){_SEP}44{_SEP}(?:\(0\){_SEP})? # +44 / 0044, optional (0)
        \d(?:{_SEP}\d){{8,9}}                   # 9 or 10 national digits
      |
        \(?0(?:{_SEP}\d){{7,10}}                # 0 + 7 to 10 digits (0800 1111 to 11 digits)
    )
    (?!\d)
    """,
    re.VERBOSE,
)

# NHS number: 10 digits, usually 3-3-4 ("943 476 5919"); phone numbers are gone first.
_NHS_RE = re.compile(r"(?<![\w+])\d{3}[ \-]?\d{3}[ \-]?\d{4}(?!\d)")
# Safety net: any long digit run left (card numbers, odd formats) is personal enough.
_LONG_DIGITS_RE = re.compile(r"(?<!\w)\d(?:[ \-]?\d){9,}(?!\d)")

# ---------------------------------------------------------------- postcodes

# The real UK postcode areas, so "y7 2nd" or "ks2 3rd" are not taken for postcodes.
_AREAS = (
    "AB AL B BA BB BD BF BH BL BN BR BS BT BX CA CB CF CH CM CO CR CT CV CW DA DD DE DG DH "
    "DL DN DT DY E EC EH EN EX FK FY G GL GU GY HA HD HG HP HR HS HU HX IG IM IP IV JE KA "
    "KT KW KY L LA LD LE LL LN LS LU M ME MK ML N NE NG NN NP NR NW OL OX PA PE PH PL PO "
    "PR RG RH RM S SA SE SG SK SL SM SN SO SP SR SS ST SW SY TA TD TF TN TQ TR TS TW UB W "
    "WA WC WD WF WN WR WS WV YO ZE"
).split()
_AREA_ALT = "|".join(sorted(_AREAS, key=len, reverse=True))
_POSTCODE_RE = re.compile(
    rf"(?<![A-Za-z0-9])(?:{_AREA_ALT})\d[A-Z\d]?[ \t]*\d[ABD-HJLNP-UW-Z]{{2}}(?![A-Za-z0-9])"
    r"|(?<![A-Za-z0-9])GIR[ \t]*0AA(?![A-Za-z0-9])",
    re.IGNORECASE,
)

# ---------------------------------------------------------------- other identifiers

# National Insurance number: two letters, six digits, a letter A-D ("QQ 12 34 56 C").
_NI_RE = re.compile(r"(?<![A-Za-z0-9])[A-Za-z]{2}[ \t]?\d{2}[ \t]?\d{2}[ \t]?\d{2}[ \t]?[A-Da-d](?![A-Za-z0-9])")
_STREET_WORDS = (
    "road|rd|street|st|avenue|ave|close|lane|ln|drive|dr|way|crescent|court|ct|place|pl|gardens|grove|terrace"
    "|walk|row|square|mews|park|hill|green|view|rise|meadows?|fields|croft|parade|estate|orchard|wharf"
)
# "12 Acacia Avenue", "4a Church Road": a house number, one to three words, a street word.
_STREET_RE = re.compile(
    rf"(?<![\w/.-])\d{{1,4}}[a-zA-Z]?,?[ \t]+(?:[A-Za-z'-]+[ \t]+){{1,3}}(?:{_STREET_WORDS})\b\.?", re.IGNORECASE)
# @handles (emails are gone by now, so an @ left starts a handle).
_HANDLE_RE = re.compile(r"(?<![\w@])@[A-Za-z0-9_](?:[A-Za-z0-9_.]{0,29}[A-Za-z0-9_])?")
# "jane dot doe at example dot com"
_SPOKEN_EMAIL_RE = re.compile(
    r"\b[\w+-]{1,64}(?:\s+dot\s+[\w+-]{1,64}){0,4}\s+(?:at|\(at\)|\[at\])\s+[\w-]{1,63}(?:\s+dot\s+[\w-]{1,63}){0,4}"
    r"\s+dot\s+(?:com|co|uk|org|net|gov|nhs|me|io|info)\b", re.IGNORECASE)
# A phone number typed with the letter O for zero ("O77OO 9OO555").
_O_FOR_ZERO_RE = re.compile(r"(?<![\w+])[0Oo](?:[ \t\-]?[0-9Oo]){9,10}(?![\w])")


def _o_for_zero(match: re.Match[str]) -> str:
    digits = match.group().translate(str.maketrans("Oo", "00"))
    return "[phone]" if _PHONE_RE.fullmatch(digits) and sum(c.isdigit() for c in match.group()) >= 4 else match.group()


# ---------------------------------------------------------------- dates

_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_DAY = r"(?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?"
_YEAR = r"(?:19|20)\d\d"
_DATE_RES = [
    # 12/03/2015, 12.3.15, 12-03-2015, 2015-03-12
    re.compile(r"(?<![\w/.-])\d{1,2}[/.-]\d{1,2}[/.-](?:\d{4}|\d{2})(?![\w/-]|\.\d)"),
    re.compile(r"(?<![\w/.-])(?:19|20)\d\d[/.-]\d{1,2}[/.-]\d{1,2}(?![\w/-]|\.\d)"),
    # 3rd March 2015, 3 of March, 2015
    re.compile(rf"\b{_DAY}(?:\s+of)?\s+{_MONTH},?\s+{_YEAR}\b", re.IGNORECASE),
    # March 3 2015, March 3rd, 2015
    re.compile(rf"\b{_MONTH}\s+{_DAY},?\s+{_YEAR}\b", re.IGNORECASE),
]
# Without a year a date is only personal next to a birth word: "born on 12 March".
_ORDINAL = (
    r"(?:(?:twenty|thirty)[- ]?)?(?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth)"
    r"|tenth|eleventh|twelfth|thirteenth|fourteenth|fifteenth|sixteenth|seventeenth|eighteenth|nineteenth"
    r"|twentieth|thirtieth"
)
_BIRTH_DATE_RE = re.compile(
    rf"\b(born(?:\s+on|\s+in)?|d\.?o\.?b\.?:?|date of birth:?|birthday(?:\s+is)?(?:\s+on)?)"
    rf"\s+(?:the\s+)?(?:(?:{_DAY}|{_ORDINAL})(?:\s+of)?\s+{_MONTH}|{_MONTH}\s+(?:the\s+)?(?:{_DAY}|{_ORDINAL})"
    rf"|{_MONTH}\s+{_YEAR}|{_YEAR})\b",
    re.IGNORECASE,
)

# ---------------------------------------------------------------- names

# Words that end a name, so "called jack and he is 7" keeps "and he is 7".
_NOT_NAME = frozenset(
    """a an and or but he she they him her his hers them their it its is was are were be been
    has have had who which that this with without in on at to from for of by as so
    because cos if when then also too very really just still only now aged age years year
    yr yo old months old not no yes i im me my we our you your its
    autistic autism adhd asd sen send ehcp ehc plan school nursery college diagnosis
    please thanks thank hi hello mum dad mother father parent carer here
    deaf blind disabled nonverbal non-verbal dyslexic dyspraxic epileptic poorly ill unwell struggling
    diagnosed waiting starting going getting being doing having now currently almost nearly over under
    who what where why how can could will would should may might must does did do""".split()
)
_LOWER_LEAD_SKIP = frozenset("will may can art dot bill mark hope pat sue".split())  # verbs or words after "my son"

_KID = (
    r"(?:son|daughter|child|boy|girl|kid|grandson|granddaughter|stepson|stepdaughter"
    r"|step-son|step-daughter|baby|little one|youngest|eldest|oldest|middle one|twins?"
    r"|foster (?:son|daughter|child))"
)
# The words that introduce a name; the name itself is matched and checked in code.
_NAME_LEAD_RE = re.compile(
    rf"""
    (?:
        \b(?:my|our|his|her|their)\s+{_KID}(?:['\u2019]s\s+name\s+is|\s+is\s+called|\s+called
            |\s+named|\s+is\s+named|\s+goes\s+by)
      | \b(?:he|she|they)(?:['\u2019]s|\s+is|\s+are|['\u2019]re)\s+(?:called|named)
      | \b(?:his|her|their|my)\s+name\s+is
      | \b(?:i['\u2019]?m|i\s+am)\s+called
      | \bcall\s+me
    )
    \s+
    """,
    re.IGNORECASE | re.VERBOSE,
)
# "my son Jack has..." and "mum of Tom": only a capitalised word counts as a name here.
_CAP_LEAD_RE = re.compile(
    rf"\b(?:[Mm]y|[Oo]ur)\s+{_KID}\s+(?=[A-Z])|\b(?:[Mm]um|[Dd]ad|[Mm]other|[Ff]ather|[Nn]an|[Gg]ran)\s+(?:of|to)\s+(?=[A-Z])"
)
_THIS_IS_RE = re.compile(
    r"\b[Tt]his\s+is\s+(?=[A-Z][a-z]+(?:\s+[A-Z][a-z]+)?\s*(?:,|\(|-|$|\s+(?:mum|dad|mother|father|parent|carer|nan|gran|here|from)\b))"
)
_WORD_RE = re.compile(r"[^\W\d_](?:[^\W\d_]|['\u2019-])*")  # unicode letters: "Zoë", "Siân"
_GAP_RE = re.compile(r"[ \t]+")
_ADJECTIVES = r"(?:[\w'-]{1,30}\s+){0,3}?"  # "my autistic son", "my 7 year old daughter"
# "my son jack", "my autistic son Jack", "My daughter, Emily,", "my son is Jack": the word after is checked in code.
_RELATION_LEAD_RE = re.compile(
    rf"\b(?:my|our)\s+{_ADJECTIVES}{_KID}(?:\s*,\s*|\s+is\s+|\s+)", re.IGNORECASE)
# "Jack is my son", "jack is my youngest"
_IS_MY_RE = re.compile(rf"\b([^\W\d_][\w'\u2019-]{{0,40}})(?=\s+is\s+(?:my|our)\s+{_ADJECTIVES}{_KID}\b)", re.IGNORECASE)
_I_AM_RE = re.compile(r"\b(?:i['\u2019]?m|i\s+am)\s+", re.IGNORECASE)
_TITLE_BEFORE_RE = re.compile(r"(?:\bSt\.?|\bSaint|\bQueen|\bKing|\bPrince|\bPrincess|\bLady|\bSir)\s+$")


def _is_name_word(token: str) -> bool:
    bare = re.sub(r"['\u2019]s$", "", token).lower()
    # "ADHD", "EHCP": an acronym, not a name
    return bare not in _NOT_NAME and not (token.isupper() and len(token) > 1)


def _name_span(text: str, start: int, capitals_only: bool) -> int:
    """End of the name starting at `start` (up to 3 words), or `start` if there is none.

    Capitalised words are taken while they last. Without capitals (people text in
    lower case) the first word and at most one more ("jack smith") are taken.
    """
    end = start
    words: list[str] = []
    while len(words) < 3:
        gap = _GAP_RE.match(text, end) if words else None
        if words and gap is None:
            break
        word = _WORD_RE.match(text, gap.end() if gap else end)
        if word is None or not _is_name_word(word.group()):
            break
        token = word.group()
        if not token[0].isupper() and (capitals_only or len(words) >= 2 or (words and words[0][0].isupper())):
            break
        words.append(token)
        end = word.end()
    return end


def _first_name_at(text: str, start: int, capitals: bool = True) -> int:
    """End of a name starting at `start` when its first word is a known first name, else `start`.

    Lower case counts only with `capitals` False (after a relation word or "I'm"); a
    capitalised surname after it is taken too ("Sarah Jones").
    """
    word = _WORD_RE.match(text, start)
    if word is None:
        return start
    token = word.group()
    bare = re.sub(r"['\u2019]s$", "", token).lower()
    if bare not in FIRST_NAMES or bare in _LOWER_LEAD_SKIP or (capitals and not token[0].isupper()):
        return start
    return _name_span(text, start, capitals_only=True) if token[0].isupper() else word.end()


def _relation_names(text: str) -> list[tuple[int, int]]:
    spans = []
    for match in _RELATION_LEAD_RE.finditer(text):
        start = match.end()
        end = _name_span(text, start, capitals_only=True)  # a capitalised word that is not a known non-name
        if end == start:
            end = _first_name_at(text, start, capitals=False)  # "my son jack"
        if end > start:
            spans.append((start, end))
    return spans


def _is_my_names(text: str) -> list[tuple[int, int]]:
    spans = []
    for match in _IS_MY_RE.finditer(text):
        token = match.group(1)
        if _is_name_word(token) and (token[0].isupper() or token.lower() in FIRST_NAMES):
            spans.append((match.start(1), match.end(1)))
    return spans


def _i_am_names(text: str) -> list[tuple[int, int]]:
    spans = []
    for match in _I_AM_RE.finditer(text):
        end = _first_name_at(text, match.end(), capitals=False)
        if end > match.end():
            spans.append((match.end(), end))
    return spans


def _known_names(text: str) -> list[tuple[int, int]]:
    """A common first name with a capital, anywhere ("Jack has ADHD", "Jack Smith at Whitecross")."""
    spans = []
    for word in _WORD_RE.finditer(text):
        token = word.group()
        bare = re.sub(r"['\u2019]s$", "", token).lower()
        if (not token[0].isupper() or token.isupper() or bare not in FIRST_NAMES or bare in AMBIGUOUS
                or _TITLE_BEFORE_RE.search(text, max(0, word.start() - 12), word.start())):
            continue
        spans.append((word.start(), _name_span(text, word.start(), capitals_only=True)))
    return spans


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(s for s in spans if s[1] > s[0]):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _redact_names(text: str) -> str:
    spans: list[tuple[int, int]] = []
    for lead, capitals_only in ((_NAME_LEAD_RE, False), (_CAP_LEAD_RE, True), (_THIS_IS_RE, True)):
        for match in lead.finditer(text):
            end = _name_span(text, match.end(), capitals_only)
            if end > match.end():
                spans.append((match.end(), end))
    spans += _relation_names(text) + _is_my_names(text) + _i_am_names(text) + _known_names(text)
    for start, end in reversed(_merge(spans)):
        text = text[:start] + "[name]" + text[end:]
    return text


# ---------------------------------------------------------------- public


def redact(text: str) -> str:
    """The text with personal details replaced by placeholders like "[phone]"."""
    if not text:
        return text
    text = _EMAIL_RE.sub("[email]", text)  # first: emails can hold digits and names
    text = _SPOKEN_EMAIL_RE.sub("[email]", text)
    text = _HANDLE_RE.sub("[handle]", text)
    text = _NI_RE.sub("[ni-number]", text)  # before dates and phones take its digits
    for date_re in _DATE_RES:  # before phones: "12-03-2015" is not a number to dial
        text = date_re.sub("[date]", text)
    text = _BIRTH_DATE_RE.sub(lambda m: f"{m.group(1)} [date]", text)
    text = _PHONE_RE.sub("[phone]", text)
    text = _O_FOR_ZERO_RE.sub(_o_for_zero, text)
    text = _NHS_RE.sub("[nhs-number]", text)
    text = _LONG_DIGITS_RE.sub("[number]", text)
    text = _POSTCODE_RE.sub("[postcode]", text)
    text = _STREET_RE.sub("[address]", text)
    return _redact_names(text)
