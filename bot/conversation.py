"""The conversation core: an incoming message in, one reply out, whatever the channel.

It remembers a little about each sender for a short while, so that "2" after a
choice picks the second option and "more" after a short answer sends the full one,
and it logs every message and its outcome for the editors.
"""
from __future__ import annotations

import datetime as dt
import logging
import time
from typing import Callable
from zoneinfo import ZoneInfo
from collections import OrderedDict
from dataclasses import dataclass, field, replace

from rapidfuzz import fuzz, process

from .messages import Choice, Incoming, Reply
from .replies import Replies
from .store import LogRecord, Store
from .text import fold

log = logging.getLogger(__name__)

SESSION_SECONDS = 30 * 60  # a parent may step away mid-conversation; after half an hour "2" means nothing
MAX_SESSIONS = 50_000  # bounded memory whatever the traffic; the oldest are forgotten first
MORE_WORDS = frozenset({"more", "more info", "more please", "tell me more", "full answer", "read more", "m"})
PICK_BY_TITLE = 88  # how close the words must be to an option's title to count as picking it
LOCAL_TIME = ZoneInfo("Europe/London")  # opening hours are the services' own, in UK time


def uk_now() -> dt.datetime:
    return dt.datetime.now(LOCAL_TIME)


@dataclass
class Session:
    choices: tuple[Choice, ...] = ()
    last_topic: str | None = None
    expires: float = field(default_factory=lambda: time.monotonic() + SESSION_SECONDS)


class Sessions:
    """Per-sender state with an expiry, least recently used dropped first."""

    def __init__(self, ttl: float = SESSION_SECONDS, limit: int = MAX_SESSIONS) -> None:
        self.ttl, self.limit = ttl, limit
        self._items: OrderedDict[str, Session] = OrderedDict()

    def get(self, sender: str) -> Session:
        session = self._items.get(sender)
        if session is None or session.expires < time.monotonic():
            session = Session()
        self._items[sender] = session
        self._items.move_to_end(sender)
        session.expires = time.monotonic() + self.ttl
        while len(self._items) > self.limit:
            self._items.popitem(last=False)
        return session

    def drop(self, sender: str) -> None:
        self._items.pop(sender, None)


class Conversation:
    def __init__(self, replies: Replies, store: Store | None = None, clock=None) -> None:
        self.replies = replies
        self.store = store
        self.sessions = Sessions()
        self._clock = clock or uk_now
        # When set, a log write that fails is reported here and the reply still goes out (the server
        # sets it so /healthz shows the failure); when None the error propagates as before.
        self.on_store_error: Callable[[Exception], None] | None = None

    async def handle(self, incoming: Incoming) -> Reply:
        """Answer one message and log it."""
        reply = self.reply_to(incoming.sender, incoming.text)
        return await self._logged(incoming, reply)

    async def pick(self, incoming: Incoming, choice_id: str) -> Reply:
        """A button press: answer the chosen topic or open the chosen menu group."""
        reply = self._choose(self.sessions.get(incoming.sender), choice_id)
        if reply is None:
            reply = self.replies.menu()
        self._remember(self.sessions.get(incoming.sender), reply)
        return await self._logged(incoming, reply)

    def reply_to(self, sender: str, text: str) -> Reply:
        session = self.sessions.get(sender)
        reply = self._follow_up(session, text)
        if reply is None:
            reply = self.replies.respond(text, self._clock())
        self._remember(session, reply)
        return reply

    def _follow_up(self, session: Session, text: str) -> Reply | None:
        """A reply that only makes sense after the previous one: a pick, or "more"."""
        folded = fold(text)
        if folded in MORE_WORDS:
            entry = self.replies.knowledge.entry(session.last_topic) if session.last_topic else None
            if entry is None:
                return self.replies.nothing_more()
            return replace(self.replies.answer(entry, 1.0, self._clock(), kind="more"), short=None)
        if not session.choices:
            return None
        if folded.isdigit():
            number = int(folded)
            if 1 <= number <= len(session.choices):
                return self._choose(session, session.choices[number - 1].id)
            return None
        titles = {c.id: fold(c.title) for c in session.choices}
        found = process.extractOne(folded, titles, scorer=fuzz.ratio, score_cutoff=PICK_BY_TITLE)
        return self._choose(session, found[2]) if found else None

    def _choose(self, session: Session, choice_id: str) -> Reply | None:
        if choice_id.startswith("group:"):
            return self.replies.group(choice_id.removeprefix("group:"))
        entry = self.replies.knowledge.entry(choice_id)
        if entry is None or not entry.answers:
            return None
        return self.replies.answer(entry, 1.0, self._clock(), kind="picked")

    def _remember(self, session: Session, reply: Reply) -> None:
        # After an answer (or a crisis reply) its next steps can be picked by number, as choices can.
        session.choices = reply.choices or reply.related
        if reply.outcome == "answer":
            session.last_topic = reply.topic
        elif reply.outcome in ("crisis", "unanswered"):
            session.last_topic = None

    async def _logged(self, incoming: Incoming, reply: Reply) -> Reply:
        if self.store is None:
            return reply
        try:
            log_id = await self.store.log(LogRecord(
                channel=incoming.channel, sender=incoming.sender, text=incoming.text, outcome=reply.outcome,
                topic=reply.topic, score=reply.score, options=reply.options, kind=reply.kind,
            ))
        except Exception as exc:
            if self.on_store_error is None:
                raise
            # The type only: the message could quote what the parent wrote.
            log.error("answering without logging: the log write failed with %s", type(exc).__name__)
            self.on_store_error(exc)
            return reply
        return reply.with_log_id(log_id)

    def forget_session(self, sender: str) -> None:
        self.sessions.drop(sender)
