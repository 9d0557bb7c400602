"""Group similar unanswered questions by meaning, so an editor sees "12 people asked about X" once.

Each distinct wording gets two vectors: the matcher's own words (lexicon applied, spelling
corrected, stems and stem pairs) weighted by TF-IDF over the questions themselves, and,
where the bot has the sentence model, its sentence vector (cached in the log, so each
question is embedded once: bot/editors/vectors.py). Two wordings are close when the weighted
sum of the two cosines reaches SIMILAR, or when their sentence vectors are much closer to
each other than to what the knowledge base already answers (RELATIVE_SIMILAR, below): a gap's
wordings ("eats paper and soil", "keeps eating chalk and stones") share no word the matcher
knows, and their plain cosine is no higher than that of any two questions about a child.
The most asked wordings lead: each leader takes every not yet grouped wording close to it.
Only near neighbours are compared: all pairs for a few thousand wordings, and beyond that
the neighbours faiss's HNSW graph finds, which grows as n log n (benchmarks/grouping.py prints the time for 10,000 questions).
"""
from __future__ import annotations

import math
import weakref
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable, Iterable, Sequence

import numpy as np
from scipy import sparse

from ..matcher import Matcher
from ..text import STOPWORDS, fold, stem
from .reports import LoggedQuestion

SIMILAR = 0.45  # combined similarity at which a wording joins a leader's group (tuned by hand: see tests)
BIGRAM_WEIGHT = 0.5  # a pair of adjacent words sharpens a match; it does not decide it
SEMANTIC_WEIGHT = 0.5  # the sentence vector's share of the similarity, when there is one
# Sentence vectors of questions about children sit close to one another and to the whole knowledge
# base (a hub). So each cosine is also read against how crowded the two questions' neighbourhoods in
# the knowledge base are: 2 cos(a, b) - crowd(a) - crowd(b), crowd being the mean cosine to the
# BACKGROUND nearest phrasings (CSLS, Conneau et al. 2018, "Word translation without parallel data").
# RELATIVE_SIMILAR is the lowest threshold at which nine in ten pairs so close are one entry's, on the
# knowledge base's own phrasings with each entry taken out as a gap in turn (benchmarks/grouping_calibration.py:
# 0.92 with phrasings.yaml; 0.2 before it, at 0.93). Added to SIMILAR's reading it finds more pairs of one
# entry at a higher precision (at SIMILAR 0.45: recall 0.074 -> 0.095, precision 0.805 -> 0.821).
RELATIVE_SIMILAR = 0.1
BACKGROUND = 10
MAX_EXAMPLES = 5
MAX_NEAREST = 3
EXACT_LIMIT = 2500  # up to this many distinct wordings every pair is compared
NEIGHBOURS = 16  # beyond it, each wording is compared with this many nearest neighbours
PROJECTED = 64  # dimensions of the vectors the neighbour graph is built on
PAIR_CHUNK = 8192  # pairs scored at a time

Embed = Callable[[Sequence[LoggedQuestion]], "np.ndarray | None"]


@dataclass
class Group:
    id: str  # "g" and the group's first message id: stable while that question is in the period
    count: int
    examples: list[str]  # up to MAX_EXAMPLES distinct redacted texts, most asked first
    first_seen: str
    last_seen: str
    channels: list[str]  # most used first
    channel_counts: dict[str, int] = field(default_factory=dict)
    nearest_topic: str | None = None
    nearest_title: str | None = None
    nearest_score: float = 0.0
    nearest: list[dict] = field(default_factory=list)  # the closest answering entries, with scores
    caught_by: str | None = None  # for what out-of-scope replies caught: the entry that caught it
    no_feedback: int = 0  # questions followed by a "no, this did not help" from the same sender
    section: str = "unanswered"
    message_ids: list[int] = field(default_factory=list, repr=False)
    wordings: list[str] = field(default_factory=list, repr=False)  # every distinct text, most asked first

    def as_dict(self) -> dict:
        return {"id": self.id, "count": self.count, "examples": self.examples, "first_seen": self.first_seen,
                "last_seen": self.last_seen, "channels": self.channels, "channel_counts": self.channel_counts,
                "nearest_topic": self.nearest_topic, "nearest_title": self.nearest_title,
                "nearest_score": self.nearest_score, "nearest": self.nearest, "caught_by": self.caught_by,
                "no_feedback": self.no_feedback, "section": self.section}


