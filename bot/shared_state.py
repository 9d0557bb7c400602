"""A conversation's per-sender session as JSON, for a store that several workers share.

With PostgreSQL the session is read before a message is answered and written after, so a
"2" that reaches another worker after a clarify picks the second option there too. Only
what the next message needs is kept: the choices on offer, the last topic and MORE part,
the recent answers a "no" can refer to, and whether the words about what was missing are
awaited. The store keeps it until the session's time runs out.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Any

from .conversation import Session
from .messages import Choice


def session_state(session: Session) -> dict[str, Any]:
    return {
        "choices": [[c.id, c.title] for c in session.choices],
        "last_topic": session.last_topic,
        "more_parts": session.more_parts,
        "answers": [[log_id, topic] for log_id, topic in session.answers.items()],
        "awaiting_detail": session.awaiting_detail,
    }


def session_from_state(state: dict[str, Any] | None) -> Session:
    if not state:
        return Session()
    return Session(
        choices=tuple(Choice(str(i), str(t)) for i, t in state.get("choices", [])),
        last_topic=state.get("last_topic"),
        more_parts=int(state.get("more_parts", 0)),
        answers=OrderedDict((int(i), str(t)) for i, t in state.get("answers", [])),
        awaiting_detail=state.get("awaiting_detail"),
    )
