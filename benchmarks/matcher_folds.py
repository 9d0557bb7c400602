"""The matcher's k-fold figures by writer: each writer's questions answered by a bot built without them.

    .venv/bin/python benchmarks/matcher_folds.py [--real] [--writers V,W] [--curve] [--json]

knowledge/phrasings.yaml holds questions from several writers (training/build_phrasings.py:
writers Q, V, W, X, Y and the spent blind sets' writers E, F, M, S, Z, P, AB, AG). For each writer in turn,
the bundled knowledge base is loaded, that writer's phrasings are taken out of every entry (the
knowledge base's own example questions and the other writers' stay), the matcher is built
again, and that writer's questions are answered as `main.py answer --jsonl` answers them, then
scored by ../shared/eval/score.py's rules. So each figure is on a voice the matcher did not
learn from; the shipped thresholds are used unchanged. The dev set and the unspent blind sets
are not read here.

--curve: the trade-off between answering and abstaining on the same folds. For each pair of
the answer threshold and the answer margin in CURVE (the shipped pair among them), every
writer's questions are decided again (the ranking does not depend on these two, so it is
computed once), and the figures are pooled over all writers' questions; then the same for the margin
and clarify window of long messages (LONG_MESSAGE characters or more) alone, and for how close behind
the best answer an out-of-scope entry leaves a question unanswered.

--real: the folds are the spent real question sets and the real questions gathered for training
(training/questions/real-train-*.jsonl): questions asked in public, each set held out in turn.
"""
from __future__ import annotations

import argparse
import dataclasses
import functools
import importlib.util
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "training"))

from build_phrasings import REAL_TRAINING, SPENT_REAL_SETS, SPENT_SETS, WRITERS  # noqa: E402
from bot.crisis import load_crisis_rules  # noqa: E402
from bot.knowledge import BUNDLED_DIR, Knowledge, load_knowledge  # noqa: E402
from bot.matcher import Matcher  # noqa: E402
from bot.replies import Replies  # noqa: E402
from bot.text import fold  # noqa: E402

SCORER = ROOT.parent / "shared" / "eval" / "score.py"
QUESTIONS = ROOT / "training" / "questions"
REPORTED = ("top1_pct", "resolved_pct", "wrong_answer_pct", "oos_abstain_pct", "false_crisis_pct")
CURVE_ANSWER = (0.22, 0.26, 0.30, 0.34, 0.38, 0.42)
CURVE_MARGIN = (0.02, 0.05, 0.08, 0.12, 0.16)
# Long messages: (margin, window) pairs; a margin wider than the window would change nothing, since only
# candidates within the window can be offered instead.
CURVE_LONG = ((0.08, 0.10), (0.12, 0.14), (0.16, 0.18), (0.20, 0.22))
# How close behind the best answer an out-of-scope entry must be to leave the question unanswered.
CURVE_OUT_OF_SCOPE = (None, 0.02, 0.03, 0.04, 0.06)


