"""Train the risk model (bot/models/risk.npz and risk.json) from the training messages.

Build-time only; needs scikit-learn beside the bot's own dependencies. From the project root:

    /tmp/build/bin/pip install scikit-learn -e .
    /tmp/build/bin/python training/train_risk.py [FOLDS.npz]   # optionally saves the folds' scores

Data (all written by writers who never saw the crisis rules, the dev set or the blind sets):
- training/crisis/writer-*.jsonl: crises of ten kinds, concern (past or uncertain risk) and
  near misses, one writer per file, each in its own voices;
- the spent blind crisis sets (SPENT_CRISIS_SETS): once a blind set has given closing figures it
  is no longer evidence, and its writer's voice is worth more as training;
- training/questions/writer-*.jsonl and the spent blind question sets: questions written for the
  matcher, ordinary however worried they sound (a held-out writer in the folds, so it also
  measures false alarms);
- the bundled knowledge base's example questions and out-of-scope phrasings: ordinary questions;
- a fixed sample of CLINC150's training split (../shared/clinc150): everyday requests.

Thresholds are chosen on leave-one-writer-out folds: for each writer, a model trained on
the others scores that writer's messages, so the threshold is set on messages the model
has not seen, in a voice it has not seen. The blind sets in benchmarks/sets/ not yet spent are
never read here.
"""
from __future__ import annotations

import glob
import hashlib
import json
import os
import random
import sys
from pathlib import Path

import numpy as np
from joblib import Parallel, delayed
from scipy.sparse import csr_matrix, hstack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.knowledge import BUNDLED_DIR, load_knowledge  # noqa: E402
from bot.crisis import detect_crisis, load_crisis_rules  # noqa: E402
from bot.safety import PAST_ONLY_VETO, PAST_VETO  # noqa: E402
from bot.ngrams import Ngrams  # noqa: E402
from bot.risk import CHAR_NGRAMS, CONCERN_CLASSES, WORD_NGRAMS, RiskModel  # noqa: E402
from bot.semantic import MODELS_DIR, default_encoder, pieces, unit_mean  # noqa: E402
from build_phrasings import REAL_TRAINING, UNSPENT_REAL_SETS, read  # noqa: E402
from spent import SPENT_CRISIS_SETS, SPENT_QUESTION_SETS, SPENT_REAL_SETS  # noqa: E402
from bot.text import fold  # noqa: E402

CLINC = ROOT.parent / "shared" / "clinc150" / "data_full.json"
CLINC_SAMPLE = 1500
C = 8.0
# A rule hit stands down only when the model reads the message as neither a crisis nor an ongoing,
# uncertain risk (despair, a passive wish to die): below this probability of uncertain risk. The risk
# is then over ("she self-harmed two years ago") or the words are figurative or fiction.
UNCERTAIN_VETO = 0.5
# Recall wanted on held-out writers before false alarms are looked at.
TARGET_RECALL = 0.98
# ...and in every kind of crisis at least this (the issue asks 95% in each on unseen writers).
WORST_KIND_RECALL = 0.95
# One sentence alone makes a crisis only at one of these probabilities, 0.95 or above, whatever the folds
# would choose. They chose 0.9 once; on blind sets from writers the model never trained on (crisis sets 1-3:
# writers A, B, L; question sets 1-4), 0.95 caught every crisis 0.9 caught and put the crisis reply
# on 7 of 504 ordinary questions of set 4 instead of 12: one worried sentence in a long story.
PIECE_THRESHOLDS = (0.95, 0.96, 0.97, 0.975, 0.98, 0.985, 0.99)
# False alarms allowed on held-out writers: the issue allows 10% of hard near misses and 1% of
# ordinary questions; these keep a margin. Within them, the most crises caught: the fewest false
# alarms at 98% recall (the rule until the ninth release) chose 0.725 for the model of 37 writers,
# 0.33 points of recall for 0.2 points of near misses, and blind crisis set 10 lost four crises.
NEAR_MISS_BUDGET = 0.09
ORDINARY_BUDGET = 0.009
# Folds trained at once (processes): SIGNPOST_FOLD_JOBS, default 1; the folds' results are the same.
FOLD_JOBS = int(os.environ.get("SIGNPOST_FOLD_JOBS", "1"))


