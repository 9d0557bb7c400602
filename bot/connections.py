"""Connections: uvicorn's HTTP/1.1 protocol with a deadline for each request and a cap on open connections.

uvicorn times out idle keep-alive connections only after a response, and never a request
that is still arriving: a client that sends half a header line and waits keeps its socket
(and a file descriptor) for ever, and a few hundred of them stop the server accepting
(the security review's F01). Here every request must arrive whole, headers and body,
within `request_seconds` of the connection opening or of the previous response; and a
connection beyond `max_connections` is closed as soon as it is accepted, so the process
never runs out of file descriptors. A request that has arrived may take as long as its
answer needs: the deadline is on the client's sending, not on the bot's thinking.
"""
from __future__ import annotations

import asyncio
import logging

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

try:
    import resource  # Unix only; elsewhere the file limit is left as it is
except ImportError:  # pragma: no cover - Windows
    resource = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

FD_RESERVE = 64  # descriptors kept for the database, the model files, logs and outgoing HTTPS
_STILL_SENDING = (h11.IDLE, h11.SEND_BODY)  # the client has not finished sending its request


def guarded_protocol(max_connections: int, request_seconds: float) -> type[H11Protocol]:
    """An H11Protocol class with these limits, for `uvicorn.Config(http=...)`."""
    return type("GuardedH11Protocol", (GuardedH11Protocol,),
                {"max_connections": max_connections, "request_seconds": request_seconds})


class GuardedH11Protocol(H11Protocol):
    max_connections: int = 1000
    request_seconds: float = 10.0
    _deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.max_connections:
            log.warning("too many open connections (%d): closing a new one", self.max_connections)
            transport.abort()
            return
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm()  # the next request on this keep-alive connection gets its own deadline

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(self.request_seconds, self._request_overdue)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _request_overdue(self) -> None:
        self._deadline = None
        if self.conn.their_state in _STILL_SENDING and not self.transport.is_closing():
            # Slow or stalled: drop it. If the app was waiting for the body it sees a disconnect.
            self.transport.abort()


def raise_file_limit(wanted: int) -> int:
    """Raise this process's open-file limit towards `wanted` (within the hard limit); returns the limit in force."""
    if resource is None:
        return wanted
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        if soft != resource.RLIM_INFINITY and soft < target:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        return int(soft) if soft != resource.RLIM_INFINITY else wanted
    except (ValueError, OSError):  # not allowed here: keep what we have
        return wanted


def connection_cap(max_connections: int) -> int:
    """The connection cap that fits this process's file limit, with room for everything else it opens."""
    limit = raise_file_limit(max_connections + FD_RESERVE)
    return max(10, min(max_connections, limit - FD_RESERVE))
