"""Rank knowledge entries for a question and decide one outcome.

Two scorers, averaged: TF-IDF cosine similarity (below) and a linear model trained at
load on every word, small ones included (_SoftmaxModel). On CLINC150's validation split
the pair ranks the right intent first 91.6% of the time, against 82.2% for the cosine alone.

Plain nearest-phrasing fuzzy scorers rank sentences poorly (rapidfuzz WRatio put the
right CLINC150 intent first 39.5% of the time), so the matcher weighs terms: each
phrasing and each entry becomes a sparse TF-IDF vector of word stems and stem pairs,
where a word's weight falls with the number of entries that use it ("transport" counts,
"how do I get" does not). rapidfuzz is the fuzzy layer in front of it: a word the
knowledge base does not know is corrected to the nearest known word ("assesment",
"tribunel"). Everything about the knowledge base is computed once, at load; a question
costs a few dictionary look-ups and numpy additions per word, never a loop over phrasings.
"""
from __future__ import annotations

import hashlib
import json
import math
import re
from collections import defaultdict
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Callable

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein
from scipy import sparse

from .ahead import Ahead
from .cache import packed_texts, remembered, unpacked_texts
from .knowledge import Entry, Knowledge
from .meaning import MeaningModel
from .memory import release_freed_memory
from .semantic import Encoder, default_encoder
from .text import STOPWORDS, Lexicon, asks_something, fold, stem


@dataclass(frozen=True)
class Thresholds:
    """Every cut-off the matcher uses, in one place.

    A score is half a cosine similarity and half the trained model's probability, both in
    [0, 1], so a value means the same on any knowledge base: editors never retune as the
    base grows. Values were chosen on the dev set together with CLINC150's validation
    split (never its test split): see benchmarks/clinc150.py and benchmarks/README.md.
    """

    # At or above this, one entry is confident enough to answer on its own. Low, because the
    # margin and the unknown-word weight already keep near-misses out (dev: 96% of
    # out-of-scope messages unanswered at this value).
    answer: float = 0.22
    # The best entry must beat the second by this much to answer outright; closer than
    # this, the two are offered as a choice, because a wrong answer is worse than a question.
    # Small, because the model already pulls entries apart when the question tells them apart.
    margin: float = 0.02
    # So far above everything else that a close second does not matter.
    sure: float = 0.80
    # Below this nothing is offered at all: the question is logged as unanswered.
    clarify: float = 0.20
    # Candidates within this distance of the best are offered together in a clarify.
    window: float = 0.10
    # A long message (LONG_MESSAGE characters or more) must win by more, and a wider choice is
    # offered: a parent's story names many things besides its question, and on real forum and FAQ
    # posts its confident-looking wrong answers were as often the runner-up's as anything else.
    # None: as short messages.
    long_margin: float | None = None
    long_window: float | None = None
    # How much an entry's best single phrasing counts against the entry as a whole.
    phrasing_weight: float = 0.6
    # Pairs of adjacent words count for less than single words: they sharpen, not decide.
    bigram_weight: float = 0.5
    # A word no entry uses still counts in the question's length, at this share of the weight
    # of the rarest known word: "swimming pool opening times" must not match "waiting times"
    # just because "times" is the only word the knowledge base knows.
    unknown_word: float = 0.3
    # A passage of a long message can stand for the message, discounted because the
    # rest of the message may change its meaning.
    passage_weight: float = 0.8
    # How much the trained model's probability counts against the cosine similarity.
    model_weight: float = 0.5
    # The model's starting weight of a small word ("how", "your") against a meaningful one.
    small_word: float = 0.5
    # How much the sentence-embedding similarity counts against the two word-based scores.
    # It understands paraphrase with no shared words ("can't afford a solicitor" -> SENDIASS)
    # but on its own ranks far worse than them, so it is a third voice, not the deciding one.
    semantic_weight: float = 0.0
    # Cosine similarities of unrelated sentences sit around 0.1-0.3 with this model; only
    # what is above this floor counts, stretched back to [0, 1].
    semantic_floor: float = 0.3
    # A single sentence of a long message, against the message as a whole.
    semantic_piece_weight: float = 0.9
    # How much the classifier over sentence vectors (bot/meaning.py) counts against all the above.
    meaning_weight: float = 0.0
    # When the sentence model's two scorers (the similarity and the classifier) each put another entry
    # first than the one all the scores together put first, the winner is offered beside those of theirs
    # within this distance of it, not answered alone: two readings of the meaning against the words is
    # the clearest sign of a wrong answer the held-out folds showed. None: answer as the margin decides.
    dissent_window: float | None = None
    # An out-of-scope entry (a shop, an adult's service, another council's job) all but level with the
    # best answer: the question is more likely the near-topic one the bot must not answer ("personal
    # budget planner app", "local offer" on new-build houses), and its reply says where to go instead.
    # None: out-of-scope entries below the top never count.
    out_of_scope_margin: float | None = None


