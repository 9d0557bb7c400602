"""The Telegram channel: a python-telegram-bot Application over the conversation core.

Two ways to run it: long polling (`run_polling`, for a bot with no public address) and a
webhook on the project's ASGI server (`TelegramWebhook`). Both use the same handlers. The
chat id never leaves this module: it is turned into a keyed hash (`signpost.key`) before
anything is stored or remembered, and the reply goes back to the chat the update came from.
"""
from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hmac
import json
import logging
import re
import signal
import sys
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route
from telegram import BotCommand, LinkPreviewOptions, Message, Update
from telegram.constants import ChatAction, ChatType, ParseMode
from telegram.error import BadRequest, NetworkError, TelegramError, TimedOut
from telegram.ext import (AIORateLimiter, Application, CallbackContext, CallbackQueryHandler, CommandHandler,
                          Defaults, ExtBot, MessageHandler, filters)

from ..config import ConfigError, Settings
from ..identity import derived_secret
from ..messages import Incoming, Reply
from ..privacy import FORGET_CONFIRM, FORGOTTEN, privacy_text
from ..ratelimit import RateLimiter, notice_text
from ..signpost import Signpost, open_signpost
from ..startup import api_host, startup_line
from . import telegram_render as render

log = logging.getLogger(__name__)

CHANNEL = "telegram"
DEFAULT_API = "https://api.telegram.org"
WEBHOOK_PATH = "/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
SECRET_FORMAT = re.compile(r"[A-Za-z0-9_-]{1,256}")  # what Telegram accepts as secret_token
ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]
MAX_WEBHOOK_BODY = 1_000_000  # a real update is a few kilobytes
RATE_LIMIT_RETRIES = 3  # AIORateLimiter's default is 0: a 429 would reach the handler (NOTES 8)
NETWORK_RETRIES = 2
NETWORK_BACKOFF = 0.5  # seconds, doubled each time
CONCURRENT_UPDATES = 16  # one slow chat (a 429 wait) must not hold up every other family
PURGE_EVERY = dt.timedelta(days=1)
MAX_TEXT = 4096  # Telegram's own cap on a message; anything longer is cut before matching

COMMANDS = [
    BotCommand("start", "Welcome and the list of topics"),
    BotCommand("topics", "The topics I can help with"),
    BotCommand("help", "How to use this bot"),
    BotCommand("privacy", "What we keep and for how long"),
    BotCommand("forget", "Delete what we kept from your messages"),
]
TEXT_ONLY = ("Sorry, I can only read text messages. Please type your question in words, "
             "or send /topics to see what I can help with.")
FEEDBACK_THANKS = "Thank you. This helps us improve the answers."
KEPT = "OK, nothing has been deleted."
WORD_COMMANDS = {"forget": "forget", "forget me": "forget", "privacy": "privacy"}  # as the SMS keywords
MESSAGE_KINDS = (filters.VOICE | filters.AUDIO | filters.PHOTO | filters.Sticker.ALL | filters.Document.ALL
                 | filters.LOCATION | filters.VENUE | filters.CONTACT | filters.VIDEO | filters.VIDEO_NOTE
                 | filters.ANIMATION | filters.POLL | filters.Dice.ALL)


class RetryingRateLimiter(AIORateLimiter):
    """AIORateLimiter retries 429s; this also retries server errors and dropped connections, with backoff.

    Not a timeout (the message may have gone, and a retry would send it twice) and not a
    400 (the same request would fail the same way).
    """

    async def process_request(self, callback, args, kwargs, endpoint, data, rate_limit_args):  # type: ignore[override]
        for attempt in range(NETWORK_RETRIES + 1):
            try:
                return await super().process_request(callback, args, kwargs, endpoint, data, rate_limit_args)
            except (TimedOut, BadRequest):
                raise
            except NetworkError:
                if attempt == NETWORK_RETRIES or endpoint == "getUpdates":  # the updater has its own loop
                    raise
                await asyncio.sleep(NETWORK_BACKOFF * 2**attempt)
        raise AssertionError("unreachable")


def build_application(signpost: Signpost, polling: bool) -> Application:
    settings = signpost.settings
    if not settings.telegram_token:
        raise ConfigError(["TELEGRAM_BOT_TOKEN is not set"])
    api = (settings.telegram_api_base_url or DEFAULT_API).rstrip("/")
    builder = (
        Application.builder().token(settings.telegram_token)
        .base_url(f"{api}/bot").base_file_url(f"{api}/file/bot")
        .defaults(Defaults(parse_mode=ParseMode.HTML, link_preview_options=LinkPreviewOptions(is_disabled=True)))
        .rate_limiter(RetryingRateLimiter(max_retries=RATE_LIMIT_RETRIES))
        .connect_timeout(5).read_timeout(15).write_timeout(15).pool_timeout(5)
        .concurrent_updates(CONCURRENT_UPDATES)
    )
    if not polling:
        builder = builder.updater(None)
    application = builder.build()
    TelegramHandlers(signpost).install(application)
    # httpx logs every request URL at INFO, and the URL holds the bot token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    return application


