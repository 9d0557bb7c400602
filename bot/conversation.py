"""The conversation core: an incoming message in, one reply out, whatever the channel.

It remembers a little about each sender for a short while, so that "2" after a
choice picks the second option and "more" after a short answer sends the full one,
and it logs every message and its outcome for the editors.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import logging
import time
from typing import AsyncIterator, Callable
from zoneinfo import ZoneInfo
from collections import OrderedDict
from dataclasses import dataclass, field, replace

from rapidfuzz import fuzz, process

from .contacts import contacts_for
from .feedback import PEOPLE_SERVICES, detail_thanks, is_clearly_a_question, not_helped_reply
from .messages import Choice, Incoming, Reply
from .emergency import CONCERN_LINE
from .replies import Replies
from .smalltalk import smalltalk_kind
from .store import LogRecord, Store
from .text import fold

log = logging.getLogger(__name__)

SESSION_SECONDS = 30 * 60  # a parent may step away mid-conversation; after half an hour "2" means nothing
MAX_SESSIONS = 50_000  # bounded memory whatever the traffic; the oldest are forgotten first
ANSWERS_REMEMBERED = 20  # recent answers per sender whose "did this help?" can still be answered "no"
MORE_WORDS = frozenset({"more", "more info", "more please", "tell me more", "full answer", "read more", "m"})
PICK_BY_TITLE = 88  # how close the words must be to an option's title to count as picking it
LOCAL_TIME = ZoneInfo("Europe/London")  # opening hours are the services' own, in UK time


def uk_now() -> dt.datetime:
    return dt.datetime.now(LOCAL_TIME)


@dataclass
class Session:
    choices: tuple[Choice, ...] = ()
    last_topic: str | None = None
    more_parts: int = 0  # how many times "more" was asked since the last answer: the next part is one on
    answers: OrderedDict[int, str] = field(default_factory=OrderedDict)  # log id -> topic, newest last
    awaiting_detail: str | None = None  # after a "no": the topic whose missing part the next message may say
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

    def put(self, sender: str, session: Session) -> None:
        """A session read from a shared store (another worker may have answered the last message)."""
        self._items[sender] = session
        self.get(sender)  # most recent, fresh expiry, bounded


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
        async with self.shared_session(incoming.sender):
            return await self._logged(incoming, self._respond(incoming))

    async def answer(self, incoming: Incoming) -> tuple[Reply, LogRecord]:
        """handle() without the write: the channel commits the log row with its delivery row (group commit)."""
        async with self.shared_session(incoming.sender):
            reply = self._respond(incoming)
        return reply, self.log_record(incoming, reply)

    def _respond(self, incoming: Incoming) -> Reply:
        detail = self._feedback_detail(self.sessions.get(incoming.sender), incoming.text)
        return detail if detail is not None else self.reply_to(incoming.sender, incoming.text)

    @contextlib.asynccontextmanager
    async def shared_session(self, sender: str) -> AsyncIterator[None]:
        """With a store several workers share, the sender's session is read from it before answering and
        written back after, so the next message may reach any worker. Otherwise memory is enough."""
        if self.store is None or not getattr(self.store, "shares_state", False):
            yield
            return
        from .shared_state import session_from_state, session_state

        try:
            self.sessions.put(sender, session_from_state(await self.store.load_session(sender)))
        except Exception as exc:  # noqa: BLE001 - answer from this worker's memory, report it
            self._report_store_error(exc)
        yield
        try:
            await self.store.save_session(sender, session_state(self.sessions.get(sender)), self.sessions.ttl)
        except Exception as exc:  # noqa: BLE001
            self._report_store_error(exc)

    def _report_store_error(self, exc: Exception) -> None:
        if self.on_store_error is None:
            raise exc
        log.error("session not shared: the store failed with %s", type(exc).__name__)
        self.on_store_error(exc)

    def not_helped(self, sender: str, log_id: int, shown: tuple[str, ...] = ()) -> Reply:
        """A "no" to "did this help?": the related topics, the menu and who to ask; the next message may
        say what was missing. `shown` are the topic ids the answer offered, for an answer we no longer recall."""
        session = self.sessions.get(sender)
        topic = session.answers.get(log_id)
        entry = self.replies.knowledge.entry(topic) if topic else None
        ids = entry.related if entry is not None else shown
        related = tuple(Choice(i, e.title) for i in ids if (e := self.replies.knowledge.entry(i)) and e.answers)
        session.choices, session.awaiting_detail = related, topic or ""
        return not_helped_reply(related, contacts_for(PEOPLE_SERVICES, self.replies.knowledge, self._clock()))

    def _feedback_detail(self, session: Session, text: str) -> Reply | None:
        """The thanks for what was missing, when this message says it; None when it is to be answered
        as usual: a crisis, small talk or a command, a pick, "more", or plainly a new question."""
        topic, session.awaiting_detail = session.awaiting_detail, None
        if topic is None or not text.strip() or smalltalk_kind(text) is not None or is_clearly_a_question(text):
            return None
        if self._follow_up(Session(choices=session.choices), text) is not None:
            return None
        safety = self.replies.assess(text)
        if safety.is_crisis:
            return None
        thanks = detail_thanks(topic or None)
        if safety.tier == "concern":  # a past or uncertain risk gets its one safety line first, as anywhere
            return replace(thanks, text=f"{CONCERN_LINE}\n\n{thanks.text}", safety="concern")
        return thanks

    async def pick(self, incoming: Incoming, choice_id: str) -> Reply:
        """A button press: answer the chosen topic or open the chosen menu group."""
        async with self.shared_session(incoming.sender):
            self.sessions.get(incoming.sender).awaiting_detail = None  # a press is not the words about what was missing
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
            session.more_parts += 1
            return replace(self.replies.answer(entry, 1.0, self._clock(), kind="more"), part=session.more_parts)
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
            if reply.kind != "more":
                session.more_parts = 0
        elif reply.outcome in ("crisis", "unanswered"):
            session.last_topic = None

    async def _logged(self, incoming: Incoming, reply: Reply) -> Reply:
        if self.store is None:
            return reply
        try:
            log_id = await self.store.log(self.log_record(incoming, reply))
        except Exception as exc:
            if self.on_store_error is None:
                raise
            # The type only: the message could quote what the parent wrote.
            log.error("answering without logging: the log write failed with %s", type(exc).__name__)
            self.on_store_error(exc)
            return reply
        if reply.outcome == "answer" and reply.topic:
            self._recall_answer(self.sessions.get(incoming.sender), log_id, reply.topic)
        return reply.with_log_id(log_id)

    @staticmethod
    def log_record(incoming: Incoming, reply: Reply) -> LogRecord:
        return LogRecord(channel=incoming.channel, sender=incoming.sender, text=incoming.text, outcome=reply.outcome,
                         topic=reply.topic, score=reply.score, options=reply.options, kind=reply.kind)

    @staticmethod
    def _recall_answer(session: Session, log_id: int, topic: str) -> None:
        session.answers[log_id] = topic
        while len(session.answers) > ANSWERS_REMEMBERED:
            session.answers.popitem(last=False)

    def forget_session(self, sender: str) -> None:
        self.sessions.drop(sender)