# Word-based scores only: what a matcher without the embedding model uses.
LEXICAL_THRESHOLDS = Thresholds()
# With the embedding model: chosen on the dev set and blind set 1 (benchmarks/sets); the margin
# (0.04 -> 0.08: fewer wrong answers, more clarifies) on writer Q's calibration questions
# (training/questions/) and blind set 1. Never on the closing sets (README, "Performance").
# The classifier over sentence vectors at 0.1 (bot/meaning.py): on the held-out writers' folds top-1
# 92.1 -> 92.8, wrong answers 1.4 -> 1.3, out of scope left 92.0 either way; 0.2 and 0.3 gave more
# wrong answers (1.5, 1.9), though CLINC150 would gain more from them.
# The long-message margin and window on held-out folds (each spent real question set and real-train file
# answered by a matcher without its own phrasings: 1,273 real questions; each question writer and spent
# blind question set likewise: 11,346 written questions), real / written, top-1, answered right or
# clarified, wrong: 0.08 and 0.10 as for short ones 63.7 86.0 7.1 / 94.4 97.3 1.0; 0.12 and 0.14
# 58.4 87.0 6.2 / 93.9 97.4 0.9; 0.16 and 0.18 54.5 87.7 5.5 / 93.2 97.4 0.8; 0.20 and 0.22
# 50.3 88.1 5.0 / 92.3 97.4 0.8. From 400 characters instead of 200, 0.16: 55.1 87.4 5.7 / 93.8 97.4 0.9.
# A classifier of "this answer is right" over the scores, the gap and the length, trained on the real
# folds, did worse at the same cost (56.9 86.8 6.3 / 93.1 97.5 0.8).
# The dissent window on the same folds (pooled, real / written: top-1, answered right or clarified, wrong):
# none 54.2 86.8 6.2 / 93.5 97.6 0.9; 0.10 54.0 86.9 6.0 / 93.4 97.7 0.8; 0.15 53.7 87.1 5.8 / 93.1 97.8 0.8;
# 0.20 53.1 87.1 5.8 / 92.7 97.8 0.7; 0.30 52.2 87.2 5.7 / 91.4 97.8 0.7. Offering the other entry when only
# one of the two scorers dissents cost 12 points of top-1 on the real folds.
# The out-of-scope margin on the same folds (with sets 17 and real 9 as phrasings; real / written: top-1, answered
# right or clarified, wrong, out of scope left unanswered): none 54.5 86.5 6.5 43.3 / 93.6 98.0 0.7 91.9;
# 0.02 54.5 86.3 6.4 46.2 / 93.6 98.0 0.7 92.4; 0.04 54.5 86.2 6.2 49.1 / 93.6 98.0 0.7 93.2;
# 0.06 54.5 85.6 6.2 49.7 / 93.5 97.9 0.7 93.7. Offering the two as a choice instead cost more wrong answers.
THRESHOLDS = replace(LEXICAL_THRESHOLDS, semantic_weight=0.4, meaning_weight=0.1, answer=0.30, clarify=0.26,
                     margin=0.08, long_margin=0.16, long_window=0.18, dissent_window=0.15, out_of_scope_margin=0.04)


@dataclass(frozen=True)
class Candidate:
    entry: Entry
    score: float


@dataclass(frozen=True)
class Decision:
    outcome: str  # "answer", "clarify" or "unanswered"
    candidates: tuple[Candidate, ...]  # best first; for clarify, the ones offered
    score: float

    @property
    def best(self) -> Candidate | None:
        return self.candidates[0] if self.candidates else None


_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
LONG_MESSAGE = 200  # characters; shorter messages are read whole
DECISIONS_KEPT = 4096  # recent messages' decisions, as the encoder keeps their vectors
# The word scores and similarities of the last few messages: the reply works them out while the
# encoder reads the message (Replies.respond, Matcher.prepare) and ranks with them just after.
WORD_SCORES_KEPT = 16
QUESTIONS_READ = 3  # a message's last questions, each decided alone (questions)


