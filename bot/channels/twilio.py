"""SMS and WhatsApp through Twilio: one signed webhook, replies as TwiML in the response.

Every request is checked against X-Twilio-Signature computed over the *public* URL
(PUBLIC_BASE_URL + path + query): behind a TLS proxy the URL the request arrived on is
not the one Twilio signed. Then, in order: opt-out keywords (always honoured), silence
for opted-out senders, FORGET, the rate limit, HELP and PRIVACY, and finally the
conversation core. A retried MessageSid gets the reply the first delivery got.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Callable
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from ..identity import PHONE_CHANNELS, phone_keys
from ..messages import Incoming, Reply
from ..privacy import FORGOTTEN, privacy_sms, privacy_text
from ..ratelimit import KEYWORD_REPLIES, limiter_for
from ..signpost import Signpost
from ..store import Delivery, LogRecord
from .sms import HELP_SMS, MAX_BODY, MEDIA_ONLY, STARTED, STOPPED, sms_bodies, to_gsm7, whatsapp_bodies

log = logging.getLogger(__name__)

PATH = "/twilio/messages"
DELIVERY_CHANNEL = "twilio"  # MessageSids are unique across SMS and WhatsApp
MAX_REQUEST_BYTES = 64 * 1024  # a real webhook is a few kilobytes; refuse anything far bigger
MAX_FIELDS = 200
WHATSAPP_PREFIX = "whatsapp:"
# Twilio's own keyword lists: alone in the message, any case.
STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"})
START_WORDS = frozenset({"START", "YES", "UNSTOP"})
HELP_WORDS = frozenset({"HELP", "INFO"})


class BadRequest(ValueError):
    """The form is not a Twilio message webhook: answered with 400, never 500."""


@dataclass(frozen=True)
class Inbound:
    sid: str
    channel: str  # "sms" or "whatsapp"
    number: str  # raw phone number: used only to make the sender key, never stored
    text: str
    media: int


def parse_form(body: bytes) -> dict[str, str]:
    """Form fields with blank values kept: Twilio signs `FromCity=` too."""
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadRequest(str(exc)) from None
    return dict(pairs)


def inbound_from(form: dict[str, str]) -> Inbound:
    sid, sender = form.get("MessageSid", "").strip(), form.get("From", "").strip()
    if not sid or not sender:
        raise BadRequest("MessageSid and From are required")
    try:
        media = int(form.get("NumMedia") or 0)
    except ValueError:
        raise BadRequest("NumMedia is not a number") from None
    channel = "whatsapp" if sender.lower().startswith(WHATSAPP_PREFIX) else "sms"
    number = sender[len(WHATSAPP_PREFIX):] if channel == "whatsapp" else sender
    # Twilio caps bodies at 1,600 characters; anything longer is cut for matching, not refused.
    return Inbound(sid, channel, number.strip(), form.get("Body", "")[:MAX_BODY], media)


def keyword(text: str) -> str | None:
    """The keyword a whole message is (STOP, HELP, ...), or None."""
    word = text.strip().strip(".!").strip().upper()
    if word in STOP_WORDS | START_WORDS | HELP_WORDS or word in ("PRIVACY", "FORGET"):
        return word
    return None


def twiml(bodies: list[str]) -> str:
    response = MessagingResponse()
    for body in bodies:
        response.message(body)
    return str(response)


def rate_limited_text(seconds: int) -> str:
    minutes = max(1, round(seconds / 60))
    return f"You have sent a lot of messages. Please wait {minutes} minute{'s' if minutes > 1 else ''}, then try again."


class TwilioWebhook:
    def __init__(self, signpost: Signpost, on_store_error: Callable[[Exception], None] | None = None) -> None:
        settings = signpost.settings
        self.signpost = signpost
        self.validator = RequestValidator(settings.twilio_auth_token or "")
        self.check_signature = not settings.twilio_skip_signature
        # Keyed on the phone (both channels), never cleared by FORGET; keyword confirmations have their own.
        # In memory with SQLite (one process); in the store with PostgreSQL, so every worker counts alike.
        self.limiter = limiter_for(signpost.store, "messages", settings.rate_limit_count, settings.rate_limit_seconds)
        self.keyword_limiter = limiter_for(signpost.store, "keywords", KEYWORD_REPLIES, settings.rate_limit_seconds)
        self.on_store_error = on_store_error or (lambda exc: None)
        self._in_flight: dict[str, asyncio.Future[str]] = {}
        if not self.check_signature:
            log.warning("!!! Twilio signature checks are OFF (SIGNPOST_INSECURE_SKIP_TWILIO_SIGNATURE). "
                        "Anyone can post to %s. Never run like this in production. !!!", PATH)

    def routes(self) -> list[BaseRoute]:
        return [Route(PATH, self.receive, methods=["POST"])]

    # ------------------------------------------------------------------ HTTP

    async def receive(self, request: Request) -> Response:
        signature = request.headers.get("X-Twilio-Signature", "")
        if self.check_signature and not signature:
            return PlainTextResponse("Forbidden", status_code=403)
        body = await _read_body(request)
        if body is None:
            return PlainTextResponse("Request too large", status_code=413)
        try:
            form = parse_form(body)
            if self.check_signature and not self.validator.validate(self._signed_url(request), form, signature):
                log.debug("refused a Twilio request with a wrong signature")
                return PlainTextResponse("Forbidden", status_code=403)
            inbound = inbound_from(form)
        except BadRequest:  # no parser detail: an unsigned request learns nothing from the answer
            return PlainTextResponse("Bad request", status_code=400)
        return Response(await self.deliver_once(inbound), media_type="application/xml")

    def _signed_url(self, request: Request) -> str:
        base = self.signpost.settings.public_base_url or ""
        query = request.url.query
        return f"{base}{request.url.path}" + (f"?{query}" if query else "")

    # ------------------------------------------------------------------ de-duplication

    async def deliver_once(self, inbound: Inbound) -> str:
        """The TwiML for a message; a retried MessageSid gets the first delivery's TwiML, logged once."""
        running = self._in_flight.get(inbound.sid)
        if running is not None:  # the same sid is being answered right now: wait for that answer
            return await asyncio.shield(running)
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._in_flight[inbound.sid] = future
        try:
            result = await self._deliver(inbound)
            future.set_result(result)
            return result
        finally:
            if not future.done():
                future.cancel()
            self._in_flight.pop(inbound.sid, None)

    async def _deliver(self, inbound: Inbound) -> str:
        store = self.signpost.store
        sender = self.signpost.key(inbound.channel, inbound.number)
        try:
            earlier = await store.recall_delivery(DELIVERY_CHANNEL, inbound.sid)
        except Exception as exc:  # noqa: BLE001 - a broken database must not stop the answer
            self._store_failed(exc)
            earlier = None
        if earlier is not None:
            return earlier or twiml([])  # blank after FORGET: a replayed request brings nothing back
        records: list[LogRecord] = []  # the log rows, written with the delivery row in one transaction
        result = twiml(await self._answer(inbound, sender, records))
        # After FORGET the delivery record must not bring the sender's key straight back.
        kept_sender = "" if keyword(inbound.text) == "FORGET" else sender
        try:
            # Committed (with other webhooks' rows) before the answer goes back. A retry that raced this one on
            # another worker and won the MessageSid first: its reply is the one sent, and only its rows are kept.
            first = await store.commit_delivery(
                Delivery(DELIVERY_CHANNEL, inbound.sid, kept_sender, result, tuple(records)))
        except Exception as exc:  # noqa: BLE001
            self._store_failed(exc)
            return result
        return first or twiml([])

    # ------------------------------------------------------------------ what to say

    async def _answer(self, inbound: Inbound, sender: str, records: list[LogRecord]) -> list[str]:
        try:
            return await self._bodies(inbound, sender, records)
        except Exception as exc:  # noqa: BLE001 - the parent still gets an answer, from memory
            self._store_failed(exc)
            if keyword(inbound.text):
                return []  # never send content in reply to a keyword
            return self._render(self.signpost.conversation.replies.respond(inbound.text), inbound)

    async def _bodies(self, inbound: Inbound, sender: str, records: list[LogRecord]) -> list[str]:
        settings, store = self.signpost.settings, self.signpost.store
        word = keyword(inbound.text)
        phone = phone_keys(self.signpost.secret, inbound.number)  # one number: its SMS and WhatsApp keys
        if word in STOP_WORDS or word in START_WORDS:
            stopping = word in STOP_WORDS
            for key, channel in zip(phone, PHONE_CHANNELS):
                await store.set_opted_out(key, channel, stopping)
            records.append(self._keyword_record(inbound, sender, "stop" if stopping else "start"))
            if settings.twilio_opt_out_handling or not await self._may_confirm(phone):
                return []  # Twilio sends its own confirmation; a second one would cost and confuse
            return [STOPPED if stopping else STARTED]
        if word == "FORGET":
            return await self._forget(phone)
        if any([await store.is_opted_out(key) for key in phone]):
            return []  # no reply and no log row until START
        verdict = await self.limiter.check(phone[0])
        if verdict != "allow" and not self._is_crisis(inbound.text):  # a crisis is answered whatever the limit
            # Not logged either: a flood must not fill the log.
            return [rate_limited_text(settings.rate_limit_seconds)] if verdict == "notice" else []
        if word in HELP_WORDS:
            records.append(self._keyword_record(inbound, sender, "help"))
            return [HELP_SMS]
        if word == "PRIVACY":
            records.append(self._keyword_record(inbound, sender, "privacy"))
            if inbound.channel == "sms":
                return [to_gsm7(privacy_sms(settings.retention_days))]
            return [privacy_text(settings.retention_days)]
        if inbound.media and not inbound.text.strip():
            records.append(self._keyword_record(inbound, sender, "media"))
            return [MEDIA_ONLY]
        reply, record = await self.signpost.conversation.answer(
            Incoming(inbound.channel, sender, inbound.text, message_id=inbound.sid))
        records.append(record)
        return self._render(reply, inbound)

    async def _forget(self, phone: tuple[str, ...]) -> list[str]:
        """Erase everything kept about the number on SMS and WhatsApp; an opt-out survives, or STOP would stop working."""
        store = self.signpost.store
        opted_out = [await store.is_opted_out(key) for key in phone]
        for key, channel, was_out in zip(phone, PHONE_CHANNELS, opted_out):
            await store.forget(key)
            self.signpost.conversation.forget_session(key)
            if was_out:
                await store.set_opted_out(key, channel, True)
        if any(opted_out) or not await self._may_confirm(phone):
            return []
        return [FORGOTTEN]

    async def _may_confirm(self, phone: tuple[str, ...]) -> bool:
        """A few keyword confirmations per window: each is a billed SMS, and a loop could send thousands."""
        return await self.keyword_limiter.check(phone[0]) == "allow"

    def _is_crisis(self, text: str) -> bool:
        return self.signpost.conversation.replies.assess(text).is_crisis

    def _render(self, reply: Reply, inbound: Inbound) -> list[str]:
        return sms_bodies(reply) if inbound.channel == "sms" else whatsapp_bodies(reply)

    @staticmethod
    def _keyword_record(inbound: Inbound, sender: str, kind: str) -> LogRecord:
        """Keywords are counted for editors like small talk; the text is the keyword itself."""
        return LogRecord(channel=inbound.channel, sender=sender, text=kind.upper(), outcome="smalltalk", kind=kind)

    def _store_failed(self, exc: Exception) -> None:
        # The exception type only: its message could quote what the parent wrote.
        log.error("Twilio channel: answering without the database after %s", type(exc).__name__)
        self.on_store_error(exc)


async def _read_body(request: Request) -> bytes | None:
    """The body, or None when it is larger than any real webhook."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_REQUEST_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)

