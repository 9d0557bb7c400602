"""The risk model's word and character n-grams: TF-IDF rows as sklearn's TfidfVectorizer makes them.

The vectorizer counts every n-gram of every text through Python dictionaries and then builds,
sorts and multiplies sparse matrices: for a long message read whole and clause by clause, that was
the largest part of the reply's time on the caller's thread (about 7 ms of a 1,600-character
story's). Here the same numbers are reached with less work:
- a character n-gram of `char_wb` never crosses a space, so a word's n-grams depend on the word
  alone: they are worked out once per word and kept (a message's words come again in its
  clauses, and everyday words in every message);
- a row's features are gathered from the weights by index, with no sparse matrix.
The training script fits the vectorizer; this reads with its vocabulary and weights
(tests/test_ngrams.py checks the rows are the vectorizer's own).

The bot itself never imports scikit-learn: importing any part of it loads scipy.stats and the rest of
the package, 64 MB of a process whose budget is 400 (a restarted bot peaked at 386 MB with it). So the
vectorizer's analyzers, a regular expression and a loop each, are reproduced below for the settings the
risk model uses, and tests/test_ngrams.py checks them against sklearn's own on the crisis training messages.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np

if TYPE_CHECKING:
    from sklearn.feature_extraction.text import TfidfVectorizer

# Words whose character n-grams are kept: a few thousand cover everyday messages; about 200 bytes
# each, so at most about 2 MB.
_WORDS_KEPT = 10_000
_NO_IDS = np.zeros(0, dtype=np.int32)
# TfidfVectorizer's defaults: words of two or more word characters; runs of white space as one.
_TOKEN = re.compile(r"(?u)\b\w\w+\b")
_WHITE_SPACES = re.compile(r"\s\s+")
# The settings the analyzers below reproduce; any other (stop words, accents, a token pattern) needs
# the vectorizer itself.
_ANALYZER_SETTINGS = {"analyzer", "ngram_range", "sublinear_tf", "norm", "use_idf", "smooth_idf", "dtype"}


def analyser(settings: dict) -> Callable[[str], list[str]]:
    """The n-grams of a text exactly as TfidfVectorizer(**settings).build_analyzer() lists them, for a
    word or char_wb analyzer with the default preprocessing (lower case, no accent stripping)."""
    if not settings.keys() <= _ANALYZER_SETTINGS:
        raise ValueError(f"unsupported analyzer settings: {settings}")
    low, high = settings.get("ngram_range", (1, 1))
    if settings.get("analyzer", "word") == "word":
        return lambda text: _word_ngrams(_TOKEN.findall(text.lower()), low, high)
    if settings["analyzer"] == "char_wb":
        return lambda text: _char_wb_ngrams(text.lower(), low, high)
    raise ValueError(f"unsupported analyzer: {settings['analyzer']}")


def _word_ngrams(tokens: list[str], low: int, high: int) -> list[str]:
    """Every run of low to high tokens, shortest first, joined by spaces (sklearn's order)."""
    grams = list(tokens) if low == 1 else []
    for n in range(max(low, 2), min(high, len(tokens)) + 1):
        grams.extend(" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
    return grams


def _char_wb_ngrams(text: str, low: int, high: int) -> list[str]:
    """Each word padded with a space either side, then its runs of low to high characters; a word
    shorter than n is counted once, whole, and not again for longer n (sklearn's order and counts)."""
    grams: list[str] = []
    for word in _WHITE_SPACES.sub(" ", text).split():
        padded = f" {word} "
        for n in range(low, high + 1):
            grams.extend(padded[i : i + n] for i in range(max(len(padded) - n + 1, 1)))
            if len(padded) <= n:
                break
    return grams


@dataclass(frozen=True, eq=False)
class Ngrams:
    """TF-IDF n-gram rows (sublinear term frequency, inverse document frequency, unit length) over
    a fixed vocabulary."""

    settings: dict
    vocabulary: Sequence[str]  # the feature names, in column order
    idf: np.ndarray  # one weight per feature
    _index: dict[str, int] = field(init=False, repr=False)
    _analyse: Callable[[str], list[str]] = field(init=False, repr=False)
    _idf: np.ndarray = field(init=False, repr=False)
    _word_ids: Callable[[str], np.ndarray] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # Only what these rows reproduce: a different setting would need the vectorizer itself.
        if not self.settings.get("sublinear_tf") or self.settings.get("norm", "l2") != "l2" \
                or not self.settings.get("use_idf", True) or self.settings.get("binary"):
            raise ValueError(f"unsupported n-gram settings: {self.settings}")
        object.__setattr__(self, "_index", {term: i for i, term in enumerate(self.vocabulary)})
        object.__setattr__(self, "_analyse", analyser(self.settings))
        object.__setattr__(self, "_idf", np.asarray(self.idf, dtype=np.float64))
        object.__setattr__(self, "_word_ids", lru_cache(maxsize=_WORDS_KEPT)(self._ids_of))

    def _ids_of(self, text: str) -> np.ndarray:
        index = self._index
        return np.array([index[g] for g in self._analyse(text) if g in index], dtype=np.int32)

    def _ids(self, text: str) -> np.ndarray:
        """The vocabulary ids of a text's n-grams, once per occurrence."""
        if self.settings["analyzer"] != "char_wb":
            return self._ids_of(text)
        # char_wb pads each whitespace-separated word and never reads across words.
        found = [self._word_ids(word) for word in text.split()]
        return np.concatenate(found) if found else _NO_IDS

    def row(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """(feature ids, values): the text's non-zero TF-IDF features, as the vectorizer's row."""
        ids = self._ids(text)
        if not len(ids):
            return _NO_IDS, np.zeros(0)
        ids, counts = np.unique(ids, return_counts=True)
        values = (1.0 + np.log(counts)) * self._idf[ids]
        return ids, values / np.sqrt(np.dot(values, values))

    def products(self, texts: Sequence[str], weights: np.ndarray) -> np.ndarray:
        """Each text's row times the weights ((k, features) -> (texts, k)): the logits these
        n-grams add, without building the rows as a matrix."""
        out = np.zeros((len(texts), weights.shape[0]))
        for i, text in enumerate(texts):
            ids, values = self.row(text)
            if len(ids):
                out[i] = weights[:, ids] @ values
        return out

    @classmethod
    def from_vectorizer(cls, vectorizer: TfidfVectorizer, settings: dict) -> Ngrams:
        """The n-grams of a fitted vectorizer (the training script's)."""
        return cls(settings, vectorizer.get_feature_names_out().tolist(), vectorizer.idf_)
