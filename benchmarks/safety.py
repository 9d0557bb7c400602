"""Safety check figures on a labelled crisis set: recall per kind, false alarms, latency.

    .venv/bin/python benchmarks/safety.py benchmarks/sets/crisis-blind-1.jsonl [--json] [--misses]

A set is JSON lines with "q", "tier" (crisis | concern | none) and "kind". For each detector
(the rules alone, the risk model alone, both as the bot runs them) it prints, per crisis kind,
the share given the crisis tier and the share given crisis or concern; per near-miss kind,
the share wrongly given the crisis tier; how many crises were answered with a topic (the
whole reply pipeline); and the false-alarm rate on ordinary questions (the dev set's
non-crisis messages and the next unspent question set). Latency is the whole check per message.
"""
from __future__ import annotations

import argparse
import collections
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.crisis import CrisisRules, load_crisis_rules  # noqa: E402
from bot.safety import assess  # noqa: E402
from bot.risk import default_risk_model  # noqa: E402
from bot.signpost import build_replies  # noqa: E402

sys.path.insert(0, str(ROOT / "training"))
from spent import NEXT_QUESTION_SET  # noqa: E402

EMPTY_RULES = CrisisRules(Path("none"), (), None, {})
# Ordinary questions the risk model never trained on: the dev set and the next unspent question set
# (the spent ones train it: training/spent.py).
ORDINARY = [ROOT.parent / "shared" / "eval" / "dev.jsonl", NEXT_QUESTION_SET]


def read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.open(encoding="utf-8") if line.strip()]


def tiers(text: str, rules, model) -> dict[str, str | None]:
    """The tier each detector gives: rules, model, and both together (as the bot runs them)."""
    return {"rules": assess(text, rules, None).tier, "model": assess(text, EMPTY_RULES, model).tier,
            "both": assess(text, rules, model).tier}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("sets", nargs="+", type=Path)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--misses", action="store_true", help="print missed crises and false alarms")
    args = parser.parse_args()
    rules, model = load_crisis_rules(), default_risk_model()
    replies = build_replies()
    rows = [r for path in args.sets for r in read(path)]
    by_kind: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    topic_answered, seconds, misses, alarms = 0, [], [], []
    for row in rows:
        start = time.perf_counter()
        replies.assess(row["q"])
        seconds.append(time.perf_counter() - start)
        got = tiers(row["q"], rules, model)
        counter = by_kind[(row["tier"], row["kind"])]
        counter["n"] += 1
        for detector, tier in got.items():
            counter[f"{detector}:crisis"] += tier == "crisis"
            counter[f"{detector}:any"] += tier is not None
        if row["tier"] == "crisis":
            reply = replies.respond(row["q"])
            topic_answered += reply.outcome == "answer"
            if got["both"] != "crisis":
                misses.append((row["kind"], got["both"], row["q"]))
        elif got["both"] == "crisis":
            alarms.append((row["kind"], row["q"]))
    ordinary = [r["q"] for path in ORDINARY if path.exists() for r in read(path) if r.get("label") != "crisis"]
    ordinary_replies = [replies.respond(q) for q in ordinary]
    ordinary_alarm = sum(r.safety == "crisis" for r in ordinary_replies)
    ordinary_concern = sum(r.safety == "concern" for r in ordinary_replies)
    report = summarise(by_kind, topic_answered, seconds, ordinary_alarm, len(ordinary))
    report["ordinary_questions"]["concern_pct"] = pct(ordinary_concern, len(ordinary))
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_report(report)
    if args.misses:
        for kind, tier, q in misses:
            print(f"MISSED [{kind}] ({tier}) {q}")
        for kind, q in alarms:
            print(f"ALARM [{kind}] {q}")
    return 0


def pct(a: int, b: int) -> float | None:
    return round(100 * a / b, 1) if b else None


def summarise(by_kind, topic_answered, seconds, ordinary_alarm, ordinary_n) -> dict:
    crisis = {k: c for (t, k), c in by_kind.items() if t == "crisis"}
    other = {(t, k): c for (t, k), c in by_kind.items() if t != "crisis"}
    total = lambda group, key: sum(c[key] for c in group.values())  # noqa: E731
    ms = sorted(s * 1000 for s in seconds)
    return {
        "crisis_by_kind": {k: {"n": c["n"], **{f"{d}_crisis_pct": pct(c[f"{d}:crisis"], c["n"]) for d in ("rules", "model", "both")},
                               "both_crisis_or_concern_pct": pct(c["both:any"], c["n"])} for k, c in sorted(crisis.items())},
        "crisis_all": {"n": total(crisis, "n"), **{f"{d}_crisis_pct": pct(total(crisis, f"{d}:crisis"), total(crisis, "n"))
                                                  for d in ("rules", "model", "both")},
                       "both_crisis_or_concern_pct": pct(total(crisis, "both:any"), total(crisis, "n")),
                       "answered_with_a_topic": topic_answered},
        "near_miss_by_kind": {f"{t}/{k}": {"n": c["n"], **{f"{d}_crisis_pct": pct(c[f"{d}:crisis"], c["n"]) for d in ("rules", "model", "both")},
                                          "both_concern_pct": pct(c["both:any"] - c["both:crisis"], c["n"])}
                              for (t, k), c in sorted(other.items())},
        "near_miss_all": {"n": total(other, "n"), **{f"{d}_crisis_pct": pct(total(other, f"{d}:crisis"), total(other, "n"))
                                                    for d in ("rules", "model", "both")}},
        "ordinary_questions": {"n": ordinary_n, "crisis_pct": pct(ordinary_alarm, ordinary_n)},
        "latency_ms": {"p50": round(statistics.median(ms), 2), "p99": round(ms[int(0.99 * (len(ms) - 1))], 2),
                       "max": round(ms[-1], 2)} if ms else {},
    }


def print_report(report: dict) -> None:
    print(f"{'crisis kind':28} {'n':>4} {'rules':>6} {'model':>6} {'both':>6} {'crisis|concern':>15}")
    for kind, c in [*report["crisis_by_kind"].items(), ("ALL", report["crisis_all"])]:
        print(f"{kind:28} {c['n']:>4} {c['rules_crisis_pct']:>6} {c['model_crisis_pct']:>6} {c['both_crisis_pct']:>6} "
              f"{c['both_crisis_or_concern_pct']:>15}")
    print(f"crises answered with a topic: {report['crisis_all']['answered_with_a_topic']}")
    print(f"\n{'near miss (flagged crisis %)':40} {'n':>4} {'rules':>6} {'model':>6} {'both':>6} {'concern':>8}")
    for kind, c in report["near_miss_by_kind"].items():
        print(f"{kind:40} {c['n']:>4} {c['rules_crisis_pct']:>6} {c['model_crisis_pct']:>6} {c['both_crisis_pct']:>6} {c['both_concern_pct']:>8}")
    c = report["near_miss_all"]
    print(f"{'ALL':40} {c['n']:>4} {c['rules_crisis_pct']:>6} {c['model_crisis_pct']:>6} {c['both_crisis_pct']:>6}")
    o = report["ordinary_questions"]
    print(f"\nordinary questions flagged crisis: {o['crisis_pct']}% of {o['n']}; "
          f"answered with the concern line first: {o['concern_pct']}%")
    print(f"latency of the check per message: {report['latency_ms']}")


if __name__ == "__main__":
    sys.exit(main())
