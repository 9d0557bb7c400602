"""Build the replies the bot gives for each outcome, from the knowledge base.

Everything here is stateless: the same text always gives the same reply, which is
what the batch command (`main.py answer --jsonl`) relies on.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field, replace
from functools import lru_cache

from .adults import ADULT_SERVICES_ENTRY, adult_asking_for_self
from .ahead import Ahead
from .contacts import contacts_for
from .crisis import CrisisRules
from .fragments import is_fragment
from .emergency import CONCERN_LINE, DANGER_FOOTER, LocalLines, emergency_reply
from .knowledge import Areas, Entry, Knowledge, Service
from .matcher import Decision, Matcher
from .messages import Choice, Reply
from .risk import RiskModel, default_risk_model
from .safety import Assessment, assess
from .smalltalk import smalltalk_kind
from .text import fold

UNANSWERED = (
    "Sorry, I don't have a good answer to that yet. I have passed your question to the "
    "people who write these answers, so they can add one.\n\n"
    "For now, the Local Offer lists SEND support in Herefordshire, and SENDIASS gives free, "
    "impartial advice. Type MENU to see the topics I can help with."
)
UNANSWERED_SMS = (
    "Sorry, I don't have an answer to that yet. I have passed it on. SENDIASS gives free SEND advice, "
    "and the Herefordshire Local Offer lists support. Text MENU for topics."
)
GREETING = (
    "Hello. I can help you find support for a child or young person with special educational "
    "needs or a disability (SEND) in Herefordshire. Ask me a question in your own words, or pick a topic."
)
SMALLTALK = {
    "thanks": "You're welcome. Ask me anything else, or type MENU to see the topics.",
    "bye": "Take care. You can message me again any time.",
    "acknowledge": "OK. Ask me a question whenever you like, or type MENU to see the topics.",
    "help": (
        "I'm a computer, not a person. I answer questions about support for children and young people "
        "with special educational needs or disabilities (SEND) in Herefordshire, using answers checked "
        "against council, NHS and government sources.\n\nAsk in your own words, for example \"how do I get an EHC plan?\" "
        "or \"help while we wait for an autism assessment\". Type MENU to see the topics. "
        "If anyone is in danger now, call 999."
    ),
    "menu": "Here are the topics I can help with. Pick one:",
    "empty": "Please type your question, or type MENU to see the topics.",
}
FRAGMENT = (
    "I'm not sure what that refers to. Please ask your whole question in one message, for example "
    "\"can the school refuse to assess my son for an EHC plan?\" Type MENU to see the topics."
)
NOTHING_MORE = "There is nothing more to show just now. Pick a topic, or ask a question in your own words."
UNANSWERED_SERVICES = ("local-offer", "sendiass")
ASSESSMENTS_KEPT = 4096  # recent messages' safety checks, as the encoder keeps their vectors
_FIRST_SENTENCES = re.compile(r"(?s)^(.{40,240}?[.!?])(\s|$)")


def short_text(entry: Entry) -> str:
    """The SMS version: the entry's own `sms`, else its first sentences."""
    if entry.sms:
        return entry.sms
    first = entry.answer.split("\n\n", 1)[0]
    found = _FIRST_SENTENCES.match(first)
    return found.group(1) if found else first[:240]


