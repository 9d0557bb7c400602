"""The things that flow through the bot: an incoming message and the reply to it.

Channel adapters build an `Incoming`, the conversation core returns a `Reply`; neither
type knows anything about Telegram or Twilio.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

Outcome = Literal["answer", "clarify", "crisis", "smalltalk", "unanswered"]
OUTCOMES: tuple[str, ...] = ("answer", "clarify", "crisis", "smalltalk", "unanswered")


@dataclass(frozen=True)
class Incoming:
    channel: str  # "console", "telegram", "sms", "whatsapp"
    sender: str  # pseudonymous sender key (a keyed hash), never a raw id
    text: str
    message_id: str | None = None  # the channel's id, used to de-duplicate retries


@dataclass(frozen=True)
class Choice:
    """Something the person can pick next: a topic, or a group of the menu."""

    id: str
    title: str


@dataclass(frozen=True)
class Contact:
    """A service's contact details as the reply should show them."""

    name: str
    lines: tuple[str, ...]  # "Phone: ...", "Web: ...", already checked for the editor flag


@dataclass(frozen=True)
class Reply:
    outcome: Outcome
    text: str  # the full reply in plain text (no markup); channels add their own
    short: str | None = None  # the SMS version, when it differs from `text`
    topic: str | None = None
    title: str | None = None
    score: float = 0.0
    choices: tuple[Choice, ...] = ()  # clarify options or menu items, in order
    related: tuple[Choice, ...] = ()  # next steps after an answer
    contacts: tuple[Contact, ...] = ()
    kind: str | None = None  # why: "greeting", "menu", "more", "out-of-area", a crisis category...
    options: tuple[str, ...] = field(default=())  # topic ids offered (clarify), for the log and batch
    log_id: int | None = None  # the log row, so channels can attach "did this help?"
    safety: str | None = None  # "crisis", "concern" (answered with a safety line first) or None
    footer: str | None = None  # a last line every channel shows (the 999 line on unanswered and clarify)
    part: int = 0  # for "more": which part of the full answer was asked for (1, 2, ...); channels that page use it
    sources: tuple[str, ...] = ()  # the entry's sources: the addresses a channel may link to instead of a long one

    @property
    def category(self) -> str | None:
        """The kind of crisis, for a crisis reply (its `kind`)."""
        return self.kind if self.outcome == "crisis" else None

    def with_log_id(self, log_id: int | None) -> "Reply":
        return replace(self, log_id=log_id)
