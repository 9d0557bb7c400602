"""Where grouping's RELATIVE_SIMILAR comes from: the knowledge base's own phrasings, each entry a gap in turn.

    python benchmarks/grouping_calibration.py [--sample 1500]

An unanswered question is one the knowledge base does not answer. To see how grouping tells a gap's
wordings apart from other questions, each answering entry's questions are taken as a gap in turn:
their words are weighted, and their crowding measured, as if their own entry were not in the
knowledge base. A pair "should group" when both questions belong to one entry. Printed:
1. the relative reading alone (bot/editors/grouping.py: 2 cos(a, b) - crowd(a) - crowd(b)) at each
   threshold: pairs reaching it, the share of them from one entry (precision), the share of one
   entry's pairs reaching it (recall), beside the plain cosine at as many pairs. RELATIVE_SIMILAR is
   the lowest threshold with a precision of 0.9;
2. grouping as it decides: the words and cosine against SIMILAR, alone and with the relative reading.
Entries' phrasings only: nothing here reads the held-out sets.
"""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.editors.grouping import (  # noqa: E402
    BACKGROUND, RELATIVE_SIMILAR, SEMANTIC_WEIGHT, SIMILAR, _weight, background, features_for,
)
from bot.matcher import Matcher  # noqa: E402
from bot.signpost import build_replies  # noqa: E402


def words_as_gaps(matcher: Matcher, texts: list[str], own: np.ndarray) -> np.ndarray:
    """Cosines of the questions' words, each weighted as grouping does with its own entry left out."""
    users: dict[str, set[int]] = {}
    for index, entry in enumerate(matcher.entries):
        for text in (entry.title, *entry.questions):
            for feature in matcher.features(text):
                users.setdefault(feature, set()).add(index)
    count, unknown = len(matcher.entries), math.log(1 + len(matcher.entries))
    features = features_for(matcher)
    vectorizer = TfidfVectorizer(analyzer=list, sublinear_tf=True, norm=None, dtype=np.float64)
    found = vectorizer.fit_transform([features(t) for t in texts]).tolil()
    names = vectorizer.get_feature_names_out()
    for row, entry in enumerate(own):
        weights = {names[c]: math.log(1 + count / len(rest)) for c in found.rows[row]
                   for part in names[c].split(" ") if (rest := users.get(part, set()) - {int(entry)})}
        found.data[row] = [v * _weight(names[c], weights, unknown) for c, v in zip(found.rows[row], found.data[row])]
    unit = normalize(found.tocsr())
    return (unit @ unit.T).toarray()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=int, default=1500, help="questions drawn from the answering entries")
    args = parser.parse_args()
    matcher = build_replies().matcher
    base = background(matcher)
    if base is None:
        sys.exit("no sentence model: nothing to calibrate")
    texts = [text for entry in matcher.entries for text in (entry.title, *entry.questions)]
    owners = np.array([i for i, entry in enumerate(matcher.entries) for _ in (entry.title, *entry.questions)])
    titles = np.array([j == 0 for entry in matcher.entries for j in range(1 + len(entry.questions))])
    answering = np.array([matcher.entries[o].answers for o in owners])
    pool = np.flatnonzero(answering & ~titles)
    picked = np.random.default_rng(0).choice(pool, min(args.sample, len(pool)), replace=False)
    vectors, own = base[picked], owners[picked]
    near = vectors @ base.T
    near[own[:, None] == owners[None, :]] = -1.0  # the question's own entry is the gap: not in its background
    crowd = np.sort(near, axis=1)[:, -BACKGROUND:].mean(axis=1)
    cosine = vectors @ vectors.T
    upper = np.triu_indices(len(picked), 1)
    same = (own[:, None] == own[None, :])[upper]
    relative = (2 * cosine - crowd[:, None] - crowd[None, :])[upper]
    plain = cosine[upper]
    print(f"{len(picked)} questions of {len(set(own.tolist()))} entries, {same.sum()} pairs from one entry "
          f"of {len(same)}; RELATIVE_SIMILAR now {RELATIVE_SIMILAR}, SIMILAR {SIMILAR}")
    print("1. relative reading alone")
    print("threshold   pairs  precision  recall   | plain cosine at as many pairs: precision  recall")
    chosen = None
    for threshold in np.arange(-0.1, 0.41, 0.05):
        reach = relative >= threshold - 1e-9
        count = int(reach.sum())
        top = np.argsort(-plain)[:count]
        precision = same[reach].mean() if count else 1.0
        if chosen is None and precision >= 0.9:
            chosen = threshold
        print(f"{threshold:9.2f} {count:7d} {precision:10.3f} {reach[same].mean():7.3f}   | "
              f"{same[top].mean() if count else 1.0:38.3f} {same[top].sum() / same.sum():7.3f}")
    print(f"lowest threshold with precision 0.9: {chosen:.2f}" if chosen is not None else "none reaches 0.9")
    combined = ((1 - SEMANTIC_WEIGHT) * words_as_gaps(matcher, [texts[p] for p in picked], own)
                + SEMANTIC_WEIGHT * cosine)[upper]
    print("2. words and cosine (SIMILAR), alone and with the relative reading (RELATIVE_SIMILAR)")
    print("  similar   pairs  precision  recall   | with relative:  pairs  precision  recall")
    for threshold in (0.35, 0.40, SIMILAR, 0.50):
        alone, both = combined >= threshold, (combined >= threshold) | (relative >= RELATIVE_SIMILAR)
        print(f"{threshold:9.2f} {alone.sum():7d} {same[alone].mean():10.3f} {alone[same].mean():7.3f}   | "
              f"{both.sum():14d} {same[both].mean():10.3f} {both[same].mean():7.3f}")


if __name__ == "__main__":
    main()
