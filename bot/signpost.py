"""Assemble the bot from its parts: knowledge, matcher, crisis rules, store, conversation.

Channels get a `Signpost` and use three things from it: `key()` to turn a raw sender id
into a pseudonymous key, `conversation` to answer, and `store` for opt-outs and erasure.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from .config import Settings
from .conversation import Conversation
from .crisis import load_crisis_rules
from .identity import load_secret, sender_key
from .knowledge import BUNDLED_DIR, KnowledgeError, load_knowledge
from .matcher import Matcher
from .memory import release_freed_memory
from .replies import Replies
from .store import Store, open_store

log = logging.getLogger(__name__)


def build_replies(knowledge_dir: Path | None = None) -> Replies:
    """Load and validate a knowledge directory; raises KnowledgeError if it is not valid."""
    knowledge = load_knowledge(knowledge_dir or BUNDLED_DIR)
    # The crisis rules belong to the bot: they stay on whatever knowledge base is loaded.
    replies = Replies(knowledge, Matcher(knowledge), load_crisis_rules())
    release_freed_memory()  # what loading made and dropped, before the first message
    return replies


@dataclass
class Signpost:
    settings: Settings
    conversation: Conversation
    store: Store
    secret: bytes
    reload_error: str | None = field(default=None)

    def key(self, channel: str, raw_id: str) -> str:
        return sender_key(self.secret, channel, raw_id)

    def reload(self) -> list[str]:
        """Re-read the knowledge files; on any problem keep the knowledge already loaded."""
        try:
            self.conversation.replies = build_replies(self.settings.knowledge_dir)
        except KnowledgeError as exc:
            self.reload_error = "\n".join(exc.problems)
            log.error("knowledge reload refused, keeping the previous knowledge:\n%s", self.reload_error)
            return exc.problems
        self.reload_error = None
        log.info("knowledge reloaded: %d entries", len(self.conversation.replies.knowledge.entries))
        return []

    async def close(self) -> None:
        await self.store.close()


async def open_signpost(settings: Settings) -> Signpost:
    """Validate everything first, then open the store: a bad file never half-starts the bot."""
    settings.check()
    replies = build_replies(settings.knowledge_dir)
    secret = load_secret(settings)
    store = await open_store(settings.database)
    conversation = Conversation(replies, store)
    # A failed log write must never cost the parent their reply; the web app also reports it on /healthz.
    conversation.on_store_error = lambda exc: None
    return Signpost(settings, conversation, store, secret)