class _Index:
    """Sparse vectors of many texts, as one features x texts matrix: a query meets only the texts
    that share one of its features (scipy's sparse product, 2 times faster than numpy postings for
    a long story's twenty passages against 9,600 phrasings)."""

    def __init__(self, vectors: list[dict[str, float]], columns: dict[str, int] | None = None) -> None:
        """`columns`: another index's feature columns, holding every feature of these vectors, to share
        rather than build again (the entries' index shares the phrasings': one dict of 90,000 names, not two)."""
        self.size = len(vectors)
        if columns is None:
            columns = {}
            features = [columns.setdefault(f, len(columns)) for v in vectors for f in v]
        else:
            features = [columns[f] for v in vectors for f in v]
        self.columns = columns
        weights = np.array([w for v in vectors for w in v.values()], dtype=np.float32)
        texts = np.repeat(np.arange(len(vectors), dtype=np.int32), [len(v) for v in vectors])
        self._by_feature = sparse.csr_matrix((weights, (features, texts)), shape=(len(self.columns), self.size))

    def scores(self, queries: list[dict[str, float]]) -> np.ndarray:
        """Each query's dot product with every text: shape (len(queries), size)."""
        return (_sparse_rows(queries, self.columns) @ self._by_feature).toarray()


def _sparse_rows(vectors: list[dict[str, float]], columns: dict[str, int]) -> sparse.csr_matrix:
    """Sparse vectors as the rows of a matrix over these columns; features not among them dropped."""
    known = [[(column, w) for f, w in vector.items() if (column := columns.get(f)) is not None] for vector in vectors]
    ends = np.cumsum([0, *map(len, known)])
    indices = np.array([column for pairs in known for column, _ in pairs], dtype=np.int32)
    weights = np.array([w for pairs in known for _, w in pairs], dtype=np.float32)
    return sparse.csr_matrix((weights, indices, ends), shape=(len(vectors), len(columns)))


# The linear model's weights are kept in half precision once trained: one row per word and pair of
# words of every phrasing (88,686 x 54 for the bundled base: 19 MB in float32), most of them a rare pair
# from one parent's long post. Trained in float32; the logits are summed in float32.
WEIGHTS_KEPT_AS = np.float16


