"""Replies rendered for Telegram: escaped HTML split under the length limit, and inline keyboards.

Everything here is pure: a `Reply` in, strings and button layouts out. Telegram checks the
limits and rejects a whole message that breaks one, and python-telegram-bot checks none of
them, so they are enforced here: 4,096 UTF-16 units per message, 64 bytes of callback_data.
"""
from __future__ import annotations

import hashlib
import html
import re
from dataclasses import dataclass
from typing import Iterable

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from ..messages import Choice, Reply

MESSAGE_LIMIT = 4096  # Telegram's limit; it may count code points or UTF-16 units, so count units
SAFE_LIMIT = 4000  # leave room, the HTML is measured before Telegram strips the tags
CALLBACK_LIMIT = 64  # bytes, not characters
FEEDBACK_QUESTION = "Did this help?"
MENU_BUTTON = "Show the help topics"
MENU_AFTER = ("not-helped", "feedback-detail")  # after a "no", and the thanks for what was missing

# callback_data prefixes: short, so that a topic id keeps most of the 64 bytes
PICK, HASHED, FEEDBACK, MENU, FORGET = "t:", "h:", "f:", "m", "x:"
FORGET_YES, FORGET_NO = "x:1", "x:0"


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def escape(text: str) -> str:
    """Escape & < > for Telegram's HTML; quotes need no escaping outside attributes."""
    return html.escape(text, quote=False)


# ------------------------------------------------------------------ text

@dataclass(frozen=True)
class Block:
    """A piece of a message that must not be split across tags: an optional bold heading and a body."""

    heading: str = ""
    body: str = ""

    def html(self) -> str:
        parts = [f"<b>{escape(self.heading)}</b>"] if self.heading else []
        if self.body:
            parts.append(escape(self.body))
        return "\n".join(parts)


def blocks_for(reply: Reply) -> list[Block]:
    blocks = [Block(heading=reply.title)] if reply.title and reply.outcome == "answer" else []
    blocks += [Block(body=p.strip()) for p in re.split(r"\n\s*\n", reply.text) if p.strip()]
    blocks += [Block(heading=c.name, body="\n".join(c.lines)) for c in reply.contacts]
    if reply.footer:
        blocks.append(Block(body=reply.footer))
    if reply.outcome == "answer" and reply.log_id is not None:
        blocks.append(Block(body=FEEDBACK_QUESTION))
    return blocks


def render_html(reply: Reply, limit: int = SAFE_LIMIT) -> list[str]:
    """The reply as one or more HTML messages, split at paragraph boundaries."""
    return pack([piece for block in blocks_for(reply) for piece in fit(block, limit)], limit)


def render_plain(text: str, limit: int = SAFE_LIMIT) -> list[str]:
    """Fixed text (privacy, confirmations) escaped and split like an answer."""
    return render_html(Reply("smalltalk", text), limit)


def pack(pieces: Iterable[str], limit: int) -> list[str]:
    """Join rendered pieces with blank lines into as few messages as fit."""
    messages: list[str] = []
    current = ""
    for piece in pieces:
        joined = f"{current}\n\n{piece}" if current else piece
        if utf16_len(joined) <= limit:
            current = joined
            continue
        if current:
            messages.append(current)
        current = piece
    if current:
        messages.append(current)
    return messages


def fit(block: Block, limit: int) -> list[str]:
    """A block as HTML pieces each within the limit; the heading stays with the first piece."""
    rendered = block.html()
    if utf16_len(rendered) <= limit:
        return [rendered]
    room = limit - utf16_len(Block(heading=block.heading).html()) - 1
    bodies = split_text(block.body, room)
    first = Block(heading=block.heading, body=bodies[0]).html()
    return [first, *(Block(body=b).html() for b in bodies[1:])]


_SEPARATORS = ("\n", ". ", " ")


