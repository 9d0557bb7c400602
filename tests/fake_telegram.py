"""A fake Telegram Bot API server for tests: a Starlette app served by uvicorn on 127.0.0.1, port 0.

It answers POST /bot<token>/<method> the way Telegram does ({"ok": true, "result": ...}),
records every call, serves queued updates to getUpdates, and is stricter than
python-telegram-bot: it rejects text over 4,096 UTF-16 units, callback_data over 64
bytes and HTML that Telegram would not parse, so those bugs fail here and not in
production. It can be told to answer the next calls of a method with 429 or 500.
"""
from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import json
import time
from collections import deque
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any, AsyncIterator, Callable

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

TOKEN = "123456:TEST-token_for-the-fake"
BOT_ID = 123456
BOT_USERNAME = "signpost_test_bot"
LONG_POLL_MAX = 0.3  # seconds; short, so that the bot under test stops quickly
JSON_FIELDS = {"reply_markup", "commands", "allowed_updates", "link_preview_options", "entities", "scope"}
TELEGRAM_TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a",
                 "code", "pre", "blockquote", "tg-emoji"}
TELEGRAM_ENTITIES = {"lt", "gt", "amp", "quot"}


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


class TelegramHTMLError(ValueError):
    pass


class _TelegramHTML(HTMLParser):
    """Telegram's HTML: a few tags, balanced, and no bare < > & in the text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.open: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in TELEGRAM_TAGS:
            raise TelegramHTMLError(f"unsupported start tag \"{tag}\"")
        if tag == "a" and not dict(attrs).get("href"):
            raise TelegramHTMLError("a tag without href")
        self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        raise TelegramHTMLError(f"unsupported self-closing tag \"{tag}\"")

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open[-1] != tag:
            raise TelegramHTMLError(f"unexpected end tag \"{tag}\"")
        self.open.pop()

    def handle_data(self, data: str) -> None:
        if any(c in data for c in "<>&"):
            raise TelegramHTMLError("unescaped < > or & in the text")
        self.text.append(data)

    def handle_entityref(self, name: str) -> None:
        if name not in TELEGRAM_ENTITIES:
            raise TelegramHTMLError(f"unsupported entity &{name};")
        self.text.append({"lt": "<", "gt": ">", "amp": "&", "quot": '"'}[name])

    def handle_charref(self, name: str) -> None:
        self.text.append(chr(int(name[1:], 16) if name.lower().startswith("x") else int(name)))

    def handle_comment(self, data: str) -> None:
        raise TelegramHTMLError("comments are not supported")


def parse_telegram_html(markup: str) -> str:
    """The plain text Telegram would show, or TelegramHTMLError where Telegram answers 400."""
    parser = _TelegramHTML()
    parser.feed(markup)
    parser.close()
    if parser.rawdata:  # an unterminated tag or entity left in the buffer
        raise TelegramHTMLError("unterminated tag or entity")
    if parser.open:
        raise TelegramHTMLError(f"unclosed tag \"{parser.open[-1]}\"")
    return "".join(parser.text)


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    status: int = 200

    @property
    def chat_id(self) -> int | None:
        value = self.params.get("chat_id")
        return int(value) if value is not None else None

    @property
    def text(self) -> str:
        return str(self.params.get("text", ""))

    @property
    def buttons(self) -> list[dict[str, Any]]:
        markup = self.params.get("reply_markup") or {}
        return [b for row in markup.get("inline_keyboard", []) for b in row]


@dataclass
class FakeTelegram:
    token: str = TOKEN
    calls: list[Call] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)
    failures: dict[str, deque[int]] = field(default_factory=dict)
    messages: list[dict[str, Any]] = field(default_factory=list)  # what the bot sent, as Telegram keeps it
    url: str = ""

    def __post_init__(self) -> None:
        self._ids = itertools.count(1)
        self._message_ids = itertools.count(1000)
        self._changed = asyncio.Condition()
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task | None = None
        self.app = Starlette(routes=[Route("/bot{token}/{method}", self._endpoint, methods=["POST"])])

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> str:
        config = uvicorn.Config(self.app, host="127.0.0.1", port=0, log_level="warning", lifespan="off",
                                timeout_graceful_shutdown=1)
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve())
        async with asyncio.timeout(5):
            while not self._server.started:
                await asyncio.sleep(0.01)
        port = self._server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await asyncio.wait_for(self._task, 5)

    async def __aenter__(self) -> "FakeTelegram":
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------ what the tests drive

    def fail_next(self, method: str, count: int = 1, status: int = 429) -> None:
        """Answer the next `count` calls of `method` with 429 (retry_after 1) or another error status."""
        self.failures.setdefault(method, deque()).extend([status] * count)

    async def push_update(self, update: dict[str, Any]) -> int:
        update_id = next(self._ids)
        async with self._changed:
            self.updates.append({"update_id": update_id, **update})
            self._changed.notify_all()
        return update_id

    def message(self, chat_id: int, text: str | None = None, chat_type: str = "private",
                reply_to_bot: bool = False, **extra: Any) -> dict[str, Any]:
        """A Message object as Telegram sends it, from a user whose id is the chat id."""
        chat: dict[str, Any] = {"id": chat_id, "type": chat_type}
        if chat_type == "private":
            chat["first_name"] = "Parent"
        else:
            chat["title"] = "Parents group"
        user_id = chat_id if chat_type == "private" else 777
        message: dict[str, Any] = {
            "message_id": next(self._message_ids), "date": int(time.time()), "chat": chat,
            "from": {"id": user_id, "is_bot": False, "first_name": "Parent"}, **extra,
        }
        if text is not None:
            message["text"] = text
            if text.startswith("/"):
                command = text.split()[0]
                message["entities"] = [{"type": "bot_command", "offset": 0, "length": utf16_len(command)}]
        if reply_to_bot:
            message["reply_to_message"] = {
                "message_id": 1, "date": int(time.time()), "chat": chat, "text": "Earlier answer",
                "from": {"id": BOT_ID, "is_bot": True, "first_name": "Signpost", "username": BOT_USERNAME},
            }
        return message

    async def send_text(self, chat_id: int, text: str, **kw: Any) -> int:
        return await self.push_update({"message": self.message(chat_id, text, **kw)})

    async def edit_text(self, chat_id: int, text: str) -> int:
        return await self.push_update({"edited_message": {**self.message(chat_id, text), "edit_date": int(time.time())}})

    async def press(self, chat_id: int, data: str) -> int:
        """Press a button: on the latest message sent to this chat that has it, as Telegram reports it."""
        message = next((m for m in reversed(self.messages) if m["chat"]["id"] == chat_id and any(
            b.get("callback_data") == data for row in m.get("reply_markup", {}).get("inline_keyboard", [])
            for b in row)), None)
        if message is None:  # a forged or stale button: Telegram still delivers it
            message = {**self.message(chat_id, "Earlier answer"),
                       "from": {"id": BOT_ID, "is_bot": True, "first_name": "Signpost"}}
        return await self.push_update({"callback_query": {
            "id": f"cq{next(self._ids)}", "chat_instance": "ci", "data": data, "message": message,
            "from": {"id": chat_id, "is_bot": False, "first_name": "Parent"},
        }})

    def of(self, method: str, chat_id: int | None = None) -> list[Call]:
        return [c for c in self.calls if c.method == method and (chat_id is None or c.chat_id == chat_id)]

    def sent(self, chat_id: int | None = None) -> list[Call]:
        """Messages the fake accepted (status 200), in order."""
        return [c for c in self.of("sendMessage", chat_id) if c.status == 200]

    async def wait_for(self, method: str, count: int = 1, where: Callable[[Call], bool] | None = None,
                       timeout: float = 5.0, status: int | None = 200) -> list[Call]:
        """Wait until `count` calls of `method` match; fails the test after `timeout` seconds."""
        def matching() -> list[Call]:
            return [c for c in self.calls if c.method == method and (status is None or c.status == status)
                    and (where is None or where(c))]

        async with asyncio.timeout(timeout):
            async with self._changed:
                await self._changed.wait_for(lambda: len(matching()) >= count)
        return matching()

    # ------------------------------------------------------------ the Bot API

    async def _endpoint(self, request: Request) -> JSONResponse:
        method = request.path_params["method"]
        if request.path_params["token"] != self.token:
            return _error(401, "Unauthorized")
        params = await _params(request)
        status, body = await self._answer(method, params)
        async with self._changed:
            self.calls.append(Call(method, params, status))
            self._changed.notify_all()
        return JSONResponse(body, status_code=status)

    async def _answer(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        queued = self.failures.get(method)
        if queued:
            status = queued.popleft()
            if status == 429:
                return 429, {"ok": False, "error_code": 429, "description": "Too Many Requests: retry after 1",
                             "parameters": {"retry_after": 1}}
            return status, {"ok": False, "error_code": status, "description": "Internal Server Error"}
        handler = getattr(self, f"_api_{method}", None)
        if handler is None:  # Telegram answers 404 here, which PTB takes for a bad token (NOTES 5)
            return 400, {"ok": False, "error_code": 400, "description": f"Bad Request: method {method} not found"}
        try:
            return 200, {"ok": True, "result": await handler(params)}
        except TelegramHTMLError as exc:
            return 400, {"ok": False, "error_code": 400, "description": f"Bad Request: can't parse entities: {exc}"}
        except ValueError as exc:
            return 400, {"ok": False, "error_code": 400, "description": f"Bad Request: {exc}"}

    async def _api_getMe(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"id": BOT_ID, "is_bot": True, "first_name": "Signpost", "username": BOT_USERNAME,
                "can_join_groups": True, "can_read_all_group_messages": False, "supports_inline_queries": False}

    async def _api_setMyCommands(self, params: dict[str, Any]) -> bool:
        for command in params.get("commands", []):
            if not (1 <= len(command["command"]) <= 32 and 1 <= len(command["description"]) <= 256):
                raise ValueError("BOT_COMMAND_INVALID")
        return True

    async def _api_deleteWebhook(self, params: dict[str, Any]) -> bool:
        return True

    async def _api_setWebhook(self, params: dict[str, Any]) -> bool:
        return True

    async def _api_sendChatAction(self, params: dict[str, Any]) -> bool:
        return True

    async def _api_answerCallbackQuery(self, params: dict[str, Any]) -> bool:
        if len(str(params.get("text", ""))) > 200:
            raise ValueError("MESSAGE_TOO_LONG")
        return True

    async def _api_getUpdates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        wait = min(float(params.get("timeout") or 0), LONG_POLL_MAX)

        def pending() -> list[dict[str, Any]]:
            return [u for u in self.updates if u["update_id"] >= offset]

        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait_for(lambda: bool(pending())), wait)
            except TimeoutError:
                pass
            return pending()

    async def _api_sendMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        text = self._checked_text(params)
        self._check_markup(params)
        return self._sent_message(params, text)

    async def _api_editMessageText(self, params: dict[str, Any]) -> dict[str, Any]:
        text = self._checked_text(params)
        self._check_markup(params)
        return self._sent_message(params, text, int(params.get("message_id", 1)))

    async def _api_editMessageReplyMarkup(self, params: dict[str, Any]) -> dict[str, Any]:
        self._check_markup(params)
        return self._sent_message(params, "Earlier answer", int(params.get("message_id", 1)))

    def _checked_text(self, params: dict[str, Any]) -> str:
        text = str(params.get("text", ""))
        if params.get("parse_mode") == "HTML":
            text = parse_telegram_html(text)
        if not text.strip():
            raise ValueError("message text is empty")
        if utf16_len(text) > 4096:
            raise ValueError("message is too long")
        return text

    def _check_markup(self, params: dict[str, Any]) -> None:
        for row in (params.get("reply_markup") or {}).get("inline_keyboard", []):
            for button in row:
                if not button.get("text"):
                    raise ValueError("BUTTON_TEXT_INVALID")
                if len(str(button.get("callback_data", "")).encode()) > 64:
                    raise ValueError("BUTTON_DATA_INVALID")

    def _sent_message(self, params: dict[str, Any], text: str, message_id: int | None = None) -> dict[str, Any]:
        chat_id = int(params.get("chat_id", 0))
        message: dict[str, Any] = {
            "message_id": message_id or next(self._message_ids), "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "group"},
            "from": {"id": BOT_ID, "is_bot": True, "first_name": "Signpost", "username": BOT_USERNAME},
            "text": text,
        }
        if params.get("reply_markup"):
            message["reply_markup"] = params["reply_markup"]
        self.messages.append(message)
        return message


async def _params(request: Request) -> dict[str, Any]:
    """Telegram takes JSON or form fields; in a form, non-string values are JSON text (NOTES 5)."""
    if request.headers.get("content-type", "").startswith("application/json"):
        body = await request.body()
        return json.loads(body) if body else {}
    form = await request.form()
    params: dict[str, Any] = {}
    for name, value in form.items():
        params[name] = json.loads(value) if name in JSON_FIELDS and isinstance(value, str) else value
    return params


def _error(status: int, description: str) -> JSONResponse:
    return JSONResponse({"ok": False, "error_code": status, "description": description}, status_code=status)


# ------------------------------------------------------------------ the real bot against the fake

@contextlib.asynccontextmanager
async def polling_bot(settings: Any) -> AsyncIterator[tuple[FakeTelegram, Any]]:
    """Start the fake, then the real Application long-polling it; stop both within a few seconds.

    `settings` is a bot.config.Settings without the Telegram fields; they are filled in here.
    """
    from bot.channels.telegram import poll  # imported here: the fake itself needs nothing from bot/
    from bot.signpost import open_signpost

    async with FakeTelegram() as fake:
        signpost = await open_signpost(dataclasses.replace(
            settings, telegram_token=fake.token, telegram_api_base_url=fake.url))
        stop = asyncio.Event()
        task = asyncio.create_task(poll(signpost, stop, poll_timeout=1))
        try:
            await fake.wait_for("getUpdates", status=None)
            yield fake, signpost
        finally:
            stop.set()
            await asyncio.wait_for(task, 10)
            await signpost.close()