def _plain_features(text: str) -> list[str]:
    stems = [stem(w) for w in fold(text).split() if w not in STOPWORDS]
    return stems + [f"{a} {b}" for a, b in zip(stems, stems[1:])]


_DOMAIN: "weakref.WeakKeyDictionary[Matcher, tuple[dict[str, float], float]]" = weakref.WeakKeyDictionary()


def domain_weights(matcher: Matcher) -> tuple[dict[str, float], float]:
    """How much each feature tells entries apart (inverse entry frequency over the knowledge
    base), and the weight of a word no entry uses: the highest, because a word the base does
    not know ("dentist", "hairdresser") is what a gap is about, while "autism" or "hereford"
    is in half the questions families ask."""
    if matcher not in _DOMAIN:
        users: dict[str, set[int]] = {}
        for index, entry in enumerate(matcher.entries):
            for text in (entry.title, *entry.questions):
                for feature in matcher.features(text):
                    users.setdefault(feature, set()).add(index)
        count = max(len(matcher.entries), 1)
        _DOMAIN[matcher] = ({f: math.log(1 + count / len(e)) for f, e in users.items()}, math.log(1 + count))
    return _DOMAIN[matcher]


def _weight(feature: str, weights: dict[str, float], unknown: float) -> float:
    """A word's weight; a pair of words counts half, and no more than its commoner word."""
    if " " not in feature:
        return weights.get(feature, unknown)
    first, second = feature.split(" ", 1)
    return BIGRAM_WEIGHT * min(weights.get(first, unknown), weights.get(second, unknown))


_FEATURES: "weakref.WeakKeyDictionary[Matcher, Callable[[str], list[str]]]" = weakref.WeakKeyDictionary()
FEATURE_CACHE = 50_000  # texts whose features the page keeps between views, per loaded knowledge


def features_for(matcher: Matcher | None) -> Callable[[str], list[str]]:
    """A text's features: the matcher's (lexicon, spelling, stems and pairs) when there is one,
    remembered for the life of that matcher, so the page reads each question once."""
    features = matcher.features if matcher is not None else _plain_features

    def words(text: str) -> list[str]:  # a number ("my 6 year old", "year 9") says little about the topic
        return [f for f in features(text) if not any(part.isdigit() for part in f.split())]

    if matcher is None:
        return words
    if matcher not in _FEATURES:
        _FEATURES[matcher] = lru_cache(maxsize=FEATURE_CACHE)(words)
    return _FEATURES[matcher]


def lexical_vectors(features: Sequence[list[str]], matcher: Matcher | None) -> sparse.csr_matrix:
    """TF-IDF over the questions' features, weighted by how much each tells knowledge entries
    apart when there is a matcher; unit length."""
    # Imported here, when an editor groups questions, not when the server starts: any part of sklearn
    # loads the whole package (64 MB), which the bot answering families never needs (tests/test_memory.py).
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.preprocessing import normalize

    vectorizer = TfidfVectorizer(analyzer=list, sublinear_tf=True, norm=None, dtype=np.float32)
    try:
        found = vectorizer.fit_transform(features).tocsr()
    except ValueError:  # nothing but small words in every text
        return sparse.csr_matrix((len(features), 1), dtype=np.float32)
    if matcher is not None:
        weights, unknown = domain_weights(matcher)
        names = vectorizer.get_feature_names_out()
        found = found @ sparse.diags(np.array([_weight(f, weights, unknown) for f in names], dtype=np.float32))
    return normalize(found).tocsr().astype(np.float32)


# ------------------------------------------------------------------ closeness