async def register_commands(bot: ExtBot) -> None:
    try:
        await bot.set_my_commands(COMMANDS)
    except TelegramError as exc:  # the bot still answers without the command list
        log.warning("could not register the Telegram commands: %s", exc)


class TelegramHandlers:
    """The PTB handlers: each turns one kind of update into an Incoming, then renders the Reply."""

    def __init__(self, signpost: Signpost) -> None:
        self.signpost = signpost
        settings = signpost.settings
        # Per chat, like SMS: one chat must not fill the log or hold the event loop (a crisis is always answered).
        self.limiter = RateLimiter(settings.telegram_rate_limit_count, settings.rate_limit_seconds)

    def install(self, application: Application) -> None:
        messages = filters.UpdateType.MESSAGES  # new and edited messages; never channel posts
        application.add_handlers([
            CommandHandler("start", self.on_start, filters=messages),
            CommandHandler(["help", "topics"], self.on_command, filters=messages),
            CommandHandler("privacy", self.on_privacy, filters=messages),
            CommandHandler("forget", self.on_forget, filters=messages),
            MessageHandler(messages & filters.TEXT, self.on_text),
            MessageHandler(messages & MESSAGE_KINDS, self.on_other),
            CallbackQueryHandler(self.on_button),
        ])
        application.add_error_handler(self.on_error)

    # ------------------------------------------------------------ messages

    async def on_start(self, update: Update, context: CallbackContext) -> None:
        # "/start" would fold to the menu; the first contact deserves the greeting and the menu.
        await self._answer(update, context, "hello")

    async def on_command(self, update: Update, context: CallbackContext) -> None:
        command = update.effective_message.text.split()[0].lstrip("/").split("@")[0].lower()
        await self._answer(update, context, "menu" if command == "topics" else "help")

    async def on_privacy(self, update: Update, context: CallbackContext) -> None:
        await self._send_text(context.bot, update.effective_chat.id, privacy_text(self.signpost.settings.retention_days))

    async def on_forget(self, update: Update, context: CallbackContext) -> None:
        await context.bot.send_message(update.effective_chat.id, render.escape(FORGET_CONFIRM),
                                       reply_markup=render.forget_keyboard())

    async def on_text(self, update: Update, context: CallbackContext) -> None:
        text = addressed_text(update.effective_message, context.bot)
        if text is None:
            return
        word = WORD_COMMANDS.get(text.strip().lower().rstrip(".!"))
        if word == "forget":
            return await self.on_forget(update, context)
        if word == "privacy":
            return await self.on_privacy(update, context)
        await self._answer(update, context, text)

    async def on_other(self, update: Update, context: CallbackContext) -> None:
        message = update.effective_message
        if message.chat.type == ChatType.PRIVATE or _replies_to_bot(message, context.bot):
            await context.bot.send_message(message.chat_id, render.escape(TEXT_ONLY))

    async def _answer(self, update: Update, context: CallbackContext, text: str) -> None:
        chat_id = update.effective_chat.id
        text = text[:MAX_TEXT]
        if not await self._within_limit(context.bot, chat_id, text):
            return
        await _typing(context.bot, chat_id)
        incoming = Incoming(CHANNEL, self._key(chat_id), text, message_id=str(update.update_id))
        reply = await self.signpost.conversation.handle(incoming)
        await send_reply(context.bot, chat_id, reply)

    # ------------------------------------------------------------ buttons

    async def on_button(self, update: Update, context: CallbackContext) -> None:
        query = update.callback_query
        data = query.data or ""
        chat_id = query.message.chat.id if query.message else (query.from_user.id if query.from_user else None)
        if chat_id is None:
            return await _answer_query(query)
        key = self._key(chat_id)
        if (feedback := render.parse_feedback(data)) is not None:
            return await self._feedback(context.bot, query, key, *feedback)
        if data in (render.FORGET_YES, render.FORGET_NO):
            return await self._forget(query, key, data == render.FORGET_YES)
        choice = "menu" if data == render.MENU else render.resolve_choice(data, self._known_ids())
        await _answer_query(query)
        if choice is None or not await self._within_limit(context.bot, chat_id, ""):
            return
        await _typing(context.bot, chat_id)
        incoming = Incoming(CHANNEL, key, f"[button] {choice}", message_id=str(update.update_id))
        reply = await self.signpost.conversation.pick(incoming, choice)
        await send_reply(context.bot, chat_id, reply)

    async def _feedback(self, bot: ExtBot, query: Any, key: str, log_id: int, helpful: bool) -> None:
        """Store the vote and drop the Yes/No row, keeping the related topics; after a "no", offer
        somewhere to go next and ask what was missing (the conversation keeps the next message for editors)."""
        stored = await self.signpost.store.record_feedback(log_id, key, helpful)
        await _answer_query(query, FEEDBACK_THANKS if stored else None)
        if not stored or query.message is None or not isinstance(query.message, Message):
            return
        markup = query.message.reply_markup
        if markup is not None:  # without the keyboard as sent, editing would remove every button
            try:
                await query.edit_message_reply_markup(render.without_feedback(markup))
            except TelegramError as exc:  # an old message may no longer be editable; the vote is stored
                log.info("could not remove the feedback buttons: %s", type(exc).__name__)
        if not helpful:
            shown = render.topic_ids(markup, self._known_ids())
            await send_reply(bot, query.message.chat.id, self.signpost.conversation.not_helped(key, log_id, shown))

    async def _forget(self, query: Any, key: str, confirmed: bool) -> None:
        await _answer_query(query)
        if confirmed:
            await self.signpost.store.forget(key)
            self.signpost.conversation.forget_session(key)
        text = render.escape(FORGOTTEN if confirmed else KEPT)
        try:
            await query.edit_message_text(text)
        except TelegramError:
            if query.message is not None:
                await query.get_bot().send_message(query.message.chat.id, text)

    async def _within_limit(self, bot: ExtBot, chat_id: int, text: str) -> bool:
        """Count one message from the chat; past the limit send one notice, then nothing (a crisis still goes through)."""
        verdict = self.limiter.hit(self._key(chat_id))
        if verdict == "allow" or (text and self.signpost.conversation.replies.assess(text).is_crisis):
            return True
        if verdict == "notice":
            await bot.send_message(chat_id, render.escape(notice_text(self.signpost.settings.rate_limit_seconds)))
        return False

    def _known_ids(self) -> list[str]:
        knowledge = self.signpost.conversation.replies.knowledge
        return [e.id for e in knowledge.entries] + [f"group:{g.id}" for g in knowledge.groups]

    def _key(self, chat_id: int) -> str:
        return self.signpost.key(CHANNEL, str(chat_id))

    async def _send_text(self, bot: ExtBot, chat_id: int, text: str) -> None:
        for chunk in render.render_plain(text):
            await bot.send_message(chat_id, chunk)

    # ------------------------------------------------------------ errors

    async def on_error(self, update: object, context: CallbackContext) -> None:
        """Log and carry on: one bad update must never stop the bot. Never log the message text."""
        update_id = update.update_id if isinstance(update, Update) else None
        error = context.error
        log.error("Telegram update %s failed: %s: %s", update_id, type(error).__name__,
                  error if isinstance(error, TelegramError) else "see traceback",
                  exc_info=None if isinstance(error, TelegramError) else error)