class _SoftmaxModel:
    """Multinomial logistic regression on sparse features, trained at load with numpy only.

    Cosine similarity weighs a shared word the same whatever the entries around it; a
    linear model learns which words tell these particular entries apart, including the
    small words a stopword list drops ("who made you" against "what is your name").
    Sparse AdaGrad on mini-batches in a fixed order, so a base always gives the same model.
    The L2 penalty is a fixed prior over the whole base, not per phrasing: with three
    phrasings an entry the probabilities stay soft, with a hundred the model may be sure.
    """

    SETTINGS = {"epochs": 20, "rate": 1.0, "batch": 256, "l2": 0.01}

    def __init__(self, columns: dict[str, int], weights: np.ndarray, bias: np.ndarray) -> None:
        self.columns = columns
        self.weights = weights
        self.bias = bias

    @classmethod
    def trained(cls, rows: list[dict[str, float]], labels: list[int], classes: int) -> _SoftmaxModel:
        columns: dict[str, int] = {}
        for row in rows:
            for feature in row:
                columns.setdefault(feature, len(columns))
        model = cls(columns, np.zeros((len(columns), classes), dtype=np.float32), np.zeros(classes, dtype=np.float32))
        if rows and classes > 1:
            model._train(rows, np.array(labels), **cls.SETTINGS)
        model.weights = model.weights.astype(WEIGHTS_KEPT_AS)
        return model

    @classmethod
    def cached(cls, rows: list[dict[str, float]], labels: list[int], classes: int) -> _SoftmaxModel:
        """Trained once per knowledge base: most of a start-up's work otherwise, and the same every time
        (training is deterministic), so the weights are kept in SIGNPOST_CACHE_DIR under a checksum of
        exactly what they were trained on."""
        # Hashed a row at a time: the whole training set as one JSON string (and its bytes) was 36 MB
        # more at every start, for a moment, with the bundled base.
        digest = hashlib.sha256(json.dumps([labels, classes, cls.SETTINGS]).encode())
        for row in rows:
            digest.update(json.dumps(row, ensure_ascii=False).encode())
            digest.update(b"\n")

        def train() -> dict[str, np.ndarray]:
            model = cls.trained(rows, labels, classes)
            # The feature names as one UTF-8 buffer and where each ends: a numpy string array is as wide as
            # the longest name, in UCS-4 (88,686 names: 12 MB, for a moment, at every start).
            column_bytes, column_ends = packed_texts(list(model.columns))
            return {"column_bytes": column_bytes, "column_ends": column_ends, "weights": model.weights,
                    "bias": model.bias}

        saved = remembered("matcher", digest.hexdigest(), {"column_bytes", "column_ends", "weights", "bias"}, train)
        names = unpacked_texts(saved["column_bytes"], saved["column_ends"])
        return cls(dict(zip(names, range(len(names)))), saved["weights"].astype(WEIGHTS_KEPT_AS, copy=False),
                   saved["bias"])

    def _train(self, rows: list[dict[str, float]], labels: np.ndarray, epochs: int, rate: float, batch: int,
               l2: float) -> None:
        lengths = np.array([len(r) for r in rows])
        indptr = np.r_[0, np.cumsum(lengths)]
        cols = np.array([self.columns[f] for r in rows for f in r], dtype=np.int64)
        vals = np.array([w for r in rows for w in r.values()], dtype=np.float32)
        w_seen = np.full(len(self.columns), 1e-6, dtype=np.float32)
        b_seen = np.full(self.bias.shape, 1e-6, dtype=np.float32)
        order = np.random.default_rng(0)
        for _ in range(epochs):
            perm = order.permutation(len(rows))
            for start in range(0, len(rows), batch):
                picked = perm[start : start + batch]
                counts = lengths[picked]
                local = np.r_[0, np.cumsum(counts)]
                nz = np.repeat(indptr[picked] - local[:-1], counts) + np.arange(local[-1])
                c, v = cols[nz], vals[nz]
                grad = self._softmax(np.add.reduceat(self.weights[c] * v[:, None], local[:-1]) + self.bias)
                grad[np.arange(len(picked)), labels[picked]] -= 1.0
                grad /= len(picked)
                per_nz = grad[np.repeat(np.arange(len(picked)), counts)] * v[:, None]
                by_col = np.argsort(c, kind="stable")
                sorted_cols = c[by_col]
                firsts = np.flatnonzero(np.r_[True, sorted_cols[1:] != sorted_cols[:-1]])
                touched = sorted_cols[firsts]
                g = np.add.reduceat(per_nz[by_col], firsts) + l2 / len(rows) * self.weights[touched]
                w_seen[touched] += (g * g).mean(axis=1)
                self.weights[touched] -= rate * g / np.sqrt(w_seen[touched])[:, None]
                gb = grad.sum(axis=0)
                b_seen += gb * gb
                self.bias -= rate * gb / np.sqrt(b_seen)

    @staticmethod
    def _softmax(z: np.ndarray) -> np.ndarray:
        z = z - z.max(axis=-1, keepdims=True)
        np.exp(z, out=z)
        z /= z.sum(axis=-1, keepdims=True)
        return z

    def probabilities(self, rows: list[dict[str, float]]) -> np.ndarray:
        """Each row's class probabilities: shape (len(rows), classes). Only the weights of the rows'
        features are read, in float32 (a sparse product would first copy the whole matrix to float32)."""
        matrix = _sparse_rows(rows, self.columns)
        logits = np.zeros((len(rows), len(self.bias)), dtype=np.float32)
        filled = np.flatnonzero(np.diff(matrix.indptr))
        if len(filled):
            terms = self.weights[matrix.indices].astype(np.float32) * matrix.data[:, None]
            logits[filled] = np.add.reduceat(terms, matrix.indptr[filled], axis=0)
        return self._softmax(logits + self.bias)


def _term_features(words: list[str]) -> list[str]:
    """Stems of the meaningful words, and of adjacent pairs, for the cosine similarity."""
    stems = [stem(w) for w in words]
    return stems + [f"{a} {b}" for a, b in zip(stems, stems[1:])]