_BACKGROUND: "weakref.WeakKeyDictionary[Matcher, np.ndarray]" = weakref.WeakKeyDictionary()


def background(matcher: Matcher) -> np.ndarray | None:
    """Unit sentence vectors of the knowledge base's titles and questions (the encoder keeps them)."""
    if matcher.encoder is None:
        return None
    if matcher not in _BACKGROUND:
        texts = [text for entry in matcher.entries for text in (entry.title, *entry.questions)]
        vectors = matcher.encoder.embed_phrasings(texts).astype(np.float32)
        _BACKGROUND[matcher] = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)
    return _BACKGROUND[matcher]


def crowding(meaning: np.ndarray, base: np.ndarray) -> np.ndarray:
    """Each wording's mean cosine to its BACKGROUND nearest phrasings of the knowledge base
    (faiss's exact search: a third quicker than a matrix product and a partition)."""
    import faiss

    k = min(BACKGROUND, len(base))
    if not k or not len(meaning):
        return np.zeros(len(meaning), dtype=np.float32)
    faiss.omp_set_num_threads(1)  # two shared cores, as below
    index = faiss.IndexFlatIP(base.shape[1])
    index.add(np.ascontiguousarray(base, dtype=np.float32))
    nearest, _ = index.search(np.ascontiguousarray(meaning, dtype=np.float32), k)
    return nearest.mean(axis=1).astype(np.float32)


_CROWDS: "weakref.WeakKeyDictionary[Matcher, dict[str, float]]" = weakref.WeakKeyDictionary()


def crowding_for(matcher: Matcher, texts: Sequence[str], meaning: np.ndarray) -> np.ndarray | None:
    """`crowding` of each text against the matcher's knowledge base, remembered for the life of that
    matcher (a text's sentence vector never changes), so the page computes each question's once."""
    base = background(matcher)
    if base is None:
        return None
    known = _CROWDS.setdefault(matcher, {})
    missing = [i for i, text in enumerate(texts) if text not in known]
    if missing:
        if len(known) + len(missing) > FEATURE_CACHE:
            known.clear()
        known.update(zip((texts[i] for i in missing), crowding(meaning[missing], base).tolist()))
    return np.array([known[text] for text in texts], dtype=np.float32)


