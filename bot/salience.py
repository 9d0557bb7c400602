"""Which clauses of a long message matter most, when the encoder cannot embed them all in time.

The sentence model costs about 2 ms a clause plus 0.17 ms a word piece on this 2-core machine, so a
story of 1,600 characters (about 40 clauses) would take 80 ms or more. Only clauses past the time
budget are left out (bot/semantic.py), and these go first: clauses with words the risk model weighs
towards a crisis (its word n-gram weights, so "tablets", "goodbye", "won't wake" rank high), then the
last clause and clauses that ask (where a parent's question usually is), then the first. The crisis
rules and the risk model's n-gram features still read every word of the message.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from .ngrams import analyser
from .risk import NOT_CRISIS, WORD_NGRAMS
from .text import asks_something

# Weights on top of a clause's risk words (each word's weight is how much the risk model's word
# features move a crisis class against "none"; a clear risk clause sums to 3 or more).
ASKS = 1.0
LAST = 1.5
FIRST = 0.5


@dataclass(frozen=True)
class Salience:
    risk_words: dict[str, float]  # word n-gram -> how far it points towards some crisis (> 0 only)
    idf: dict[str, float]  # every word n-gram the risk model knows -> its weight in a clause
    analyse: Callable[[str], list[str]]  # the risk model's own word n-grams of a text

    @classmethod
    def load(cls, models_dir: Path) -> Salience:
        """From the risk model's files (training/train_risk.py): its classes, word vocabulary and weights."""
        info = json.loads((models_dir / "risk.json").read_text(encoding="utf-8"))
        vocabulary = json.loads((models_dir / "risk-vocabulary.json").read_text(encoding="utf-8"))["words"]
        with np.load(models_dir / "risk.npz") as data:
            weights, idf = data["word_weights"], data["word_idf"]
        classes = info["classes"]
        crisis = [i for i, c in enumerate(classes) if c not in NOT_CRISIS]
        margin = weights[crisis].max(axis=0) - weights[classes.index("none")]
        risk_words = {vocabulary[i]: float(margin[i]) for i in np.flatnonzero(margin > 0)}
        idf_of = dict(zip(vocabulary, idf.tolist()))
        analyse = analyser(WORD_NGRAMS)  # the risk model's own reading of words
        return cls(risk_words, idf_of, analyse)

    def order(self, parts: Sequence[str]) -> list[int]:
        """The parts' indexes, most salient first; ties go to the later part (questions come last)."""
        last = len(parts) - 1
        scores = []
        for i, part in enumerate(parts):
            score = self.risk(part) + ASKS * asks_something(part) + LAST * (i == last) + FIRST * (i == 0)
            scores.append(score)
        return sorted(range(len(parts)), key=lambda i: (-scores[i], -i))

    def risk(self, part: str) -> float:
        """How far the part's words move the risk model towards a crisis: its word features
        (TF-IDF, unit length) against the per-word margins."""
        grams = [g for g in set(self.analyse(part)) if g in self.idf]
        norm = float(np.sqrt(sum(self.idf[g] ** 2 for g in grams))) or 1.0
        return sum(self.risk_words.get(g, 0.0) * self.idf[g] for g in grams) / norm