def load_rows() -> list[dict]:
    rows: list[dict] = []
    for path in [*sorted(glob.glob(str(ROOT / "training" / "crisis" / "writer-*.jsonl"))), *SPENT_CRISIS_SETS]:
        for line in open(path, encoding="utf-8"):
            if line.strip():
                row = json.loads(line)
                # Concern keeps its two kinds apart: a past risk may overrule a rule, an uncertain one may not.
                label = row["kind"] if row["tier"] != "none" else "none"
                if row["tier"] == "concern" and label not in CONCERN_CLASSES:
                    label = "uncertain-risk"
                rows.append({"q": row["q"], "label": label, "writer": row["writer"], "tier": row["tier"], "kind": row["kind"]})
    # Questions writers wrote for the matcher (training/questions/): ordinary, however worried
    # they sound ("he's bigger than me now and I'm scared when he kicks off, where do I go for help").
    written: set[str] = set()
    real: set[str] = set()
    for path in [*sorted(glob.glob(str(ROOT / "training" / "questions" / "writer-*.jsonl"))), *SPENT_QUESTION_SETS]:
        for line in open(path, encoding="utf-8"):
            if line.strip():
                row = json.loads(line)
                written.add(row["q"].strip())
                rows.append({"q": row["q"], "label": "none", "writer": row["writer"], "tier": "none", "kind": "ordinary"})
    # Questions parents asked in public (the spent real question sets and those gathered for training),
    # the out-of-scope ones too: one more "writer", so a fold measures false alarms on real parents' long
    # posts, whose single sentences ("he's had hands round his throat") alarm the model most.
    unseen_pages = {row["source"] for path in UNSPENT_REAL_SETS for row in read(path)}
    for path in [*SPENT_REAL_SETS, *REAL_TRAINING]:
        for row in read(path):
            if row.get("source") not in unseen_pages and fold(row["q"]) not in real:
                real.add(fold(row["q"]))
                rows.append({"q": row["q"].strip(), "label": "none", "writer": "real", "tier": "none", "kind": "ordinary"})
    knowledge = load_knowledge(BUNDLED_DIR)
    for entry in knowledge.entries:
        # knowledge/phrasings.yaml holds the writers' and parents' questions again: they stay with their
        # writer, so that leaving a writer out leaves all of their messages out.
        for question in (q for q in entry.questions if q not in written and fold(q) not in real):
            rows.append({"q": question, "label": "none", "writer": "kb", "tier": "none", "kind": "ordinary"})
    if CLINC.exists():
        data = json.loads(CLINC.read_text())
        sample = random.Random(7).sample(data["train"] + data["oos_train"], CLINC_SAMPLE)
        rows += [{"q": q, "label": "none", "writer": "clinc", "tier": "none", "kind": "ordinary"} for q, _ in sample]
    return rows


def whole_vectors(texts: list[str]) -> np.ndarray:
    encoder = default_encoder()
    return np.array([unit_mean(encoder.embed(pieces(t, clauses=True))) for t in texts], dtype=np.float32)


def fit(texts: list[str], x: np.ndarray, y: list[str]) -> RiskModel:
    """Vectorizers and classifier fitted on these messages, as the bot will run them."""
    words = TfidfVectorizer(min_df=2, **WORD_NGRAMS).fit(texts)
    chars = TfidfVectorizer(min_df=3, **CHAR_NGRAMS).fit(texts)
    features = hstack([csr_matrix(x), words.transform(texts), chars.transform(texts)]).tocsr()
    model = LogisticRegression(C=C, max_iter=5000, class_weight="balanced").fit(features, y)
    coef = model.coef_.astype(np.float32)
    n_words = len(words.vocabulary_)
    return RiskModel(
        classes=tuple(model.classes_), embedding_weights=coef[:, :384], word_weights=coef[:, 384:384 + n_words],
        char_weights=coef[:, 384 + n_words:], bias=model.intercept_.astype(np.float32),
        words=Ngrams.from_vectorizer(words, WORD_NGRAMS), chars=Ngrams.from_vectorizer(chars, CHAR_NGRAMS),
        crisis_threshold=0.5, piece_threshold=0.5, concern_threshold=0.5, rule_veto=0.0, rule_veto_uncertain=UNCERTAIN_VETO,
        encoder=default_encoder(),
    )