def load_scorer():
    """../shared/eval/score.py, for its verdict and metrics: the same rules as every other figure."""
    spec = importlib.util.spec_from_file_location("score", SCORER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def writers_questions(real: bool = False) -> dict[str, list[dict]]:
    """Each writer's questions as score.py items: label a topic id or "none", also_ok a list
    (writers marked out of scope as "none", "out-of-scope" or no topic at all). real: the questions
    asked in public instead, a set (its "writer") at a time."""
    by_writer: dict[str, list[dict]] = {}
    paths = [*SPENT_REAL_SETS, *REAL_TRAINING] if real else [QUESTIONS / f"writer-{w}.jsonl" for w in WRITERS] + SPENT_SETS
    for path in paths:
        for line in path.open(encoding="utf-8"):
            if line.strip():
                row = json.loads(line)
                label = row.get("label") or row.get("topic")
                label = "none" if label in (None, "none", "out-of-scope") else label
                by_writer.setdefault(row["writer"], []).append(
                    {"q": row["q"], "label": label, "also_ok": row.get("also_ok") or []})
    return by_writer


def without(knowledge: Knowledge, texts: set[str]) -> Knowledge:
    """The knowledge base with these phrasings taken out of every entry (its own questions stay)."""
    entries = []
    for entry in knowledge.entries:
        own = len(entry.questions) - entry.added_questions
        added = tuple(q for q in entry.questions[own:] if fold(q) not in texts)
        entries.append(dataclasses.replace(entry, questions=entry.questions[:own] + added, added_questions=len(added)))
    return dataclasses.replace(knowledge, entries=tuple(entries))


def fold_replies(knowledge: Knowledge, items: list[dict]) -> Replies:
    """The bot without these questions' phrasings; rankings kept, so a curve ranks each question once."""
    held_out = without(knowledge, {fold(item["q"]) for item in items})
    matcher = Matcher(held_out)
    matcher.rank = functools.lru_cache(maxsize=None)(matcher.rank)  # depends on the text alone
    return Replies(held_out, matcher, load_crisis_rules())


def verdicts(replies: Replies, items: list[dict], scorer) -> list[str]:
    found = []
    for item in items:
        reply = replies.respond(item["q"])
        found.append(scorer.verdict(item, {"outcome": reply.outcome, "topic": reply.topic,
                                           "options": list(reply.options)}))
    return found


def curve(replies_by_writer: dict[str, Replies], items_by_writer: dict[str, list[dict]], scorer) -> None:
    """Pooled figures for each (answer, margin) pair: what each costs in wrong answers and clarifies."""
    shipped = next(iter(replies_by_writer.values())).matcher.thresholds
    print(f"\n{'answer':>6} {'margin':>6}  {'top1':>5} {'resolved':>8} {'wrong':>5} {'oos left':>8}")
    for answer in CURVE_ANSWER:
        for margin in CURVE_MARGIN:
            m = pooled(replies_by_writer, items_by_writer, dataclasses.replace(shipped, answer=answer, margin=margin),
                       scorer)
            mark = "  <- shipped" if (answer, margin) == (shipped.answer, shipped.margin) else ""
            print(f"{answer:6.2f} {margin:6.2f}  {_row(m)}{mark}", flush=True)
    print(f"\nlong messages: {'margin':>6} {'window':>6}  {'top1':>5} {'resolved':>8} {'wrong':>5} {'oos left':>8}")
    for margin, window in CURVE_LONG:
        thresholds = dataclasses.replace(shipped, long_margin=margin, long_window=window)
        m = pooled(replies_by_writer, items_by_writer, thresholds, scorer)
        mark = "  <- shipped" if (margin, window) == (shipped.long_margin, shipped.long_window) else ""
        print(f"{'':14} {margin:6.2f} {window:6.2f}  {_row(m)}{mark}", flush=True)
    print(f"\nout-of-scope margin: {'margin':>6}  {'top1':>5} {'resolved':>8} {'wrong':>5} {'oos left':>8}")
    for margin in CURVE_OUT_OF_SCOPE:
        m = pooled(replies_by_writer, items_by_writer, dataclasses.replace(shipped, out_of_scope_margin=margin), scorer)
        mark = "  <- shipped" if margin == shipped.out_of_scope_margin else ""
        print(f"{'':20} {str(margin):>6}  {_row(m)}{mark}", flush=True)
    for replies in replies_by_writer.values():
        replies.matcher.thresholds = shipped


def _row(m: dict) -> str:
    """A curve row's figures: top-1, answered right or clarified, wrong, out of scope left."""
    return f"{m['top1_pct']:5.1f} {m['resolved_pct']:8.1f} {m['wrong_answer_pct']:5.1f} {m['oos_abstain_pct']:8.1f}"


def pooled(replies_by_writer: dict[str, Replies], items_by_writer: dict[str, list[dict]], thresholds, scorer) -> dict:
    """score.py's figures over every writer's questions, each decided with these thresholds."""
    items, found = [], []
    for writer, replies in replies_by_writer.items():
        replies.matcher.thresholds = thresholds
        items += items_by_writer[writer]
        found += verdicts(replies, items_by_writer[writer], scorer)
    return scorer.metrics(items, found)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--writers", help="comma-separated writer letters (default: all)")
    parser.add_argument("--curve", action="store_true", help="the answer/abstain trade-off on the same folds")
    parser.add_argument("--real", action="store_true", help="folds of questions asked in public, a set at a time")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    scorer = load_scorer()
    knowledge = load_knowledge(BUNDLED_DIR)
    by_writer = writers_questions(args.real)
    chosen = args.writers.split(",") if args.writers else sorted(by_writer)
    results: dict[str, dict] = {}
    built: dict[str, Replies] = {}
    for writer in chosen:
        start = time.perf_counter()
        items = by_writer[writer]
        built[writer] = fold_replies(knowledge, items)
        results[writer] = scorer.metrics(items, verdicts(built[writer], items, scorer))
        figures = "  ".join(f"{k.removesuffix('_pct')} {results[writer][k]}" for k in REPORTED)
        print(f"writer {writer}: {results[writer]['questions']:4} questions  {figures}  "
              f"({time.perf_counter() - start:.0f} s)", flush=True)
        if not args.curve:
            del built[writer]  # a matcher each is a lot of memory
    means = {k: round(statistics.mean(r[k] for r in results.values() if r[k] is not None), 1) for k in REPORTED}
    print("mean over writers: " + "  ".join(f"{k.removesuffix('_pct')} {v}" for k, v in means.items()))
    if args.curve:
        curve(built, {w: by_writer[w] for w in chosen}, scorer)
    if args.json:
        print(json.dumps({"writers": results, "mean": means}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
