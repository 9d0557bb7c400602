"""Where grouping's RELATIVE_SIMILAR comes from: the knowledge base's own phrasings, each entry a gap in turn.

    python benchmarks/grouping_calibration.py [--sample 1500]

An unanswered question is one the knowledge base does not answer. To see how the relative reading
(bot/editors/grouping.py: 2 cos(a, b) - crowd(a) - crowd(b)) tells a gap's wordings apart from
other questions, each answering entry's questions are taken as a gap in turn: their crowding is
measured against the rest of the knowledge base (their own entry left out). A pair "should group"
when both questions belong to one entry. Printed for each threshold: how many pairs reach it, the
share of those from one entry (precision) and the share of one entry's pairs that reach it (recall),
beside the plain cosine at the same number of pairs. RELATIVE_SIMILAR is the lowest threshold with a
precision of 0.9. Entries' phrasings only: nothing here reads the held-out sets.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.editors.grouping import BACKGROUND, RELATIVE_SIMILAR, background  # noqa: E402
from bot.signpost import build_replies  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=int, default=1500, help="questions drawn from the answering entries")
    args = parser.parse_args()
    matcher = build_replies().matcher
    base = background(matcher)
    if base is None:
        sys.exit("no sentence model: nothing to calibrate")
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
          f"of {len(same)}; RELATIVE_SIMILAR now {RELATIVE_SIMILAR}")
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


if __name__ == "__main__":
    main()
