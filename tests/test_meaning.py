"""The classifier over sentence vectors (bot/meaning.py): trained on example questions, kept by checksum."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bot.cache import cache_dir
from bot.meaning import MeaningModel
from bot.semantic import default_encoder

QUESTIONS = {
    0: ["how do I get a taxi to school for my autistic son", "school bus for a child with SEND",
        "who pays for transport to a special school"],
    1: ["can I get money for a disabled child", "how do I claim DLA for my daughter",
        "benefits for a family with a disabled child"],
    2: ["my son cannot sleep at night", "she wakes every hour, help with sleep",
        "sleep clinic for a child with ADHD"],
}


def training() -> tuple[np.ndarray, np.ndarray]:
    texts = [q for entry in QUESTIONS.values() for q in entry]
    owners = np.array([entry for entry, qs in QUESTIONS.items() for _ in qs], dtype=np.int32)
    return default_encoder().embed(texts), owners


def test_a_paraphrase_with_no_shared_word_finds_its_entry() -> None:
    vectors, owners = training()
    model = MeaningModel.trained(vectors, owners, entries=4)
    asked = default_encoder().embed(["he is up till 3am every night and we are exhausted",
                                     "is there any financial help for parents of kids with disabilities"])
    probabilities = model.probabilities(asked)
    assert probabilities.shape == (2, 4) and np.allclose(probabilities.sum(axis=1), 1.0)
    assert list(probabilities.argmax(axis=1)) == [2, 1]
    assert probabilities[:, 3].max() < 1e-6, "an entry with no phrasings is never meant"


def test_one_entry_is_nothing_to_tell_apart() -> None:
    vectors, owners = training()
    assert MeaningModel.trained(vectors[:3], owners[:3], entries=3) is None


def test_the_trained_weights_are_kept_and_read_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIGNPOST_CACHE_DIR", str(tmp_path))
    vectors, owners = training()
    first = MeaningModel.cached(vectors, owners, entries=3)
    saved = list(cache_dir().glob("meaning-*.npz"))
    assert len(saved) == 1
    again = MeaningModel.cached(vectors, owners, entries=3)
    assert np.array_equal(first.weights, again.weights) and np.array_equal(first.bias, again.bias)
    other = MeaningModel.cached(vectors, owners[::-1].copy(), entries=3)  # other labels, another file
    assert len(list(cache_dir().glob("meaning-*.npz"))) == 2 and not np.array_equal(other.weights, first.weights)
