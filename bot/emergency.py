"""What the bot says in an emergency: one reply for each kind, led by what to do now.

Every reply starts with 999 in the words of Herefordshire's safeguarding page ("if
someone is injured or in immediate danger", FACTS.md H1) and fits two GSM-7 SMS
segments, so a parent on pay-as-you-go gets all of it in one text. The numbers are
national lines from FACTS.md (H3-H7) or, for domestic abuse, Refuge's National Domestic
Abuse Helpline ("call free, anytime of day or night on 0808 2000 247":
https://refuge.org.uk/news/refuge-response-to-home-secretary-announcement-of-support-for-domestic-abuse-victims).
The council's own lines (its children's services front door and out-of-hours team) come
from the loaded knowledge base's services, and only when an editor has checked them, so a
knowledge base for another council never shows Herefordshire's numbers.
"""
from __future__ import annotations

from dataclasses import dataclass

from .gsm7 import budget, is_gsm7, septets, to_gsm7

# The kinds of emergency, each with its own reply. Detectors (rules and model) name the
# finer category they saw; REPLY_KIND maps it to one of these.
KINDS = ("medical", "danger", "abuse", "domestic-abuse", "missing", "mental-health", "breaking-point")

REPLY_KIND = {
    # the model's categories
    "medical": "medical", "violence-now": "danger", "abuse-disclosure": "abuse",
    "domestic-abuse": "domestic-abuse", "missing-exploited": "missing",
    "suicide-parent": "mental-health", "suicide-young-person": "mental-health",
    "self-harm-now": "mental-health", "psychosis-danger": "mental-health",
    "parent-breaking-point": "breaking-point",
    # the rules' categories (knowledge/safety/crisis.yaml)
    "suicide": "mental-health", "suicide-method": "mental-health", "suicide-farewell": "mental-health",
    "self-harm": "mental-health",
    "overdose": "mental-health",
    "medical-emergency": "medical", "domestic-violence": "domestic-abuse", "abuse": "abuse",
    "danger": "danger", "missing-child": "missing",
}

NOW_999 = "If someone is injured or in immediate danger, call 999 now."
SAMARITANS = "Samaritans: 116 123, free, any time."
NSPCC = "NSPCC helpline: 0808 800 5000."
CHILDLINE = "Young people: Childline 0800 1111."
DOMESTIC_ABUSE_LINE = "National Domestic Abuse Helpline: 0808 2000 247, free, day or night."
# Every unanswered reply and every clarify ends with this (fail-safe: the check may miss).
DANGER_FOOTER = "If anyone is in danger now, call 999."
# The concern tier: the question is answered, with this first.
CONCERN_LINE = (
    "If anyone is in danger now, call 999. To talk to someone any time: Samaritans 116 123, "
    "or NHS 111 (choose the mental health option)."
)


@dataclass(frozen=True)
class LocalLines:
    """The council's own safeguarding lines, from checked services of the knowledge base."""

    front_door: str | None = None  # e.g. "Herefordshire MASH: 01432 260800"
    out_of_hours: str | None = None  # e.g. "01905 768020"
    crisis_line: str | None = None  # a local 24/7 mental health line, once an editor has verified one

    def children_services(self) -> str:
        if not self.front_door:
            return ""
        if self.out_of_hours:
            return f"{self.front_door}. Out of hours: {self.out_of_hours}."
        return f"{self.front_door}."


def _lines(*lines: str) -> str:
    return "\n".join(line for line in lines if line)


def _medical(local: LocalLines) -> tuple[str, ...]:
    return (
        _lines("Call 999 now if someone is injured or in immediate danger, not breathing normally, "
               "will not wake up, or has swallowed something harmful.",
               "Stay with them and do what the call handler tells you.",
               "Not sure it is an emergency? Call NHS 111.",
               "After an overdose or self-harm: Samaritans 116 123, any time."),
    )


def _danger(local: LocalLines) -> tuple[str, ...]:
    return (
        _lines(NOW_999, "If you can, get yourself and the children to a safe place.",
               "When you are safe: " + local.children_services() if local.front_door else "", SAMARITANS),
        _lines(NOW_999, "If you can, get to a safe place.", local.children_services(), SAMARITANS),
    )


def _abuse(local: LocalLines) -> tuple[str, ...]:
    return (
        _lines("If a child is in immediate danger, call 999 now.",
               "They did the right thing telling you. Stay calm, listen and tell them you believe them.",
               NSPCC, local.children_services(), CHILDLINE),
        _lines("If a child is in immediate danger, call 999 now.", "They did the right thing telling you.",
               NSPCC, local.children_services(), CHILDLINE),
    )


def _domestic(local: LocalLines) -> tuple[str, ...]:
    return (
        _lines("If you or a child is injured or in immediate danger, call 999 now.",
               "If you can, get to a safe place.", DOMESTIC_ABUSE_LINE,
               "Worried about a child: " + local.children_services() if local.front_door else NSPCC),
        _lines(NOW_999, DOMESTIC_ABUSE_LINE, local.children_services() or NSPCC),
    )


def _missing(local: LocalLines) -> tuple[str, ...]:
    return (
        _lines("If a child is missing or in danger now, call 999 now. Tell them what the child was "
               "wearing and where they were last seen.",
               "Worried a child is being exploited or groomed: " + (local.children_services() or "")
               if local.front_door else "", NSPCC),
        _lines("If a child is missing or in danger now, call 999 now.", local.children_services(), NSPCC),
    )


def _mental_health(local: LocalLines) -> tuple[str, ...]:
    local_line = " ".join(to_gsm7(local.crisis_line).split()) if local.crisis_line else ""
    return (
        _lines("I'm so sorry things are this hard. You are not alone.", NOW_999,
               "Urgent mental health help: call NHS 111 and choose the mental health option.",
               SAMARITANS, CHILDLINE, "Or text SHOUT to 85258.", local_line),
        _lines(NOW_999, "Mental health help: NHS 111, choose the mental health option.",
               "Samaritans 116 123, free, any time.", "Childline 0800 1111.", "Text SHOUT to 85258.", local_line),
    )


def _breaking_point(local: LocalLines) -> tuple[str, ...]:
    return (
        _lines("If your child or anyone is in immediate danger, call 999 now.",
               "If you can, put your child somewhere safe and step away for a few minutes.",
               "Asking for help is the right thing to do.", local.children_services(), SAMARITANS),
        _lines("If your child or anyone is in immediate danger, call 999 now.",
               "Asking for help is the right thing to do.", local.children_services(), SAMARITANS),
    )


_BUILDERS = {
    "medical": _medical, "danger": _danger, "abuse": _abuse, "domestic-abuse": _domestic,
    "missing": _missing, "mental-health": _mental_health, "breaking-point": _breaking_point,
}


def emergency_reply(category: str, local: LocalLines = LocalLines()) -> str:
    """The reply for a crisis of this category: the fullest version that fits two SMS."""
    kind = REPLY_KIND.get(category, category if category in _BUILDERS else "mental-health")
    versions = _BUILDERS[kind](local)
    for text in versions:
        if is_gsm7(text) and septets(text) <= budget(2):
            return text
    return versions[-1]  # safety beats cost: a long local line is still sent
