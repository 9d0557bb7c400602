"""Text normalisation shared by the matcher, small talk and the editors' tools.

Parents write "EHCP", "echp", "E.H.C. plan" and "education health and care plan" for
the same thing. Normalising case, unicode, punctuation and then the lexicon's
variants to one canonical word lets the matcher compare like with like.
"""
from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from functools import lru_cache

import snowballstemmer

_APOSTROPHES = re.compile(r"['\u2018\u2019\u02bc`\u00b4]")
_NOT_WORD = re.compile(r"[^0-9a-z]+")
_DOTTED = re.compile(r"\b(?:[a-z]\.){2,}")  # "e.h.c." -> "ehc"
_STEMMER = snowballstemmer.stemmer("english")

# Words that carry no meaning for matching. Negations stay: "no diagnosis" matters.
STOPWORDS = frozenset(
    """a an the and or but if so of to in on at by for with from into about as than then
    i im ive id me my mine we were our ours us you your youre u ur he hes him his she shes her hers
    they theyre them their it its this that these those there here
    is are was be been being am do does did doing done have has had having
    will would shall should can could may might must get got getting gets
    what whats which who whom whose when where why how
    please hi hello thanks thank pls plz just really very also any some
    know want wanted need needs needed tell find out up go going one""".split()
)


def fold(text: str) -> str:
    """Lower-case, NFKC, accents off, apostrophes dropped, punctuation to spaces."""
    if text.isascii():  # most messages: nothing to normalise, and this runs on every phrasing at load
        text = text.lower()
    else:
        text = unicodedata.normalize("NFKC", text).lower()
        text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    text = _DOTTED.sub(lambda m: m.group(0).replace(".", ""), text)
    text = _APOSTROPHES.sub("", text)
    return _NOT_WORD.sub(" ", text).strip()


def words(text: str) -> list[str]:
    return fold(text).split()


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    return _STEMMER.stemWord(word)


class Lexicon:
    """Replaces variant words and phrases by their canonical word, longest phrase first."""

    def __init__(self, variants: dict[str, str]) -> None:
        self._phrases: dict[tuple[str, ...], str] = {}
        for variant, word in variants.items():
            key = tuple(fold(variant).split())
            if key:
                self._phrases[key] = fold(word).replace(" ", "")
        # The lengths of the phrases each word starts, longest first: most words start none, so
        # a text costs one dictionary lookup a word (this runs on every phrasing at load).
        sizes: dict[str, set[int]] = defaultdict(set)
        for key in self._phrases:
            sizes[key[0]].add(len(key))
        self._sizes = {first: tuple(sorted(found, reverse=True)) for first, found in sizes.items()}

    def apply(self, tokens: list[str]) -> list[str]:
        out: list[str] = []
        i = 0
        while i < len(tokens):
            for size in self._sizes.get(tokens[i], ()):
                word = self._phrases.get(tuple(tokens[i : i + size])) if i + size <= len(tokens) else None
                if word is not None:
                    out.append(word)
                    i += size
                    break
            else:
                out.append(tokens[i])
                i += 1
        return out

    def canonical_words(self) -> set[str]:
        return set(self._phrases.values())


# How a sentence that asks something starts, when it has no question mark (text-speak rarely does).
_ASKS = re.compile(
    r"^(?:\W*(?:so|and|but|also|ok|anyway|basically|please|pls|hi|hello|hiya)\W+)*"
    r"(?:how|what|whats|who|whom|where|when|which|why|can|cant|could|would|will|should|do|does|did|is|isnt|are|"
    r"arent|am|have|has|any|anyone|i\s+(?:need|want|would\s+like|wonder)|id\s+like|were\s+looking|"
    r"we\s+need|wondering|please\s+help|help)\b",
    re.IGNORECASE,
)


def asks_something(sentence: str) -> bool:
    """Whether a sentence asks (a question mark, or a question's opening words)."""
    stripped = sentence.strip()
    return stripped.endswith("?") or bool(_ASKS.match(stripped))