async def send_reply(bot: ExtBot, chat_id: int, reply: Reply) -> None:
    """The reply as HTML messages; the buttons go under the last one."""
    chunks = render.render_html(reply)
    keyboard = render.keyboard_for(reply)
    for index, chunk in enumerate(chunks):
        last = index == len(chunks) - 1
        await bot.send_message(chat_id, chunk, reply_markup=keyboard if last else None)


def addressed_text(message: Message, bot: ExtBot) -> str | None:
    """The text to answer, or None in a group chat when the bot is not addressed."""
    text = message.text or ""
    if message.chat.type == ChatType.PRIVATE:
        return text
    mention = f"@{bot.username}".lower() if bot.username else None
    if mention and mention in text.lower():
        return re.sub(re.escape(mention), " ", text, flags=re.IGNORECASE).strip()
    return text if _replies_to_bot(message, bot) else None


def _replies_to_bot(message: Message, bot: ExtBot) -> bool:
    replied = message.reply_to_message
    return bool(replied and replied.from_user and replied.from_user.id == bot.id)


async def _typing(bot: ExtBot, chat_id: int) -> None:
    try:
        await bot.send_chat_action(chat_id, ChatAction.TYPING)
    except TelegramError:  # only a courtesy: never lose the answer over it
        pass


async def _answer_query(query: Any, text: str | None = None) -> None:
    try:
        await query.answer(text)
    except TelegramError as exc:  # too old or already answered; the press is still handled
        log.info("answerCallbackQuery failed: %s", type(exc).__name__)


# ------------------------------------------------------------------ webhook