def _model_features(tokens: list[str], small_word: float) -> dict[str, float]:
    """Every word's stem and adjacent pairs, small words included but scaled down, at unit length.

    The scale is a prior, not a rule: the model can still learn that "who" or "your" tells
    two entries apart, but only when many phrasings show it; with three phrasings an entry,
    "how do i get" must not outweigh "taxi".
    """
    stems = [stem(t) for t in tokens]
    small = [t in STOPWORDS for t in tokens]
    vector = {s: small_word if is_small else 1.0 for s, is_small in zip(stems, small)}
    for (a, b), (small_a, small_b) in zip(zip(stems, stems[1:]), zip(small, small[1:])):
        vector[f"{a} {b}"] = small_word if small_a and small_b else 1.0
    return _normalised(vector)


def _edit_limit(length: int) -> int:
    """How many edits spelling correction allows: one for short words, two for long."""
    return 1 if length < 8 else 2


def _by_length(vocabulary: list[str]) -> dict[int, list[str]]:
    """For each length of word spelling correction looks at, the known words that could be within
    its edit limit, in the vocabulary's order."""
    longest = max(map(len, vocabulary), default=0)
    return {length: [w for w in vocabulary if abs(len(w) - length) <= _edit_limit(length)]
            for length in range(5, longest + 3)}


def _whole_or_clause(whole: np.ndarray, best_clause: np.ndarray | None, clause_weight: float) -> np.ndarray:
    """Each entry's score for the message as a whole or for its best clause, discounted, whichever is higher."""
    return whole if best_clause is None else np.maximum(whole, clause_weight * best_clause)


def _normalised(vector: dict[str, float]) -> dict[str, float]:
    norm = math.sqrt(sum(w * w for w in vector.values()))
    return {f: w / norm for f, w in vector.items()} if norm else {}


