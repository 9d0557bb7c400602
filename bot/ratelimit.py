"""A per-sender limit on messages: every SMS reply costs money, and a loop or a prank can send thousands.

Up to `count` messages in any `seconds`-long window are answered. The next one gets one
short notice; after that there is silence until the window has room again. State is in
memory, keyed by the pseudonymous sender key, and bounded: the least recently seen
senders are dropped first. With a store several workers share (PostgreSQL) the windows
are rows in it instead (SharedRateLimiter), so a flood spread over workers counts once.

A window is not personal data (a key and a few timestamps, gone within the window), so
FORGET does not clear it: otherwise "FORGET" would be a way round the limit. The limiter
has no way to forget one sender on purpose.
"""
from __future__ import annotations

import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Callable, Literal

Verdict = Literal["allow", "notice", "silent"]
MAX_SENDERS = 50_000
KEYWORD_REPLIES = 3  # STOP/START/FORGET confirmations per sender per window; the keyword itself is always honoured


@dataclass
class _Window:
    times: deque[float] = field(default_factory=deque)
    noticed: bool = False


class RateLimiter:
    def __init__(self, count: int, seconds: float, clock: Callable[[], float] = time.monotonic,
                 max_senders: int = MAX_SENDERS) -> None:
        self.count, self.seconds, self.clock, self.max_senders = count, seconds, clock, max_senders
        self._senders: OrderedDict[str, _Window] = OrderedDict()

    def hit(self, sender: str) -> Verdict:
        """Count one message from `sender` and say whether to answer it."""
        now = self.clock()
        window = self._senders.pop(sender, None) or _Window()
        self._senders[sender] = window  # most recently seen last
        while window.times and window.times[0] <= now - self.seconds:
            window.times.popleft()
        while len(self._senders) > self.max_senders:
            self._senders.popitem(last=False)
        if len(window.times) < self.count:
            window.times.append(now)
            window.noticed = False
            return "allow"
        if window.noticed:
            return "silent"
        window.noticed = True
        return "notice"

    async def check(self, sender: str) -> Verdict:
        """hit(), as the same awaitable call as SharedRateLimiter.check."""
        return self.hit(sender)

    def __len__(self) -> int:
        return len(self._senders)


def notice_text(seconds: int) -> str:
    """The one notice a sender gets when the limit is reached."""
    minutes = max(1, round(seconds / 60))
    return f"You have sent a lot of messages. Please wait {minutes} minute{'s' if minutes > 1 else ''}, then try again."


class SharedRateLimiter:
    """The same limit with its windows in a store several workers share: a flood spread over
    workers is counted once. Each check is one short transaction on the sender's row."""

    def __init__(self, store, name: str, count: int, seconds: float) -> None:
        self.store, self.name, self.count, self.seconds = store, name, count, seconds

    async def check(self, sender: str) -> Verdict:
        return await self.store.rate_hit(self.name, sender, self.count, self.seconds)  # type: ignore[no-any-return]


def limiter_for(store, name: str, count: int, seconds: float) -> "RateLimiter | SharedRateLimiter":
    """In memory with one process (SQLite); in the store when several workers share it (PostgreSQL)."""
    if getattr(store, "shares_state", False):
        return SharedRateLimiter(store, name, count, seconds)
    return RateLimiter(count, seconds)
