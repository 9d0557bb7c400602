"""Pseudonymous sender keys.

A sender key is HMAC-SHA256 of the channel and the raw id (phone number or Telegram
chat id) under SIGNPOST_SECRET. The log holds only the key, so a stolen database does
not reveal who wrote; without the secret the key cannot be reversed by trying numbers.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import secrets

from .config import Settings

log = logging.getLogger(__name__)


def sender_key(secret: bytes, channel: str, raw_id: str) -> str:
    message = f"{channel}\x00{raw_id.strip()}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def derived_secret(secret: bytes, purpose: str) -> str:
    """A separate secret for another use (the Telegram webhook token), derived from the main one."""
    return hmac.new(secret, f"signpost:{purpose}".encode(), hashlib.sha256).hexdigest()


def load_secret(settings: Settings) -> bytes:
    """SIGNPOST_SECRET, or in development a generated one kept beside the database."""
    if settings.secret:
        return settings.secret.encode()
    if settings.production:
        raise RuntimeError("SIGNPOST_SECRET is required in production")
    path = settings.db_path.parent / "secret.key"
    if path.exists():
        return path.read_bytes().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(secrets.token_hex(32))
    path.chmod(0o600)
    log.warning("SIGNPOST_SECRET is not set: generated a development secret in %s. "
                "Set SIGNPOST_SECRET (32+ characters) before going live.", path)
    return path.read_bytes().strip()
