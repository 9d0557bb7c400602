"""The safety check: is someone at risk now (crisis), was or may they be (concern), or neither?

Two detectors, each measured on its own and together (README, "Safety"):
- the rules (knowledge/safety/crisis.yaml): exact, explainable, editable by editors;
- the risk model (bot/risk.py): sentence embeddings and a classifier trained on messages
  written by people who never saw the rules, so it catches what no rule was written for.
Either one is enough for a crisis: a missed emergency costs far more than an odd reply.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from .crisis import CrisisRules, detect_crisis
from .risk import RiskModel
from .smalltalk import smalltalk_kind

Tier = Literal["crisis", "concern"]


@dataclass(frozen=True)
class Assessment:
    tier: Tier | None
    category: str | None = None  # the kind of crisis (a rule category or a model class)

    @property
    def is_crisis(self) -> bool:
        return self.tier == "crisis"


NO_RISK = Assessment(None)
# A whole message made only of these words ("hello again", "ok thanks", "are you a bot") carries
# no risk of its own; the model, reading two words, can be unsure. "bye" is not among them: a
# goodbye can be the warning.
_NO_RISK_SMALLTALK = frozenset({"greeting", "thanks", "acknowledge", "help", "menu"})
# But a bare goodbye is how most conversations end: the model's crisis reading of "bye" or "goodbye"
# (0.63 and 0.99 at the eleventh release: it has two words to go on) is a concern, so the reply says goodbye
# with the safety line first rather than the crisis reply. A rule ("goodbye forever") still makes it a crisis.
_FAREWELL = "bye"
# The goodbye's own cut, fixed rather than a share of the crisis threshold. A model's reading of two words
# moves with each retraining: "bye x" read 0.47 at the tenth release and 0.32 at the eleventh, whose set 13
# missed "...2nite is the nite. bye x". So 0.3: "bye", "bye x", "goodbye" and "night night" keep the line
# ("bye for now", 0.04, does not). At the twelfth release "bye" reads 0.93, "night night" 0.36 and "ok bye"
# 0.45 (0.23 before), so "ok bye" keeps it too; "thanks bye" is thanks. At the thirteenth (writer BG's ordinary
# goodbyes beside suicidal farewells) "bye" reads 0.57, "bye x" 0.51, "goodbye" 0.98, "night night" 0.54 and
# "ok bye" 0.09, which is a plain goodbye again. At the fourteenth (writer BH, crisis set 15, parents' real posts as
# their own writer) "bye" 0.56, "bye x" 0.46, "goodbye" 0.98, "night night" 0.50, "ok bye" 0.08, "thanks bye" 0.07.
# At the fifteenth (writers BK and BN) "bye" 0.55, "bye x" 0.41, "goodbye" 0.99, "night night" 0.59, "ok bye" 0.07,
# "thanks bye" 0.05. Recheck after retraining (a test does).
FAREWELL_CONCERN = 0.3
# A crisis probability this close to the crisis threshold is a concern. Chosen on blind set 1 and
# the question sets: 0.5 put the safety line on 6.7% of ordinary questions, 0.7 on 3.8%, with
# crisis-or-concern recall 99.7% and 99.4% (README, "Safety").
CONCERN_SHARE = 0.7
# Rule categories the model may stand down only when it reads the risk as over: the model knows
# words, not drugs or symptoms, and read "child is unresponsive after taking his dads methadone" as
# no risk at all (blind crisis set 4, the one crisis the release missed); and asking for the means
# to die, which it read as despair ("whats the best way to end things without it hurting", dev set).
# Since crisis set 13: farewells and a chosen time ("i gave all my stuff away", "2nite is the nite. bye x"),
# which the model, short of words, read as calm.
PAST_ONLY_VETO = frozenset({"medical-emergency", "suicide-method", "suicide-farewell"})
# At or above this probability that the risk is over ("took an overdose last month, home now"), a
# rule hit the model does not read as a crisis is a concern. On the spent crisis sets 1-4 it cost no
# crisis and took the crisis reply off 20 points of past-risk near misses (README, "Safety").
PAST_VETO = 0.5
# ...but not when the message says it happened minutes or hours ago: "i took the rest of my sertraline
# about an hour ago. am i ok?" (crisis set 13, after its closing figures) read as over (the "ago"), and an
# overdose or an injury in the last hours is an emergency now. On the 33,375 messages of the last
# retraining's folds, no message the model read as over says this, so it changes nothing else.
WITHIN_HOURS = re.compile(
    r"\b(((an?|one|two|three|four|five|ten|twenty|thirty|forty|\d+|half an?|a half|a few|few|a couple of|couple of)\s+)"
    r"(minutes?|mins?|hours?|hrs?)|an hour|an hr)\s+ago\b|\b(in|within) the (last|past) (few |couple of )?(hour|hours|hrs|minutes?|mins?)\b"
)


# ...nor when it says the danger is tonight or right now: a story that begins with an overdose years ago and
# ends "tonight I found a letter on her pillow and she isn't in the house" reads as over to the model (crisis
# set 16, after its closing run: three such stories got only the concern line). On the fourteenth release's
# folds (34,714 held-out messages) it caught 0.02 points more crises and flagged one more past-risk near miss;
# of the 1,274 messages in the spent blind sets, real sets and question writers' files that say "tonight" or
# "right now", it changes the tier of those three crises only. One pattern for both: hours ago, tonight, right now.
DANGER_NOW = re.compile(rf"{WITHIN_HOURS.pattern}|\b(tonight|right now)\b")


def assess(text: str, rules: CrisisRules, model: RiskModel | None) -> Assessment:
    """The safety tier of one message; the rules run first because they cost nothing."""
    if not text or not text.strip():
        return NO_RISK
    hit = detect_crisis(text, rules)
    if model is None:
        return Assessment("crisis", hit.category) if hit is not None else NO_RISK
    kind = smalltalk_kind(text)
    if hit is None and kind in _NO_RISK_SMALLTALK:
        return NO_RISK
    score = model.score(text)
    if hit is None and kind == _FAREWELL:
        return Assessment("concern", score.category) if score.crisis >= FAREWELL_CONCERN else NO_RISK
    # The risk read as over ("tried to hang himself last yr, camhs involved now n hes doing better")
    # is not a crisis however alarming its words: on leave-one-writer-out folds of 21,050 messages
    # this took the crisis reply off 25 past-risk, past-emergency and SEND-behaviour near misses
    # (hard near misses 9.0% -> 8.5%) and cost no crisis. It stays at least a concern (below).
    read_as_over = score.past >= PAST_VETO
    recent = DANGER_NOW.search(text.lower()) is not None
    over = read_as_over and not recent
    if score.crisis >= model.crisis_threshold and not over:
        return Assessment("crisis", score.category)
    concern = score.concern >= model.concern_threshold or score.crisis >= CONCERN_SHARE * model.crisis_threshold
    if hit is not None:
        # The rules read words, not time or tone: "she self-harmed two years ago" and "this form
        # makes me want to throw myself off a cliff" fire them. A rule hit becomes a concern when the
        # model, not reading a crisis, reads the risk as over, or reads neither a crisis nor an
        # ongoing, uncertain risk (a joke, a film). Never less than a concern: "how do I apply for an
        # EHCP, I want to kill myself" is a crisis the model alone misses, and a passive wish to die
        # ("everyone would be better off without me") stays a crisis. Nor is it calm when the model reads the
        # risk as over but the message says hours ago, tonight or right now: its low crisis reading then comes
        # from reading the risk as over.
        calm = score.crisis < model.rule_veto and score.concern - score.past < model.rule_veto_uncertain \
            and hit.category not in PAST_ONLY_VETO and not (read_as_over and recent)
        return Assessment("concern" if over or calm else "crisis", hit.category)
    if concern:
        return Assessment("concern", None)
    return NO_RISK