def webhook_secret(signpost: Signpost) -> str:
    secret = signpost.settings.telegram_webhook_secret or derived_secret(signpost.secret, "telegram-webhook")
    if not SECRET_FORMAT.fullmatch(secret):
        raise ConfigError(["TELEGRAM_WEBHOOK_SECRET must be 1-256 characters of A-Z, a-z, 0-9, _ and -"])
    return secret


class TelegramWebhook:
    """The Telegram channel on the ASGI server: Telegram POSTs each update to /telegram/webhook."""

    def __init__(self, signpost: Signpost) -> None:
        self.signpost = signpost
        self.secret = webhook_secret(signpost)
        self.application = build_application(signpost, polling=False)
        self._running = False

    async def start(self) -> None:
        await self.application.initialize()
        await self.application.start()
        self._running = True
        await register_commands(self.application.bot)
        base = self.signpost.settings.public_base_url
        if not base:
            log.warning("PUBLIC_BASE_URL is not set: the Telegram webhook is not registered")
            return
        await self.application.bot.set_webhook(
            f"{base.rstrip('/')}{WEBHOOK_PATH}", secret_token=self.secret, allowed_updates=ALLOWED_UPDATES,
        )

    async def stop(self) -> None:
        if self._running:
            self._running = False
            await self.application.stop()
        await self.application.shutdown()

    def routes(self) -> list[BaseRoute]:
        return [Route(WEBHOOK_PATH, self.receive, methods=["POST"])]

    async def receive(self, request: Request) -> Response:
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), self.secret.encode()):  # before reading the body
            return PlainTextResponse("Forbidden", status_code=403)
        if not self._running:
            return PlainTextResponse("Not started", status_code=503)
        body = await request.body()
        if len(body) > MAX_WEBHOOK_BODY:
            return PlainTextResponse("Too large", status_code=413)
        update = self._parse(body)
        if update is None:
            return PlainTextResponse("Bad update", status_code=400)
        if not await self._first_delivery(update.update_id):
            return Response(status_code=200)  # resent after another worker took it: answered once, there
        # Queue it and answer at once: Telegram resends updates that take too long (NOTES 9).
        await self.application.update_queue.put(update)
        return Response(status_code=200)

    async def _first_delivery(self, update_id: int) -> bool:
        """With workers sharing a store, the update id is claimed in it, so a resent update is handled once."""
        store = self.signpost.store
        if not getattr(store, "shares_state", False):
            return True  # one process: PTB's own queue sees every update once
        try:
            return await store.claim_delivery(f"telegram:{store.tenant}", str(update_id))
        except Exception as exc:  # noqa: BLE001 - better twice than never
            log.error("Telegram update id not claimed: %s", type(exc).__name__)
            return True

    def _parse(self, body: bytes) -> Update | None:
        try:
            data = json.loads(body)
            if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
                return None
            return Update.de_json(data, self.application.bot)
        except (ValueError, TypeError, KeyError, AttributeError):  # what de_json raises on garbage
            return None
        except RecursionError:  # "[[[[..." nested past the stack: json.loads gives up, and so do we
            return None


# ------------------------------------------------------------------ polling

async def poll(signpost: Signpost, stop: asyncio.Event, poll_timeout: float = 10) -> None:
    """Long polling until `stop` is set: deleteWebhook, then getUpdates in a loop."""
    application = build_application(signpost, polling=True)
    async with application:
        await register_commands(application.bot)
        assert application.updater is not None
        await application.updater.start_polling(
            timeout=poll_timeout, allowed_updates=ALLOWED_UPDATES, bootstrap_retries=3,
        )
        await application.start()
        try:
            await stop.wait()
        finally:
            await application.updater.stop()
            await application.stop()


async def purge_daily(signpost: Signpost) -> None:
    """Delete rows past the retention period now and once a day; polling has no server to do it."""
    while True:
        try:
            removed = await signpost.store.purge(signpost.settings.retention_days)
            log.info("purged %d rows older than %d days", removed, signpost.settings.retention_days)
        except Exception:  # a failed purge is retried tomorrow; it must not stop the bot
            log.exception("purge failed")
        await asyncio.sleep(PURGE_EVERY.total_seconds())


def run_polling(settings: Settings) -> int:
    """`python main.py` with TELEGRAM_BOT_TOKEN and no PUBLIC_BASE_URL: poll until Ctrl-C or SIGTERM."""

    async def main() -> int:
        signpost = await open_signpost(settings)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        purge = asyncio.create_task(purge_daily(signpost))
        entries = len(signpost.conversation.replies.knowledge.entries)
        print(startup_line(settings, f"Telegram long polling ({api_host(settings)})", entries),
              file=sys.stderr, flush=True)
        try:
            await poll(signpost, stop)
        finally:
            purge.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await purge
            await signpost.close()
        return 0

    return asyncio.run(main())
