"""The blind sets that are spent: each has given its closing figures (README, "Safety" and
"Performance") and now trains the models, one writer per set. After a release's closing run,
raise LAST_SPENT: the phrasings (build_phrasings.py), the risk model (train_risk.py), the
matcher's folds and the safety benchmark's ordinary questions all follow from it."""
from __future__ import annotations

from pathlib import Path

SETS = Path(__file__).resolve().parents[1] / "benchmarks" / "sets"
LAST_SPENT = 18
SPENT_CRISIS_SETS = [SETS / f"crisis-blind-{n}.jsonl" for n in range(1, LAST_SPENT + 1)]
SPENT_QUESTION_SETS = [SETS / f"questions-blind-{n}.jsonl" for n in range(1, LAST_SPENT + 1)]
# Real questions (asked in public, labelled by two helpers) are spent the same way: these gave closing
# figures, were read for their misses, and now teach the matcher as phrasings.
LAST_SPENT_REAL = 10
SPENT_REAL_SETS = [SETS / f"real-questions-{n}.jsonl" for n in range(1, LAST_SPENT_REAL + 1)]
# Unseen until the next closing run: ordinary questions no model has trained on.
NEXT_QUESTION_SET = SETS / f"questions-blind-{LAST_SPENT + 1}.jsonl"