@dataclass(frozen=True)
class Closeness:
    """How close two wordings are, as a margin: at 0 or above they belong in one group.
    The better of two readings: the weighted cosines against SIMILAR, and (with a crowding)
    the sentence cosine read against the knowledge base around each, against RELATIVE_SIMILAR."""

    lexical: sparse.csr_matrix
    meaning: np.ndarray | None
    weight: float
    similar: float
    crowd: np.ndarray | None = None

    def pairs(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """The margin of each pair (rows[i], cols[i]), a slice at a time: gathering the sentence
        vectors of 160,000 pairs at once would take half a gigabyte."""
        scores = np.empty(len(rows), dtype=np.float32)
        for start in range(0, len(rows), PAIR_CHUNK):
            r, c = rows[start:start + PAIR_CHUNK], cols[start:start + PAIR_CHUNK]
            words = np.asarray(self.lexical[r].multiply(self.lexical[c]).sum(axis=1)).ravel()
            cosine = np.einsum("ij,ij->i", self.meaning[r], self.meaning[c]) if self.meaning is not None else 0.0
            scores[start:start + PAIR_CHUNK] = self._margin(words, cosine, r, c)
        return scores

    def matrix(self) -> np.ndarray:
        """Every pair's margin, for a few thousand wordings."""
        words = (self.lexical @ self.lexical.T).toarray()
        cosine = self.meaning @ self.meaning.T if self.meaning is not None else 0.0
        index = np.arange(words.shape[0])
        return self._margin(words, cosine, index[:, None], index[None, :])

    def _margin(self, words: np.ndarray, cosine: "np.ndarray | float", r: np.ndarray, c: np.ndarray) -> np.ndarray:
        margin = (1 - self.weight) * words + self.weight * cosine - self.similar
        if self.crowd is None or self.meaning is None:
            return margin
        return np.maximum(margin, 2 * cosine - self.crowd[r] - self.crowd[c] - RELATIVE_SIMILAR)


# ------------------------------------------------------------------ neighbours

Pairs = tuple[np.ndarray, np.ndarray, np.ndarray, "Callable[[int, np.ndarray], np.ndarray] | None"]


def _pairs_exact(closeness: Closeness) -> Pairs:
    margin = closeness.matrix()
    np.fill_diagonal(margin, -np.inf)
    rows, cols = np.nonzero(margin >= 0)
    return rows, cols, margin[rows, cols], None  # every close pair is here: nothing to reach through others


def _pairs_approximate(closeness: Closeness) -> Pairs:
    """Each wording's NEIGHBOURS nearest in an HNSW graph over both vectors squeezed to PROJECTED
    dimensions, each pair scored exactly; and the exact score, for reaching a leader's wordings
    beyond its own nearest neighbours through those of its members."""
    import faiss
    from sklearn.random_projection import SparseRandomProjection

    faiss.omp_set_num_threads(1)  # two shared cores: threads cost more than they give here
    lexical, meaning, weight = closeness.lexical, closeness.meaning, closeness.weight
    words = lexical.toarray() if lexical.shape[1] <= PROJECTED * 2 else \
        SparseRandomProjection(PROJECTED * 2, dense_output=True, random_state=0).fit_transform(lexical)
    parts = [np.sqrt(1 - weight) * words]
    if meaning is not None:
        parts.append(np.sqrt(weight) * meaning)
    joined = np.hstack(parts).astype(np.float32)
    # A fixed random projection keeps inner products roughly (Johnson-Lindenstrauss) at a fraction
    # of PCA's cost; the graph only proposes neighbours, and every pair is scored exactly after.
    projection = np.random.default_rng(0).standard_normal((joined.shape[1], PROJECTED)).astype(np.float32)
    reduced = np.ascontiguousarray(joined @ projection if joined.shape[1] > PROJECTED else joined)
    faiss.normalize_L2(reduced)
    index = faiss.IndexHNSWFlat(reduced.shape[1], 16, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = 32
    index.add(reduced)
    index.hnsw.efSearch = 32
    _, found = index.search(reduced, NEIGHBOURS)
    rows = np.repeat(np.arange(len(found)), found.shape[1])
    cols = found.ravel()
    keep = (cols >= 0) & (cols != rows)
    rows, cols = rows[keep], cols[keep]
    scores = closeness.pairs(rows, cols)
    reach = lambda leader, items: closeness.pairs(np.full(len(items), leader), items)  # noqa: E731
    return np.r_[rows, cols], np.r_[cols, rows], np.r_[scores, scores], reach  # both directions


def leaders(count: int, similar: float, rows: np.ndarray, cols: np.ndarray, scores: np.ndarray,
            reach: Callable[[int, np.ndarray], np.ndarray] | None = None) -> np.ndarray:
    """Greedy leader clustering: items are in the order leaders are chosen, and each leader takes
    every ungrouped item at least `similar` to it among its pairs, and, with `reach`, among the
    pairs of the items it took (scored against the leader), so a big group is not cut at the
    neighbour list's length. Returns each item's leader."""
    order = np.lexsort((-scores, rows))
    rows, cols, scores = rows[order], cols[order], scores[order]
    starts = np.searchsorted(rows, np.arange(count + 1))
    leader = np.full(count, -1, dtype=np.int64)
    for item in range(count):
        if leader[item] >= 0:
            continue
        leader[item] = item
        span = slice(starts[item], starts[item + 1])
        near = cols[span][(scores[span] >= similar) & (leader[cols[span]] < 0)]
        leader[near] = item
        seen = set(near.tolist())
        while reach is not None and near.size:
            around = np.unique(np.concatenate([cols[starts[m]:starts[m + 1]] for m in near]))
            around = np.array([a for a in around[leader[around] < 0].tolist() if a not in seen], dtype=np.int64)
            seen.update(around.tolist())
            near = around[reach(item, around) >= similar] if around.size else around
            leader[near] = item
    return leader


# ------------------------------------------------------------------ grouping

def group_questions(questions: Iterable[LoggedQuestion], matcher: Matcher | None = None,
                    similar: float = SIMILAR, embed: Embed | None = None, section: str = "unanswered",
                    place_limit: int | None = None) -> list[Group]:
    """Questions grouped by meaning, biggest group first; the first `place_limit` groups placed
    against the knowledge base (all of them when None)."""
    features = features_for(matcher)
    found: dict[str, list[str]] = {}  # each distinct text is read once
    by_key: dict[str, list[LoggedQuestion]] = {}
    for question in questions:
        if question.text not in found:
            found[question.text] = features(question.text)
        words = sorted({f for f in found[question.text] if " " not in f})
        by_key.setdefault(" ".join(words) or fold(question.text), []).append(question)
    if not by_key:
        return []
    # The same meaningful words in any order are one wording. The most asked wordings lead;
    # ties go to the one asked first, so the order is stable.
    keys = sorted(by_key, key=lambda k: (-len(by_key[k]), by_key[k][0].at, k))
    firsts = [by_key[k][0] for k in keys]
    lexical = lexical_vectors([found[q.text] for q in firsts], matcher)
    meaning = _meaning(firsts, matcher, embed)
    crowd = None if matcher is None or meaning is None else crowding_for(matcher, [q.text for q in firsts], meaning)
    closeness = Closeness(lexical, meaning, SEMANTIC_WEIGHT if meaning is not None else 0.0, similar, crowd)
    pairs = _pairs_exact if len(keys) <= EXACT_LIMIT else _pairs_approximate
    leader = leaders(len(keys), 0.0, *pairs(closeness))
    members: dict[int, list[LoggedQuestion]] = {}
    for index, key in enumerate(keys):
        members.setdefault(int(leader[index]), []).extend(by_key[key])
    groups = sorted((_group(qs, section) for qs in members.values()), key=lambda g: (-g.count, g.first_seen))
    if matcher is not None:
        for group in groups[:place_limit]:
            place(group, matcher)
    return groups


def _meaning(firsts: list[LoggedQuestion], matcher: Matcher | None, embed: Embed | None) -> np.ndarray | None:
    if embed is not None:
        return embed(firsts)
    if matcher is not None and matcher.encoder is not None:
        return matcher.encoder.embed([q.text for q in firsts])
    return None


def _group(questions: list[LoggedQuestion], section: str) -> Group:
    wordings = Counter(q.text for q in questions)
    seen = sorted(q.at for q in questions)
    channels = Counter(q.channel for q in questions)
    return Group(
        id=f"g{min(q.id for q in questions)}",
        count=len(questions),
        examples=[text for text, _ in wordings.most_common(MAX_EXAMPLES)],
        wordings=[text for text, _ in wordings.most_common()],
        first_seen=seen[0], last_seen=seen[-1],
        channels=[name for name, _ in channels.most_common()],
        channel_counts=dict(channels.most_common()),
        no_feedback=sum(q.no_after for q in questions),
        section=section,
        message_ids=sorted(q.id for q in questions),
    )


def place(group: Group, matcher: Matcher) -> None:
    """The nearest entries that answer, scored on the group's commonest wording, and for a
    caught question the out-of-scope entry that caught it."""
    ranked = matcher.rank(group.examples[0], limit=12)
    answering = [c for c in ranked if c.entry.answers][:MAX_NEAREST]
    group.nearest = [{"topic": c.entry.id, "title": c.entry.title, "score": round(c.score, 3)} for c in answering]
    if answering:
        group.nearest_topic = answering[0].entry.id
        group.nearest_title = answering[0].entry.title
        group.nearest_score = round(answering[0].score, 3)
    catching = next((c for c in ranked if not c.entry.answers), None)
    if group.section == "caught" and catching is not None:
        group.caught_by = catching.entry.id
