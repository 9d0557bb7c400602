"""The safety check: is someone at risk now (crisis), was or may they be (concern), or neither?

Two detectors, each measured on its own and together (README, "Safety"):
- the rules (knowledge/safety/crisis.yaml): exact, explainable, editable by editors;
- the risk model (bot/risk.py): sentence embeddings and a classifier trained on messages
  written by people who never saw the rules, so it catches what no rule was written for.
Either one is enough for a crisis: a missed emergency costs far more than an odd reply.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .crisis import CrisisRules, detect_crisis
from .risk import RiskModel

Tier = Literal["crisis", "concern"]


@dataclass(frozen=True)
class Assessment:
    tier: Tier | None
    category: str | None = None  # the kind of crisis (a rule category or a model class)
    source: str | None = None  # "rules" or "model": which detector decided

    @property
    def is_crisis(self) -> bool:
        return self.tier == "crisis"


NO_RISK = Assessment(None)


def assess(text: str, rules: CrisisRules, model: RiskModel | None) -> Assessment:
    """The safety tier of one message; the rules run first because they cost nothing."""
    if not text or not text.strip():
        return NO_RISK
    hit = detect_crisis(text, rules)
    if model is None:
        return Assessment("crisis", hit.category, "rules") if hit is not None else NO_RISK
    score = model.score(text)
    if score.crisis >= model.crisis_threshold:
        return Assessment("crisis", score.category, "model")
    concern = score.concern >= model.concern_threshold or score.crisis >= model.crisis_threshold / 2
    if hit is not None:
        # The rules read words, not time or context: "she self-harmed two years ago" and "a film
        # about suicide" fire them. When the model finds no risk now and little uncertain risk,
        # the rule hit stands down (to a concern if the model sees one). Measured on blind sets:
        # the rules alone caught no crisis there that the model missed (README, "Safety").
        if score.crisis < model.rule_veto and score.concern - score.past < model.rule_veto_uncertain:
            return Assessment("concern" if concern else None, hit.category if concern else None, "rules")
        return Assessment("crisis", hit.category, "rules")
    if concern:
        return Assessment("concern", None, "model")
    return NO_RISK
