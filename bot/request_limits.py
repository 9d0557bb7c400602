"""Request limits for every route, enforced on the byte stream before any handler parses it.

An ASGI middleware: a body larger than its route allows is refused with 413 as soon as
the Content-Length says so, or as soon as that many bytes have arrived (chunked), so a
100 MB post costs the server at most the route's limit, whoever sends it and whether or
not they are logged in (the security review's F02). No route takes file uploads, so
multipart bodies are refused outright (no temporary files). Within its limit the body is
read once and handed on whole, so handlers see exactly what they saw before.
"""
from __future__ import annotations

from dataclasses import dataclass

from starlette.datastructures import Headers
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

KB = 1024
DEFAULT_BODY_LIMIT = 8 * KB  # /healthz and unknown paths: nothing real posts here
ROUTE_BODY_LIMITS = (
    ("/telegram/", 1_000_000),  # an update is a few kilobytes; the webhook refused more than 1 MB before
    ("/twilio/", 64 * KB),  # a webhook is a few kilobytes (Body is at most 1,600 characters)
    ("/editors", 256 * KB),  # the triage form posts every row's controls; login and logout are a few hundred bytes
)


@dataclass(frozen=True)
class Refusal:
    status: int
    text: str


class BodyLimit:
    def __init__(self, app: ASGIApp, limits: tuple[tuple[str, int], ...] = ROUTE_BODY_LIMITS,
                 default: int = DEFAULT_BODY_LIMIT) -> None:
        self.app, self.limits, self.default = app, limits, default

    def limit_for(self, path: str) -> int:
        return next((limit for prefix, limit in self.limits if path.startswith(prefix)), self.default)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = self.limit_for(scope["path"])
        refusal = _refuse_by_headers(Headers(scope=scope), limit)
        if refusal is not None:
            return await _answer(refusal, scope, receive, send)
        body, refusal = await _read_body(receive, limit)
        if refusal is not None:
            return await _answer(refusal, scope, receive, send)
        if body is None:  # the client went away (or was cut off for sending too slowly)
            return
        await self.app(scope, _replay(body, receive), send)


def _refuse_by_headers(headers: Headers, limit: int) -> Refusal | None:
    if headers.get("content-type", "").lower().lstrip().startswith("multipart/"):
        return Refusal(415, "File uploads are not accepted")
    length = headers.get("content-length")
    if length is not None:
        if not length.strip().isdigit():
            return Refusal(400, "Bad Content-Length")
        if int(length) > limit:
            return Refusal(413, "Request too large")
    return None


async def _read_body(receive: Receive, limit: int) -> tuple[bytes | None, Refusal | None]:
    """The whole body, or a refusal once it passes `limit`, or (None, None) on a disconnect."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None, None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None, Refusal(413, "Request too large")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), None


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive() that gives the body read already, then passes on (a disconnect, say)."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


async def _answer(refusal: Refusal, scope: Scope, receive: Receive, send: Send) -> None:
    # Connection: close, so the unread rest of the body is never read.
    response = PlainTextResponse(refusal.text, status_code=refusal.status, headers={"Connection": "close"})
    await response(scope, receive, send)
