"""The one line an operator sees when the bot starts: what is running, where, on what.

It names the mode, the address or the Bot API host, the channels that are on, the
knowledge directory and the database, and never a token, secret or password: the line
ends up in terminals, journals and support tickets.
"""
from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

from .config import Settings
from .knowledge import BUNDLED_DIR

TELEGRAM_API = "api.telegram.org"


def without_credentials(address: str) -> str:
    """A URL or path with any user:password@ part removed (a PostgreSQL URL may carry one)."""
    return re.sub(r"(?<=://)[^/@\s]+@", "", address)


def api_host(settings: Settings) -> str:
    """The Bot API's host (and port), never its path: the token goes in the path."""
    if not settings.telegram_api_base_url:
        return TELEGRAM_API
    parts = urlsplit(settings.telegram_api_base_url)
    return parts.netloc.rsplit("@", 1)[-1] or TELEGRAM_API


def channels_on(settings: Settings, telegram_mode: str) -> list[str]:
    channels = []
    if settings.telegram_token:
        channels.append(f"Telegram ({telegram_mode})")
    if settings.twilio_auth_token:
        channels.append("SMS and WhatsApp (Twilio)")
    if settings.editor_password_hash:
        channels.append("editors' page")
    return channels


def startup_line(settings: Settings, running: str, entries: int | None = None) -> str:
    """"SEND Signpost: <running>; channels: ...; knowledge: DIR (N entries); database: PATH"."""
    telegram_mode = "webhook" if settings.public_base_url else "long polling"
    channels = channels_on(settings, telegram_mode)
    knowledge = Path(settings.knowledge_dir or BUNDLED_DIR).resolve()
    count = f" ({entries} entries)" if entries is not None else ""
    return (f"SEND Signpost: {running}; channels: {', '.join(channels) or 'none'}; "
            f"knowledge: {knowledge}{count}; database: {without_credentials(settings.database)}")
