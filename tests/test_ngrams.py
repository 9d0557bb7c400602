"""The risk model's n-gram rows are exactly sklearn's TfidfVectorizer rows, read faster (bot/ngrams.py)."""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from bot.ngrams import Ngrams, analyser
from bot.risk import CHAR_NGRAMS, WORD_NGRAMS, load_risk_model

CORPUS = [
    "My son is autistic and the school keeps sending him home",
    "how do I ask for an EHC needs assessment?",
    "she self-harmed two years ago, doing well now, can she get counselling",
    "he's hitting me right now, he's got a knife",
    "Who do I talk to about adaptations to the house... and who pays?",
    "the the the school school",
    "Ünïcödé names: Łucja, İrem, Zoë; straße",
]
UNSEEN = [
    "",
    "   ",
    "school school school school, school!",
    "words the vocabulary has never met: zygote quixotic",
    "a, b; c: d!!! e?\n\nf\tg",
    "x" * 300,
    "ŁÓDŹ İSTANBUL zoë",
    "he's hitting me right now",
]


def _rows(ngrams: Ngrams, texts: list[str]) -> np.ndarray:
    out = np.zeros((len(texts), len(ngrams.vocabulary)))
    for i, text in enumerate(texts):
        ids, values = ngrams.row(text)
        out[i, ids] = values
    return out


@pytest.mark.parametrize("settings", [WORD_NGRAMS, CHAR_NGRAMS], ids=["words", "chars"])
def test_rows_are_the_vectorizers_rows(settings: dict) -> None:
    """Counts, sublinear term frequency, idf and unit length as sklearn computes them, for texts
    with repeats, punctuation, other alphabets, nothing known or nothing at all."""
    vectorizer = TfidfVectorizer(**settings).fit(CORPUS)
    ngrams = Ngrams.from_vectorizer(vectorizer, settings)
    texts = CORPUS + UNSEEN
    np.testing.assert_allclose(_rows(ngrams, texts), vectorizer.transform(texts).toarray(), rtol=0, atol=1e-12)


@pytest.mark.parametrize("settings", [WORD_NGRAMS, CHAR_NGRAMS], ids=["words", "chars"])
def test_products_are_the_rows_times_the_weights(settings: dict) -> None:
    vectorizer = TfidfVectorizer(**settings).fit(CORPUS)
    ngrams = Ngrams.from_vectorizer(vectorizer, settings)
    weights = np.random.default_rng(0).normal(size=(5, len(ngrams.vocabulary))).astype(np.float32)
    texts = CORPUS + UNSEEN
    expected = vectorizer.transform(texts) @ weights.T
    np.testing.assert_allclose(ngrams.products(texts, weights), expected, rtol=1e-6, atol=1e-6)
    # A second reading (the words' n-grams now kept) gives the same numbers.
    np.testing.assert_allclose(ngrams.products(texts, weights), expected, rtol=1e-6, atol=1e-6)


def test_the_bundled_model_reads_as_its_vectorizer_did() -> None:
    """The shipped vocabulary and idf, read both ways, give the same logits."""
    model = load_risk_model()
    texts = CORPUS + UNSEEN
    for ngrams, weights in ((model.words, model.word_weights), (model.chars, model.char_weights)):
        vectorizer = TfidfVectorizer(vocabulary={t: i for i, t in enumerate(ngrams.vocabulary)}, **ngrams.settings)
        vectorizer.idf_ = ngrams.idf
        np.testing.assert_allclose(ngrams.products(texts, weights), vectorizer.transform(texts) @ weights.T,
                                   rtol=1e-6, atol=1e-6)


def test_settings_it_cannot_reproduce_are_refused() -> None:
    with pytest.raises(ValueError):
        Ngrams({"analyzer": "word", "sublinear_tf": False}, ["a"], np.ones(1))
    with pytest.raises(ValueError):
        Ngrams({**WORD_NGRAMS, "norm": "l1"}, ["a"], np.ones(1))


@lru_cache(maxsize=1)  # read once for the five settings below
def _training_messages() -> tuple[str, ...]:
    folder = Path(__file__).resolve().parents[1] / "training" / "crisis"
    return tuple(json.loads(line)["q"] for path in sorted(folder.glob("*.jsonl"))
                 for line in path.read_text(encoding="utf-8").splitlines() if line.strip())


@pytest.mark.parametrize("settings", [WORD_NGRAMS, CHAR_NGRAMS, {"analyzer": "word"},
                                      {"analyzer": "char_wb", "ngram_range": (3, 3)},
                                      {"analyzer": "word", "ngram_range": (2, 3)}],
                         ids=["words", "chars", "unigrams", "char-trigrams", "word-2-3"])
def test_analyser_lists_what_the_vectorizer_lists(settings: dict) -> None:
    """The bot's own analyzers (it never imports sklearn) give sklearn's n-grams, in its order, for every
    training message and the awkward texts above."""
    expected = TfidfVectorizer(**settings).build_analyzer()
    ours = analyser(settings)
    texts = CORPUS + UNSEEN + ["a", "ab", "  two   spaces\u00a0and\u2003others\x0b ", "İİ ǅ ß", *_training_messages()]
    assert len(texts) > 10_000
    for text in texts:
        assert ours(text) == expected(text), text


def test_analyser_refuses_settings_it_does_not_reproduce() -> None:
    for settings in ({"analyzer": "char"}, {"analyzer": "word", "stop_words": "english"},
                     {"analyzer": "word", "lowercase": False}, {"analyzer": "word", "strip_accents": "unicode"}):
        with pytest.raises(ValueError):
            analyser(settings)