def held_out_scores(rows: list[dict], x: np.ndarray) -> list[tuple[dict, float, float, float, str, float]]:
    """Each writer's messages scored by a model trained without that writer:
    (row, whole, piece, uncertain risk, the rule category that fired or "", past risk)."""
    writers = sorted({r["writer"] for r in rows} - {"kb", "clinc"})
    # One fold per writer, FOLD_JOBS at a time (each in its own process, with its own encoder).
    folds = Parallel(n_jobs=FOLD_JOBS)(delayed(held_out_fold)(rows, x, writer) for writer in writers)
    return [result for fold in folds for result in fold]


def held_out_fold(rows: list[dict], x: np.ndarray, writer: str) -> list[tuple[dict, float, float, float, str, float]]:
    rules = load_crisis_rules()
    train = [i for i, r in enumerate(rows) if r["writer"] != writer]
    risk = fit([rows[i]["q"] for i in train], x[train], [rows[i]["label"] for i in train])
    results = []
    for r in rows:
        if r["writer"] == writer:
            whole, piece, concern, past, _ = risk.parts(r["q"])
            hit = detect_crisis(r["q"], rules)
            results.append((r, whole, piece, concern - past, hit.category if hit else "", past))
    return results


def as_arrays(results) -> dict[str, np.ndarray]:
    return {
        "whole": np.array([r[1] for r in results]), "piece": np.array([r[2] for r in results]),
        "uncertain": np.array([r[3] for r in results]), "ruled": np.array([bool(r[4]) for r in results]),
        "past_only": np.array([r[4] in PAST_ONLY_VETO for r in results]), "past": np.array([r[5] for r in results]),
        "crisis": np.array([r[0]["tier"] == "crisis" for r in results]),
        "kind": np.array([r[0]["kind"] for r in results]),
    }


def flagged(a: dict[str, np.ndarray], whole_t: float, piece_t: float, veto: float) -> np.ndarray:
    """As bot/safety.py decides: the model, or the rules unless the model reads no risk now.

    (A floor under which any rule hit stands down was tried: on held-out writers it cost no crisis,
    but on the dev set it lost the passive wishes to die the rules were written for, "everyone would
    be better off without me" among them, which some writers label uncertain risk. So a rule hit
    stands down only when the model reads neither a crisis nor an uncertain risk, or reads the risk
    as over.)"""
    over = a["past"] >= PAST_VETO
    model = ((a["whole"] >= whole_t) | (a["piece"] >= piece_t)) & ~over
    calm = (a["whole"] < veto) & (a["uncertain"] < UNCERTAIN_VETO) & ~a["past_only"]
    return model | (a["ruled"] & ~(calm | over))


def rates(a: dict[str, np.ndarray], whole_t: float, piece_t: float, veto: float) -> tuple[float, float, float]:
    """(crisis recall, worst recall of any one kind, share of the rest flagged)."""
    return _rates_of(a, flagged(a, whole_t, piece_t, veto))


def _rates_of(a: dict[str, np.ndarray], hit: np.ndarray) -> tuple[float, float, float]:
    kinds = [hit[a["crisis"] & (a["kind"] == k)].mean() for k in np.unique(a["kind"][a["crisis"]])]
    return float(hit[a["crisis"]].mean()), float(min(kinds)), float(hit[~a["crisis"]].mean())


def choose_on(a: dict[str, np.ndarray]) -> tuple[float, float, float, dict]:
    """The thresholds that catch the most crises on held-out writers while the false alarms stay
    inside the issue's budgets with a margin (NEAR_MISS_BUDGET, ORDINARY_BUDGET), among those
    reaching the target recall overall and (a little lower) in every kind; if none stays inside
    the budgets, the fewest false alarms at the target recall."""
    hard = ~a["crisis"] & (a["kind"] != "ordinary")
    ordinary = a["kind"] == "ordinary"
    safest = cheapest = None
    for veto in (0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3):
        for whole_t in np.arange(0.05, 0.95, 0.025):
            for piece_t in (p for p in PIECE_THRESHOLDS if p >= whole_t):
                hit = flagged(a, whole_t, piece_t, veto)
                recall, worst, false = _rates_of(a, hit)
                if recall < TARGET_RECALL or worst < WORST_KIND_RECALL:
                    continue
                found = (float(whole_t), float(piece_t), veto, false, recall, worst)
                if cheapest is None or false < cheapest[3]:
                    cheapest = found
                if hit[hard].mean() <= NEAR_MISS_BUDGET and hit[ordinary].mean() <= ORDINARY_BUDGET and (
                        safest is None or (recall, worst, -false) > (safest[4], safest[5], -safest[3])):
                    safest = found
    best = safest or cheapest
    assert best is not None, "no thresholds reach the target recall"
    whole_t, piece_t, veto, false, recall, worst = best
    return whole_t, piece_t, veto, {"crisis_recall": round(recall, 4), "worst_kind_recall": round(worst, 4),
                                    "near_miss_flagged": round(false, 4), "within_budgets": safest is not None}


