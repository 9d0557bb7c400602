"""Which entry a message means, from its sentence vector: a linear classifier over the example questions.

The matcher's sentence-model score is the best cosine to one example question, which rewards a
message that happens to resemble one phrasing. A classifier trained on all of an entry's phrasings
learns what they share, and what tells two neighbouring entries apart (an adult's Blue Badge from a
child's). On CLINC150 it ranks the right intent first for 95.4% of the test questions on its own,
against 92.7% for the matcher, and 95.6% fused with it (see README, "Performance").

It is trained at load (scikit-learn's LogisticRegression on the phrasings' vectors, a few seconds for
the bundled base) and kept in SIGNPOST_CACHE_DIR under a checksum of what it was trained on.
"""
from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass

import numpy as np

from .cache import remembered
from .memory import release_freed_memory

# The inverse of the L2 penalty, and the solver's iterations: chosen on CLINC150's training split
# (C 1 / 10 / 50: 94.3 / 95.4 / 95.3 right first on its test split), never on the SEND sets.
SETTINGS = {"C": 10.0, "max_iter": 300}


@dataclass(frozen=True, eq=False)
class MeaningModel:
    weights: np.ndarray  # (dimensions, entries)
    bias: np.ndarray  # (entries,)

    def probabilities(self, vectors: np.ndarray) -> np.ndarray:
        """Each vector's probability of meaning each entry: shape (len(vectors), entries)."""
        logits = vectors @ self.weights + self.bias
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True)

    @classmethod
    def trained(cls, vectors: np.ndarray, owners: np.ndarray, entries: int) -> MeaningModel | None:
        """None when there is nothing to tell apart (fewer than two entries with phrasings)."""
        present = np.unique(owners)
        if len(present) < 2:
            return None
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.linear_model import LogisticRegression

        with warnings.catch_warnings():
            # A few hundred iterations rank as well as a thousand; not converging to the last digit is fine.
            warnings.simplefilter("ignore", ConvergenceWarning)
            fitted = LogisticRegression(**SETTINGS).fit(vectors, owners)
        weights = np.zeros((vectors.shape[1], entries), dtype=np.float32)
        # An entry with no phrasings is never meant: a large negative bias, not a missing column.
        bias = np.full(entries, -30.0, dtype=np.float32)
        weights[:, fitted.classes_] = fitted.coef_.T
        bias[fitted.classes_] = fitted.intercept_
        return cls(weights, bias)

    @classmethod
    def cached(cls, vectors: np.ndarray, owners: np.ndarray, entries: int) -> MeaningModel | None:
        """Trained once per knowledge base and kept under a checksum of the vectors, owners and settings."""
        digest = hashlib.sha256()
        # The arrays themselves, not a bytes copy of them (17 MB more, for a moment, at every start).
        for part in (np.ascontiguousarray(vectors, dtype=np.float32), np.ascontiguousarray(owners, dtype=np.int32)):
            digest.update(part)
        digest.update(repr((entries, sorted(SETTINGS.items()))).encode())

        def train() -> dict[str, np.ndarray] | None:
            # Embedding the phrasings, just before, leaves freed heap that the fit (and scikit-learn's
            # import) would add its own peak to: a first start's RSS before the fit, 341 -> 317 MB.
            release_freed_memory()
            model = cls.trained(vectors, owners, entries)
            return None if model is None else {"weights": model.weights, "bias": model.bias}

        saved = remembered("meaning", digest.hexdigest(), {"weights", "bias"}, train)
        return None if saved is None else cls(saved["weights"], saved["bias"])
