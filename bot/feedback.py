"""After "did this help?" is answered "no": what to offer next, and what to do with the reply.

A parent who says an answer did not help gets somewhere to go (the related topics, the
menu, the people who give free advice) and may say what was missing. Their next message,
unless it is plainly a new question, is that detail: logged (redacted, like every message)
for the editors under the answer's topic, and thanked, not answered as a question.
"""
from __future__ import annotations

import re

from .messages import Choice, Contact, Reply
from .text import fold

NOT_HELPED = "Sorry it did not help. Pick a related topic below, or type MENU to see all the topics."
PEOPLE = ("For free, impartial advice from a person, contact SENDIASS. The Local Offer lists SEND support "
          "near you (details below).")
ASK_WHAT_WAS_MISSING = ("If you like, tell me in a few words what was missing. I will pass it on to the people "
                        "who write these answers. You do not have to.")
DETAIL_THANKS = ("Thank you. I have passed that on to the people who write these answers. "
                 "Ask me anything else, or type MENU to see the topics.")
PEOPLE_SERVICES = ("sendiass", "local-offer")  # services.yaml ids: never a number or address of our own
NOT_HELPED_KIND, DETAIL_KIND = "not-helped", "feedback-detail"
# A new question rather than a comment on the last answer: a question mark, or a question's first word.
_QUESTION_START = re.compile(
    r"^(how|what|whats|where|when|who|whos|why|which|can|cant|could|is|isnt|are|do|does|did|should|will|would|"
    r"may|am|have|has|wheres|whens|hows)\b")


def is_clearly_a_question(text: str) -> bool:
    return "?" in text or bool(_QUESTION_START.match(fold(text)))


def not_helped_reply(related: tuple[Choice, ...], contacts: tuple[Contact, ...]) -> Reply:
    """Where to go next after a "no": related topics (buttons), the menu, SENDIASS and the Local Offer.
    `contacts` are the knowledge base's own records of those two, or nothing when it has neither."""
    text = "\n\n".join([NOT_HELPED, *([PEOPLE] if len(contacts) == len(PEOPLE_SERVICES) else []),
                         ASK_WHAT_WAS_MISSING])
    return Reply("smalltalk", text, related=related, contacts=contacts, kind=NOT_HELPED_KIND)


def detail_thanks(topic: str | None) -> Reply:
    return Reply("smalltalk", DETAIL_THANKS, topic=topic, kind=DETAIL_KIND)