def main() -> int:
    if sys.argv[1:2] == ["--thresholds-from"]:
        return thresholds_from(Path(sys.argv[2]))
    rows = load_rows()
    print(f"{len(rows)} training messages", file=sys.stderr)
    texts = [r["q"] for r in rows]
    x = whole_vectors(texts)
    results = held_out_scores(rows, x)
    arrays = as_arrays(results)
    for t in (0.2, 0.3, 0.4, 0.5, 0.6, 0.7):
        recall, worst, false = rates({**arrays, "ruled": np.zeros_like(arrays["ruled"])}, t, 1.1, 0.0)
        print(f"model alone, whole message {t}: recall {recall:.3f} (worst kind {worst:.3f}), "
              f"near misses flagged {false:.3f}", file=sys.stderr)
    if len(sys.argv) > 1:  # a file for the folds' scores: policies can then be studied without retraining
        np.savez(sys.argv[1], q=np.array([r[0]["q"] for r in results]), writer=np.array([r[0]["writer"] for r in results]),
                 tier=np.array([r[0]["tier"] for r in results]), **arrays)
    thresholds = chosen_thresholds(arrays)
    risk = fit(texts, x, [r["label"] for r in rows])
    np.savez_compressed(
        MODELS_DIR / "risk.npz", embedding_weights=risk.embedding_weights, word_weights=risk.word_weights,
        char_weights=risk.char_weights, bias=risk.bias, word_idf=np.asarray(risk.words.idf, dtype=np.float32),
        char_idf=np.asarray(risk.chars.idf, dtype=np.float32),
    )
    vocabulary = {"words": list(risk.words.vocabulary), "chars": list(risk.chars.vocabulary)}
    (MODELS_DIR / "risk-vocabulary.json").write_text(json.dumps(vocabulary, ensure_ascii=False) + "\n", encoding="utf-8")
    info = {
        "classes": list(risk.classes),
        **thresholds,
        "trained_on": {w: sum(r["writer"] == w for r in rows) for w in sorted({r["writer"] for r in rows})},
        "regularisation_C": C,
        "sha256": {name: hashlib.sha256((MODELS_DIR / name).read_bytes()).hexdigest()
                   for name in ("risk.npz", "risk-vocabulary.json")},
        "built_by": "training/train_risk.py: scikit-learn LogisticRegression over the bot/models/minilm-int8.onnx "
                    "embedding and word and character TF-IDF n-grams",
    }
    (MODELS_DIR / "risk.json").write_text(json.dumps(info, indent=2) + "\n")
    print(json.dumps(info, indent=2))
    return 0


def chosen_thresholds(arrays: dict[str, np.ndarray]) -> dict:
    """risk.json's thresholds and the folds' figures at them."""
    whole_t, piece_t, veto, report = choose_on(arrays)
    return {"crisis_threshold": round(whole_t, 4), "piece_threshold": round(piece_t, 4), "concern_threshold": 0.5,
            "rule_veto": veto, "rule_veto_uncertain": UNCERTAIN_VETO, "leave_one_writer_out": report}


def thresholds_from(folds: Path) -> int:
    """`--thresholds-from FOLDS.npz`: choose the thresholds again on the folds' scores a run saved, and write
    them into risk.json beside the model that run trained (a change of policy, not of model, needs no
    retraining: the folds and the model do not depend on the thresholds, so a whole run gives the same)."""
    saved = np.load(folds)
    arrays = {name: saved[name] for name in ("whole", "piece", "uncertain", "ruled", "past_only", "past", "crisis", "kind")}
    path = MODELS_DIR / "risk.json"
    info = json.loads(path.read_text())
    info.update(chosen_thresholds(arrays))
    path.write_text(json.dumps(info, indent=2) + "\n")
    print(json.dumps({k: v for k, v in info.items() if k not in ("trained_on", "sha256")}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
