"""The risk model: a classifier that generalises past the crisis rules.

It was trained (training/train_risk.py) on thousands of messages written by several
writers who never saw the crisis rules: crises of ten kinds, past or uncertain risk
("concern") and near misses (meltdowns, "this paperwork is killing me", questions about
crisis teams), plus the knowledge base's ordinary questions. Its features are the
sentence embedding (bot/semantic.py: meaning, paraphrase) beside word and character
n-grams (tense and small words that embeddings blur: "two years ago", "right now",
"tonight"; typos). It gives the probability that someone is at risk now, the probability
of a past or uncertain risk, and the most likely kind.

A long message is judged as a whole and sentence by sentence, so a risk written at the
end of a long question about an EHC plan still counts; a single sentence must be surer
than the whole message, because a sentence out of its story ("she cut her arms every
night" before "that was two years ago") can sound worse than it is.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from .ngrams import Ngrams
from .semantic import MODELS_DIR, Encoder, default_encoder

# How the n-gram features are read; training/train_risk.py fits them with these settings.
WORD_NGRAMS = {"analyzer": "word", "ngram_range": (1, 2), "sublinear_tf": True}
CHAR_NGRAMS = {"analyzer": "char_wb", "ngram_range": (2, 5), "sublinear_tf": True}


# The two kinds of concern: a risk that is over, and one that is uncertain (despair, no danger stated).
CONCERN_CLASSES = ("past-risk", "uncertain-risk")
NOT_CRISIS = ("none", *CONCERN_CLASSES)


@dataclass(frozen=True)
class RiskScore:
    crisis: float  # probability that someone is at risk now, scaled so crisis_threshold decides
    concern: float  # probability of past or uncertain risk
    past: float  # probability that the risk is over ("she self-harmed two years ago")
    category: str | None  # the most likely kind of crisis


@dataclass(frozen=True, eq=False)
class RiskModel:
    classes: tuple[str, ...]
    embedding_weights: np.ndarray  # (classes, 384)
    word_weights: np.ndarray  # (classes, word vocabulary)
    char_weights: np.ndarray  # (classes, character n-gram vocabulary)
    bias: np.ndarray  # (classes,)
    words: Ngrams
    chars: Ngrams
    crisis_threshold: float
    piece_threshold: float  # a single sentence must be surer than the whole message
    concern_threshold: float
    rule_veto: float  # below this crisis probability, and with no uncertain risk, a rule hit stands down
    rule_veto_uncertain: float
    encoder: Encoder

    def _word_logits(self, texts: list[str]) -> np.ndarray:
        """The n-gram half of the logits (with the bias): it needs no vectors."""
        return self.words.products(texts, self.word_weights) + self.chars.products(texts, self.char_weights) \
            + self.bias

    def parts(self, text: str) -> tuple[float, float, float, float, str]:
        """(crisis probability of the whole, highest of any one sentence, concern, past risk, kind)."""
        parts, kept = self.encoder.plan(text)
        # Each embedded clause alone too; a long story's clauses past the encoder's budget count
        # through the whole message's n-grams only.
        texts = [text, *(parts[i] for i in kept)] if len(parts) > 1 else [" ".join(parts)]
        # The n-grams first: the encoder may still be reading the message (Encoder.prefetch).
        logits = self._word_logits(texts)
        reading = self.encoder.read(text)
        rows = np.vstack([reading.whole, reading.vectors]) if len(parts) > 1 else reading.whole[None, :]
        probs = _softmax(logits + rows @ self.embedding_weights.T)
        crisis_cols = [i for i, c in enumerate(self.classes) if c not in NOT_CRISIS]
        crisis = probs[:, crisis_cols].sum(axis=1)
        best = int(crisis.argmax())
        kind = self.classes[crisis_cols[int(probs[best, crisis_cols].argmax())]]
        piece = float(crisis[1:].max()) if len(texts) > 1 else 0.0
        past = float(probs[0, self.classes.index("past-risk")])
        concern = past + float(probs[0, self.classes.index("uncertain-risk")])
        return float(crisis[0]), piece, concern, past, kind

    def score(self, text: str) -> RiskScore:
        whole, piece, concern, past, kind = self.parts(text)
        crisis = max(whole, piece * self.crisis_threshold / self.piece_threshold)
        return RiskScore(crisis, concern, past, kind)


def _softmax(logits: np.ndarray) -> np.ndarray:
    logits = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(logits)
    return exp / exp.sum(axis=1, keepdims=True)


# The n-gram weights (13 classes x 135,848 n-grams: 7 MB in float32) are kept in half precision, as the
# matcher's are: over 5,270 messages (crisis sets 12-16, the real question sets, the dev set, writer BH) no tier
# changed and the crisis probability moved by at most 0.0001. The products are summed in float64 (Ngrams.products).
N_GRAM_WEIGHTS_KEPT_AS = np.float16


def load_risk_model(models_dir: Path = MODELS_DIR, encoder: Encoder | None = None) -> RiskModel:
    info = json.loads((models_dir / "risk.json").read_text(encoding="utf-8"))
    vocabulary = json.loads((models_dir / "risk-vocabulary.json").read_text(encoding="utf-8"))
    data = np.load(models_dir / "risk.npz")
    return RiskModel(
        classes=tuple(info["classes"]), embedding_weights=data["embedding_weights"],
        word_weights=data["word_weights"].astype(N_GRAM_WEIGHTS_KEPT_AS),
        char_weights=data["char_weights"].astype(N_GRAM_WEIGHTS_KEPT_AS), bias=data["bias"],
        words=Ngrams(WORD_NGRAMS, vocabulary["words"], data["word_idf"]),
        chars=Ngrams(CHAR_NGRAMS, vocabulary["chars"], data["char_idf"]),
        crisis_threshold=float(info["crisis_threshold"]), piece_threshold=float(info["piece_threshold"]),
        concern_threshold=float(info["concern_threshold"]), rule_veto=float(info["rule_veto"]),
        rule_veto_uncertain=float(info["rule_veto_uncertain"]),
        encoder=encoder or default_encoder(),
    )


@lru_cache(maxsize=1)
def default_risk_model() -> RiskModel:
    return load_risk_model()