def split_text(text: str, limit: int, separators: tuple[str, ...] = _SEPARATORS) -> list[str]:
    """Plain text in pieces whose *escaped* form fits: at lines, then sentences, then words."""
    if utf16_len(escape(text)) <= limit:
        return [text]
    if not separators:
        return _hard_cut(text, limit)
    sep, rest = separators[0], separators[1:]
    parts = text.split(sep)
    pieces: list[str] = []
    current = ""
    for index, part in enumerate(parts):
        part = part + (sep.rstrip() if index < len(parts) - 1 else "")  # keep the full stop
        candidate = f"{current}{' ' if sep != chr(10) else chr(10)}{part}" if current else part
        if utf16_len(escape(candidate)) <= limit:
            current = candidate
            continue
        if current:
            pieces.append(current)
        if utf16_len(escape(part)) <= limit:
            current = part
        else:
            *whole, current = split_text(part, limit, rest)
            pieces.extend(whole)
    if current:
        pieces.append(current)
    return [p for p in pieces if p.strip()]


def _hard_cut(text: str, limit: int) -> list[str]:
    """Last resort for a word longer than a message: cut between code points."""
    pieces, current = [], ""
    for char in text:
        if utf16_len(escape(current + char)) > limit:
            pieces.append(current)
            current = ""
        current += char
    return [*pieces, current] if current else pieces


# ------------------------------------------------------------------ buttons

def choice_data(choice_id: str) -> str:
    """callback_data for picking a topic or menu group; hashed when the id is too long."""
    data = PICK + choice_id
    if len(data.encode()) <= CALLBACK_LIMIT:
        return data
    return HASHED + _digest(choice_id)


def resolve_choice(data: str, known_ids: Iterable[str]) -> str | None:
    """The choice id behind callback_data made by `choice_data`, or None if it is not ours."""
    if data.startswith(PICK):
        return data[len(PICK):]
    if data.startswith(HASHED):
        wanted = data[len(HASHED):]
        return next((i for i in known_ids if _digest(i) == wanted), None)
    return None


def _digest(choice_id: str) -> str:
    return hashlib.sha256(choice_id.encode()).hexdigest()[:24]


def feedback_data(log_id: int, helpful: bool) -> str:
    return f"{FEEDBACK}{log_id}:{int(helpful)}"


def parse_feedback(data: str) -> tuple[int, bool] | None:
    found = re.fullmatch(r"f:(\d{1,18}):([01])", data)
    return (int(found.group(1)), found.group(2) == "1") if found else None


def _button(choice: Choice) -> InlineKeyboardButton:
    return InlineKeyboardButton(choice.title, callback_data=choice_data(choice.id))


def keyboard_for(reply: Reply) -> InlineKeyboardMarkup | None:
    """Choices one per row; related next steps; "did this help?"; a way back to the menu."""
    rows = [[_button(c)] for c in reply.choices]
    rows += [[_button(c)] for c in reply.related]
    if reply.outcome == "answer" and reply.log_id is not None:
        rows.append([
            InlineKeyboardButton("Yes", callback_data=feedback_data(reply.log_id, True)),
            InlineKeyboardButton("No", callback_data=feedback_data(reply.log_id, False)),
        ])
    if (reply.outcome in ("crisis", "unanswered") or reply.kind in MENU_AFTER) and not reply.choices:
        rows.append([InlineKeyboardButton(MENU_BUTTON, callback_data=MENU)])
    return InlineKeyboardMarkup(rows) if rows else None


def topic_ids(markup: InlineKeyboardMarkup | None, known_ids: Iterable[str]) -> tuple[str, ...]:
    """The topics a message's buttons offer (not menu groups, not Yes/No), in order."""
    if markup is None:
        return ()
    known = list(known_ids)
    found = (resolve_choice(str(b.callback_data or ""), known) for row in markup.inline_keyboard for b in row)
    return tuple(i for i in found if i and not i.startswith("group:"))


def forget_keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[
        InlineKeyboardButton("Yes, delete it", callback_data=FORGET_YES),
        InlineKeyboardButton("No, keep it", callback_data=FORGET_NO),
    ]])


def without_feedback(markup: InlineKeyboardMarkup | None) -> InlineKeyboardMarkup | None:
    """The same keyboard with the Yes/No row removed, once the parent has answered it."""
    if markup is None:
        return None
    rows = [row for row in markup.inline_keyboard
            if not any(str(b.callback_data or "").startswith(FEEDBACK) for b in row)]
    return InlineKeyboardMarkup(rows) if rows else None
