"""Pseudonymous sender keys.

A sender key is HMAC-SHA256 of the channel and the raw id (phone number or Telegram
chat id) under SIGNPOST_SECRET. The log holds only the key, so a stolen database does
not reveal who wrote; without the secret the key cannot be reversed by trying numbers.

Phone numbers are put in E.164 form first ("+447700900123"), so one phone is one
sender however the number was written, and `phone_keys` gives the keys of both Twilio
channels (SMS and WhatsApp) of one number: STOP, FORGET and the rate limit cover both.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import secrets
from pathlib import Path

from .config import ConfigError, Settings

log = logging.getLogger(__name__)

MIN_KEY_FILE_BYTES = 32
PHONE_CHANNELS = ("sms", "whatsapp")
_INVISIBLE = re.compile(r"[\s\u200b-\u200f\u2060\ufeff().\-]")  # spaces, zero-width marks, punctuation
_UK_NATIONAL = re.compile(r"0(\d{9,10})")


def e164(number: str) -> str:
    """The number in E.164 form when it looks like a phone number; otherwise the trimmed text.

    Twilio sends E.164 already; this makes "+44 7700 900123", "447700900123" and
    "07700 900123" the same sender. A national number without a country code is read as UK.
    """
    bare = _INVISIBLE.sub("", number.strip())
    if bare.startswith("00"):
        bare = "+" + bare[2:]
    if (uk := _UK_NATIONAL.fullmatch(bare)) is not None:
        return "+44" + uk.group(1)
    if bare.isdigit() and 8 <= len(bare) <= 15:
        return "+" + bare
    if bare.startswith("+") and bare[1:].isdigit():
        return bare
    return number.strip()


def sender_key(secret: bytes, channel: str, raw_id: str) -> str:
    raw = e164(raw_id) if channel in PHONE_CHANNELS else raw_id.strip()
    message = f"{channel}\x00{raw}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def phone_keys(secret: bytes, number: str) -> tuple[str, ...]:
    """The sender keys of one phone number on every Twilio channel (SMS, then WhatsApp)."""
    return tuple(sender_key(secret, channel, number) for channel in PHONE_CHANNELS)


def derived_secret(secret: bytes, purpose: str) -> str:
    """A separate secret for another use (the Telegram webhook token), derived from the main one."""
    return hmac.new(secret, f"signpost:{purpose}".encode(), hashlib.sha256).hexdigest()


def load_secret(settings: Settings) -> bytes:
    """SIGNPOST_SECRET, or in development a generated one kept beside the database."""
    if settings.secret:
        return settings.secret.encode()
    if settings.production:
        raise ConfigError(["SIGNPOST_SECRET is required in production"])
    path = settings.db_path.parent / "secret.key"
    if not path.exists():
        _write_new_key(path)
        log.warning("SIGNPOST_SECRET is not set: generated a development secret in %s. "
                    "Set SIGNPOST_SECRET (32+ characters) before going live.", path)
    return _read_key(path)


def _read_key(path: Path) -> bytes:
    """The key file's secret; an empty, short or unreadable one is refused, never used."""
    try:
        key = path.read_bytes().strip()
    except OSError as exc:
        raise ConfigError([f"{path} cannot be read ({exc.strerror}): fix it or set SIGNPOST_SECRET"]) from None
    if len(key) < MIN_KEY_FILE_BYTES:
        # An empty key makes every sender key a plain hash anyone can reverse by trying numbers.
        raise ConfigError([f"{path} holds a secret shorter than {MIN_KEY_FILE_BYTES} bytes: "
                           "delete it to make a new one, or set SIGNPOST_SECRET"])
    return key


def _write_new_key(path: Path) -> None:
    """Write the key private from its first byte, and whole: a temporary file renamed into place."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
            handle.flush()
            os.fsync(handle.fileno())
        os.link(temporary, path)  # fails if another process made one meanwhile: theirs is kept
    except FileExistsError:
        pass
    finally:
        temporary.unlink(missing_ok=True)