class Matcher:
    def __init__(self, knowledge: Knowledge, thresholds: Thresholds | None = None,
                 encoder: Encoder | None = None, semantic: bool = True) -> None:
        """`semantic=False` matches on words alone (LEXICAL_THRESHOLDS unless thresholds are given)."""
        self.knowledge = knowledge
        self.encoder = (encoder or default_encoder()) if semantic else None
        self.thresholds = thresholds or (THRESHOLDS if semantic else LEXICAL_THRESHOLDS)
        self.lexicon = Lexicon(knowledge.lexicon)
        self.entries = knowledge.entries
        phrasings, owners = self._phrasings()
        self._owners = np.array(owners, dtype=np.int32)
        # Phrasings are grouped by entry, so each entry's rows are one contiguous run.
        self._starts = np.flatnonzero(np.r_[True, self._owners[1:] != self._owners[:-1]])
        # The word scores first, in their own method: their per-phrasing working lists are gone before
        # the phrasings are embedded, so a first start peaks lower (412 -> 383 MB with 6,227 phrasings).
        self._learn_words(phrasings, owners)
        release_freed_memory()
        self._embedded = self.encoder.embed_phrasings(phrasings) if self.encoder and phrasings else None
        self._meaning = MeaningModel.cached(self._embedded, self._owners, len(self.entries)) \
            if self._embedded is not None and self.thresholds.meaning_weight else None
        self._decisions = lru_cache(maxsize=DECISIONS_KEPT)(self._decide)
        self._word_scores = lru_cache(maxsize=WORD_SCORES_KEPT)(self._words)
        self._similarities: Ahead[tuple[np.ndarray, np.ndarray | None]] = Ahead(self._similarity, WORD_SCORES_KEPT)

    def _learn_words(self, phrasings: list[str], owners: list[int]) -> None:
        """The word scores' parts: the vocabulary for spelling correction, the TF-IDF indexes of
        phrasings and entries, and the linear model over words."""
        read = [self.lexicon.apply(fold(text).split()) for text in phrasings]  # once: most of the cost
        self._vocabulary = self._build_vocabulary(read)
        self._known = frozenset(self._vocabulary)
        self._by_length = _by_length(self._vocabulary)
        self._correct = lru_cache(maxsize=65536)(self._correct_uncached)
        tokens = [self._corrected(words) for words in read]
        # Each stage's lists are dropped as soon as the next is built: with 15,000 phrasings every
        # word is its own string object, and the first start's peak is reached in the training below.
        del read
        features = [_term_features([t for t in toks if t not in STOPWORDS]) for toks in tokens]
        self._idf = self._entry_idf(features, owners)
        self._rarest = math.log(1.0 + max(len(self.entries), 1))  # the weight of a word only one entry uses
        self._by_phrasing = _Index([self._vector(f) for f in features])
        self._by_entry = _Index(self._entry_vectors(features, owners), self._by_phrasing.columns)
        del features
        model_rows = [_model_features(toks, self.thresholds.small_word) for toks in tokens]
        del tokens
        kept = [i for i, row in enumerate(model_rows) if row]
        self._model = _SoftmaxModel.cached([model_rows[i] for i in kept], [owners[i] for i in kept], len(self.entries))

    # ------------------------------------------------------------ text to features

    def _build_vocabulary(self, read: list[list[str]]) -> list[str]:
        """Every word of every phrasing (after the lexicon), the words spelling correction may give."""
        known: set[str] = set(self.lexicon.canonical_words())
        for words in read:
            known.update(words)
        if self.knowledge.areas:  # never "correct" Hertfordshire into Herefordshire
            for name in (*self.knowledge.areas.home, *self.knowledge.areas.others):
                known.update(fold(name).split())
        return sorted(w for w in known if not w.isdigit())

    def _correct_uncached(self, word: str) -> str:
        """The nearest known word for a misspelling: one edit for short words, two for long."""
        if len(word) < 5 or word.isdigit():
            return word
        limit = _edit_limit(len(word))
        # Only words within `limit` of its length can be within `limit` edits: a quarter of the
        # vocabulary to search, in the same order, so the same word wins (4 -> 1.5 ms a long story).
        nearby = self._by_length.get(len(word), self._vocabulary)
        found = process.extractOne(word, nearby, scorer=Levenshtein.distance, score_cutoff=limit)
        return found[0] if found else word

    def tokens(self, text: str) -> list[str]:
        """Every word of a text, small words included, after the lexicon and spelling correction."""
        return self._corrected(self.lexicon.apply(fold(text).split()))

    def _corrected(self, tokens: list[str]) -> list[str]:
        corrected = [t if t in self._known or t in STOPWORDS else self._correct(t) for t in tokens]
        if corrected != tokens:  # a corrected word may complete a lexicon phrase
            corrected = self.lexicon.apply(corrected)
        return corrected

    def words(self, text: str) -> list[str]:
        """Meaningful words of a text, after the lexicon and spelling correction."""
        return [t for t in self.tokens(text) if t not in STOPWORDS]

    def features(self, text: str) -> list[str]:
        return _term_features([t for t in self.tokens(text) if t not in STOPWORDS])


    # ------------------------------------------------------------ building

    def _phrasings(self) -> tuple[list[str], list[int]]:
        texts, owners = [], []
        for i, entry in enumerate(self.entries):
            for text in (entry.title, *entry.questions):
                texts.append(text)
                owners.append(i)
        return texts, owners

    def _entry_idf(self, features: list[list[str]], owners: list[int]) -> dict[str, float]:
        """Inverse entry frequency: a word used by few entries tells them apart."""
        entries_with: dict[str, set[int]] = defaultdict(set)
        for feats, owner in zip(features, owners):
            for f in feats:
                entries_with[f].add(owner)
        n = max(len(self.entries), 1)
        return {f: math.log(1.0 + n / len(owners_)) for f, owners_ in entries_with.items()}

    def _vector(self, feats: list[str]) -> dict[str, float]:
        vector: dict[str, float] = {}
        for f in feats:
            weight = self._idf.get(f)
            if weight is None:  # a word no entry uses is evidence the question is about something else
                if " " in f:
                    continue
                weight = self.thresholds.unknown_word * self._rarest
            vector[f] = weight * (self.thresholds.bigram_weight if " " in f else 1.0)
        return _normalised(vector)

    def _entry_vectors(self, features: list[list[str]], owners: list[int]) -> list[dict[str, float]]:
        """Each entry's centroid: the sum of its phrasings' vectors, normalised."""
        totals: list[dict[str, float]] = [defaultdict(float) for _ in self.entries]
        for feats, owner in zip(features, owners):
            for f, w in self._vector(feats).items():
                totals[owner][f] += w
        return [_normalised(total) for total in totals]

    # ------------------------------------------------------------ matching

    def _scores(self, texts: list[list[str]]) -> tuple[np.ndarray, np.ndarray]:
        """Each entry's word score for each text (its words after the lexicon), all texts at once:
        (scores of the texts with a meaningful word, shape (those texts, entries); which texts those are)."""
        t = self.thresholds
        queries = [self._vector(_term_features([w for w in words if w not in STOPWORDS])) for words in texts]
        scored = np.array([bool(query) for query in queries], dtype=bool)
        texts = [words for words, query in zip(texts, queries) if query]
        queries = [query for query in queries if query]
        if not queries:
            return np.zeros((0, len(self.entries))), scored
        best_phrasing = np.maximum.reduceat(self._by_phrasing.scores(queries), self._starts, axis=1)
        combined = t.phrasing_weight * best_phrasing
        combined += (1 - t.phrasing_weight) * self._by_entry.scores(queries)
        combined *= 1 - t.model_weight
        combined += t.model_weight * self._model.probabilities([_model_features(w, t.small_word) for w in texts])
        return combined, scored

    def _passages(self, text: str) -> tuple[list[str], list[list[str]]]:
        """A long message's words, and its sentences in pairs: parents often bury the question in a story.

        Each sentence is read once and the passages are joined from its words, so a long
        message costs one pass of the lexicon and the spelling correction, not one per passage.
        """
        sentences = [s for s in _SENTENCE.split(text) if s.strip()]
        if len(sentences) < 3 and len(text) < LONG_MESSAGE:
            return self.tokens(text), []
        read = [self.tokens(s) for s in sentences]
        whole = [t for sentence in read for t in sentence]
        return whole, [read[i] + (read[i + 1] if i + 1 < len(read) else []) for i in range(len(read))]

    def prepare(self, text: str) -> None:
        """Start the similarities of a message and of its questions on the encoder's reader thread,
        after their readings, and work out their word scores now, on this one, meanwhile."""
        if not self.entries:
            return
        texts = [text]
        if self._embedded is not None and self.thresholds.semantic_weight:
            parts, kept = self.encoder.plan(text)
            if len(kept) == len(parts):
                # Its questions' clauses are its own, so their readings cost no model run. A story
                # too long to embed whole would cost one per question, mostly for nothing (a crisis,
                # one question): those are decided only if asked for (Replies._with_other_question).
                texts += self.questions(text)
            for one in texts:
                self.encoder.prefetch(one)  # first: a similarity needs its reading queued before it
                self._similarities.start(one, self.encoder.reader)
        for one in texts:
            self._word_scores(one, self.thresholds)

    def _words(self, text: str, t: Thresholds) -> np.ndarray | None:
        """Each entry's word score: the whole message, or a passage (sentence pair) counted at
        passage_weight, whichever is higher; None when no word means anything."""
        whole, passages = self._passages(text)
        found, scored = self._scores([whole, *passages])
        if not scored.any():
            return None
        weights = np.r_[1.0, np.full(len(passages), t.passage_weight)][scored]
        return (found * weights[:, None]).max(axis=0)

    def rank(self, text: str, limit: int = 5) -> list[Candidate]:
        if not self.entries:
            return []
        combined = self._word_scores(text, self.thresholds)
        if combined is None:
            return []
        semantic = self._semantic(text)
        if semantic is not None:
            weight = self.thresholds.semantic_weight
            combined = (1 - weight) * combined + weight * semantic
        meaning = self._meant(text)
        if meaning is not None:
            weight = self.thresholds.meaning_weight
            combined = (1 - weight) * combined + weight * meaning
        order = np.argsort(-combined, kind="stable")[:limit]
        return [Candidate(self.entries[i], round(float(combined[i]), 4)) for i in order if combined[i] > 0]

    def _semantic(self, text: str) -> np.ndarray | None:
        """Each entry's best cosine similarity to the message or one of its clauses, above the floor.

        Clauses, not sentences: the safety check reads the same clauses (Encoder.read), so a message
        is embedded once, not twice (the same first answers on the writers' folds, the dev set and
        CLINC150). A very long message's clauses past the encoder's time budget count through the
        word scores only."""
        if self._embedded is None or not self.thresholds.semantic_weight:
            return None
        t = self.thresholds
        similarity = _whole_or_clause(*self._similarities.get(text), t.semantic_piece_weight)
        return np.clip((similarity - t.semantic_floor) / (1 - t.semantic_floor), 0.0, 1.0)

    def _similarity(self, text: str) -> tuple[np.ndarray, np.ndarray | None]:
        """Each entry's best cosine similarity to the message as a whole, and to its closest clause
        (None for a message of one clause). The product is the costliest step after the reading
        (20 clauses x 384 x 9,600 phrasings: 7 ms), so prepare() starts it on the reader's thread."""
        return self._whole_and_clause(
            text, lambda rows: np.maximum.reduceat(rows @ self._embedded.T, self._starts, axis=1))

    def _meant(self, text: str) -> np.ndarray | None:
        """Each entry's probability under the classifier over sentence vectors: the message as a whole,
        or one of its clauses (discounted like the similarity's), whichever is higher."""
        if self._meaning is None or not self.thresholds.meaning_weight:
            return None
        return self._whole_or_clause(text, self._meaning.probabilities)

    def _whole_or_clause(self, text: str, score: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """Each entry's score (`score`: vectors -> one row of entry scores per vector) for the message
        as a whole, or for one of its clauses at semantic_piece_weight, whichever is higher."""
        return _whole_or_clause(*self._whole_and_clause(text, score), self.thresholds.semantic_piece_weight)

    def _whole_and_clause(self, text: str, score: Callable[[np.ndarray], np.ndarray]
                          ) -> tuple[np.ndarray, np.ndarray | None]:
        """Each entry's score for the message as a whole, and its best over the message's clauses
        (None for a message of one clause)."""
        reading = self.encoder.read(text)
        if len(reading.parts) == 1:
            return score(reading.whole[None, :])[0], None
        scores = score(np.vstack([reading.whole, reading.vectors]))
        return scores[0], scores[1:].max(axis=0)

    def questions(self, text: str) -> list[str]:
        """The questions of a message that asks two or more things, each to be decided alone (the
        reply offers the one not answered): its last few sentences that ask, in order; none for a
        message that asks one thing. The last few only: a long story's early "questions" are mostly
        background ("why does nobody listen?"), and each one costs a decision."""
        asked = [s.strip() for s in _SENTENCE.split(text) if s.strip() and asks_something(s)]
        return asked[-QUESTIONS_READ:] if len(asked) >= 2 else []

    def _dissenting(self, text: str, ranked: list[Candidate], t: Thresholds) -> tuple[Candidate, ...]:
        """The candidates the sentence model's similarity and its classifier each rank first, when
        neither ranks the winner first, within dissent_window of the winner: to offer beside it."""
        if t.dissent_window is None:
            return ()
        semantic, meaning = self._semantic(text), self._meant(text)
        if semantic is None or meaning is None or not semantic.any():  # no similarity above its floor: no view
            return ()
        firsts = {self.entries[int(np.argmax(semantic))].id, self.entries[int(np.argmax(meaning))].id}
        top = ranked[0]
        if top.entry.id in firsts:
            return ()
        return tuple(c for c in ranked[1:]
                     if c.entry.id in firsts and c.entry.answers and top.score - c.score <= t.dissent_window)

    def decide(self, text: str) -> Decision:
        """What to do with a message: the same text, knowledge base and thresholds always decide the
        same, so repeats (the common questions, "hi", a retry) are kept rather than matched again."""
        return self._decisions(text, self.thresholds)

    def forget_decisions(self) -> None:
        """Drop the decisions kept for repeats: a benchmark times the matching, not the cache."""
        self._decisions.cache_clear()
        self._word_scores.cache_clear()
        self._similarities.clear()

    def _decide(self, text: str, t: Thresholds) -> Decision:
        ranked = self.rank(text)
        if len(text) >= LONG_MESSAGE:
            t = replace(t, margin=t.long_margin if t.long_margin is not None else t.margin,
                        window=t.long_window if t.long_window is not None else t.window)
        if not ranked or ranked[0].score < t.clarify:
            return Decision("unanswered", tuple(ranked[:1]), ranked[0].score if ranked else 0.0)
        top = ranked[0]
        if not top.entry.answers:
            return Decision("unanswered", (top,), top.score)
        beside = next((c for c in ranked[1:] if not c.entry.answers), None)
        if t.out_of_scope_margin is not None and beside is not None and top.score - beside.score < t.out_of_scope_margin:
            return Decision("unanswered", (beside,), beside.score)
        second = next((c for c in ranked[1:] if c.entry.answers), None)
        gap = top.score - second.score if second else top.score
        if top.score >= t.answer and (gap >= t.margin or top.score >= t.sure):
            dissent = self._dissenting(text, ranked, t)
            if dissent:
                return Decision("clarify", (top, *dissent), top.score)
            return Decision("answer", (top,), top.score)
        close = [c for c in ranked if c.entry.answers and c.score >= max(top.score - t.window, t.clarify * 0.8)][:3]
        if len(close) >= 2:
            return Decision("clarify", tuple(close), top.score)
        if top.score >= t.answer:
            return Decision("answer", (top,), top.score)
        return Decision("unanswered", (top,), top.score)