@dataclass(frozen=True)
class Replies:
    knowledge: Knowledge
    matcher: Matcher
    crisis_rules: CrisisRules
    # The risk model is on unless a caller switches it off (benchmarks of the rules alone).
    risk: RiskModel | None = field(default_factory=default_risk_model)

    def menu(self) -> Reply:
        choices = tuple(Choice(f"group:{g.id}", g.title) for g in self.knowledge.groups)
        return Reply("smalltalk", SMALLTALK["menu"], choices=choices, kind="menu")

    def group(self, group_id: str) -> Reply | None:
        group = next((g for g in self.knowledge.groups if g.id == group_id), None)
        if group is None:
            return None
        choices = tuple(Choice(e.id, e.title) for t in group.topics if (e := self.knowledge.entry(t)))
        return Reply("smalltalk", f"{group.title}: pick a topic.", choices=choices, kind="menu")

    def nothing_more(self) -> Reply:
        """"more" with no answer to expand: say so, and offer the menu instead of guessing a topic."""
        return Reply("smalltalk", NOTHING_MORE, choices=self.menu().choices, kind="nothing-more")

    def smalltalk(self, kind: str) -> Reply:
        if kind == "menu":
            return self.menu()
        if kind == "greeting":
            return Reply("smalltalk", GREETING, choices=self.menu().choices, kind=kind)
        return Reply("smalltalk", SMALLTALK[kind], kind=kind)

    def answer(self, entry: Entry, score: float, now: dt.datetime | None = None, kind: str | None = None) -> Reply:
        related = tuple(Choice(r, e.title) for r in entry.related if (e := self.knowledge.entry(r)))
        return Reply(
            "answer", entry.answer, short=short_text(entry), topic=entry.id, title=entry.title,
            score=score, related=related, contacts=contacts_for(entry.services, self.knowledge, now), kind=kind,
            sources=entry.sources,
        )

    def clarify(self, decision: Decision) -> Reply:
        choices = tuple(Choice(c.entry.id, c.entry.title) for c in decision.candidates)
        return Reply("clarify", "I'm not sure which of these you mean. Please pick one:", choices=choices,
                     score=decision.score, options=tuple(c.id for c in choices), footer=DANGER_FOOTER)

    def fragment(self) -> Reply:
        """A follow-up that names no subject ("and if they say no?"): ask for the whole question
        rather than guess a topic from its one or two generic words."""
        return Reply("unanswered", FRAGMENT, short=FRAGMENT, kind="fragment", footer=DANGER_FOOTER)

    def unanswered(self, score: float, now: dt.datetime | None = None) -> Reply:
        contacts = contacts_for(UNANSWERED_SERVICES, self.knowledge, now)
        return Reply("unanswered", UNANSWERED, short=UNANSWERED_SMS, score=score, contacts=contacts,
                     footer=DANGER_FOOTER)

    def crisis(self, category: str) -> Reply:
        text = emergency_reply(category, self._local_lines())
        return Reply("crisis", text, kind=category, score=1.0, safety="crisis")

    def _crisis_with_topic(self, text: str, category: str) -> Reply:
        """The crisis reply, and after it (never before) the topic the message also asked about,
        as a button or a "Next:" line: a parent whose question only sounded alarming still gets there.
        SMS shows the crisis reply alone, within its two segments."""
        reply = self.crisis(category)
        decision = self.matcher.decide(text)
        if decision.outcome == "unanswered":
            return reply
        related = tuple(Choice(c.entry.id, c.entry.title) for c in decision.candidates[:2])
        return replace(reply, related=related)

    def __post_init__(self) -> None:
        # The safety check is the costliest step and depends on the text alone: repeats are kept.
        object.__setattr__(self, "_assessments", Ahead(self._assess, ASSESSMENTS_KEPT))

    def assess(self, text: str) -> Assessment:
        return self._assessments.get(text)

    def _assess(self, text: str) -> Assessment:
        return assess(text, self.crisis_rules, self.risk)

    def _local_lines(self) -> LocalLines:
        """The council's safeguarding lines, only where an editor has checked them."""
        def checked(service_id: str) -> Service | None:
            service = self.knowledge.services.get(service_id)
            return service if service is not None and service.checked and service.phone else None

        mash, out_of_hours, crisis_line = checked("mash"), checked("emergency-duty-team"), checked("local-crisis-line")
        return LocalLines(
            front_door=f"Herefordshire children's services (MASH): {mash.phone}" if mash else None,
            out_of_hours=out_of_hours.phone if out_of_hours else None,
            crisis_line=f"{crisis_line.name}: {crisis_line.phone}" if crisis_line else None,
        )

    def out_of_area(self, area: str, score: float) -> Reply:
        assert self.knowledge.areas is not None
        text = self.knowledge.areas.reply.replace("{area}", area)
        return Reply("unanswered", text, short=text, score=score, kind="out-of-area", footer=DANGER_FOOTER)

    def out_of_scope(self, entry: Entry, score: float) -> Reply:
        return Reply("unanswered", entry.answer, short=short_text(entry), score=score, kind="out-of-scope",
                     footer=DANGER_FOOTER)

    # ------------------------------------------------------------ the pipeline

    def respond(self, text: str, now: dt.datetime | None = None) -> Reply:
        """One message to one reply, with no memory of earlier messages."""
        if not fold(text):
            return Reply("smalltalk", SMALLTALK["empty"], kind="empty")
        if self.risk is not None and self._assessments.peek(text) is None:
            # The model reads the message on other threads while the word scores, the rules and the
            # n-grams, which hold Python's lock, run on this one (a long message 89 -> 64 ms at p50).
            # Not for a repeat ("hi", a common question): its check and decision are kept, and work
            # started for it would be thrown away (the server's repeated questions: 175 -> 74 req/s).
            self.risk.encoder.prefetch(text)
            self.matcher.prepare(text)
        safety = self.assess(text)  # always first: nothing may delay a crisis reply
        if safety.is_crisis:
            return self._crisis_with_topic(text, safety.category or "suicide")
        reply = self._respond(text, now)
        # Small talk carries no risk to speak of ("hi"), but for a goodbye the model reads as one.
        if safety.tier == "concern" and (reply.outcome != "smalltalk" or reply.kind == "bye"):
            return _with_concern(reply)
        return reply

    def _respond(self, text: str, now: dt.datetime | None) -> Reply:
        kind = smalltalk_kind(text)
        if kind is not None:
            return self.smalltalk(kind)
        if is_fragment(text):
            return self.fragment()
        decision = self.matcher.decide(text)
        area = self._other_area(text)
        if area is not None:
            return self.out_of_area(area, decision.score)
        adult_services = self.knowledge.entry(ADULT_SERVICES_ENTRY)
        if adult_services is not None and adult_asking_for_self(text):
            return self.out_of_scope(adult_services, decision.score)
        if decision.outcome == "answer":
            reply = self.answer(decision.candidates[0].entry, decision.score, now)
            return self._with_other_question(text, reply)
        if decision.outcome == "clarify":
            return self.clarify(decision)
        best = decision.best
        if best is not None and not best.entry.answers and best.score >= self.matcher.thresholds.clarify:
            return self.out_of_scope(best.entry, decision.score)
        return self.unanswered(decision.score, now)

    def _with_other_question(self, text: str, reply: Reply) -> Reply:
        """A message that asks two things gets the answer to the clearer one, and the other
        offered first among the next steps ("...and who pays for it?")."""
        for question in self.matcher.questions(text):
            decision = self.matcher.decide(question)
            other = decision.best
            if decision.outcome == "answer" and other is not None and other.entry.id != reply.topic:
                offered = Choice(other.entry.id, other.entry.title)
                rest = tuple(c for c in reply.related if c.id != offered.id)
                return replace(reply, related=(offered, *rest))
        return reply

    def _other_area(self, text: str) -> str | None:
        """Another council named, and not ours: our answers would send them to the wrong place."""
        if self.knowledge.areas is None:
            return None
        ours, others = _area_names(self.knowledge.areas)
        padded = f" {fold(text)} "
        if any(name in padded for name in ours):
            return None
        return next((name for padded_name, name in others if padded_name in padded), None)


def _with_concern(reply: Reply) -> Reply:
    """The usual reply with one short safety line first (past or uncertain risk)."""
    short = f"{CONCERN_LINE}\n{reply.short or reply.text}" if reply.short or reply.outcome == "answer" else None
    return replace(reply, text=f"{CONCERN_LINE}\n\n{reply.text}", short=short, safety="concern",
                   footer=None if reply.footer == DANGER_FOOTER else reply.footer)


@lru_cache(maxsize=8)
def _area_names(areas: Areas) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
    """Area names folded once per knowledge base, padded so they match whole words only."""
    ours = tuple(f" {fold(name)} " for name in (*areas.home, *areas.unless))
    return ours, tuple((f" {fold(name)} ", name) for name in areas.others)
