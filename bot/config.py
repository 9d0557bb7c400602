"""Settings, read from a mapping (the environment in production, a dict in tests).

In production start-up is strict: half a channel, a weak secret, a Bot API address in
plain http or signature checks switched off are refused, because each of them fails
silently and unsafely later. An unknown SIGNPOST_ENV is refused everywhere: a typo such
as "prod" must not quietly start a development server.
"""
from __future__ import annotations

import ipaddress
import math
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping
from urllib.parse import urlsplit

from .store import default_db_path, is_postgres_url, sqlite_path

MIN_SECRET_LENGTH = 32
MIN_SECRET_BITS = 80  # a random 32-hex-character token scores 90-125 on this estimate; "a" * 32 scores 0
# A random 32-hex-character token (the shortest accepted) has fewer than 10 different characters
# once in 10,000 draws and fewer than 8 about once in 30 million: 8 refuses "abababab..."-style
# secrets without refusing real random ones (the test of that drew 200 and failed 2% of runs at 10).
MIN_SECRET_SYMBOLS = 8
DEFAULT_RETENTION_DAYS = 90
ENVIRONMENTS = ("development", "production")
DEFAULT_HOST = "127.0.0.1"  # reachable from this machine only, unless the operator asks for more
DEFAULT_PORT = 8000
DEFAULT_MAX_CONNECTIONS = 1000
DEFAULT_REQUEST_SECONDS = 10.0  # a whole request (headers and body) must arrive within this
LOOPBACK_NAMES = ("localhost",)


def secret_weakness(value: str) -> str | None:
    """Why `value` is too weak to key the sender hashes, or None when it will do.

    Length alone is not enough: "a" * 32 and "password" * 4 are long. This refuses repeated
    units, few distinct characters, simple runs ("abcdef..."), and an estimated entropy
    (Shannon, per character, times the length) under MIN_SECRET_BITS.
    """
    if len(value) < MIN_SECRET_LENGTH:
        return f"shorter than {MIN_SECRET_LENGTH} characters"
    if any(len(value) % size == 0 and value == value[:size] * (len(value) // size)
           for size in range(1, len(value) // 2 + 1)):
        return "a short pattern repeated"
    if len(set(value)) < MIN_SECRET_SYMBOLS:
        return f"fewer than {MIN_SECRET_SYMBOLS} different characters"
    steps = Counter(ord(b) - ord(a) for a, b in zip(value, value[1:]))
    if steps.most_common(1)[0][1] > len(value) // 2:
        return "mostly a run of neighbouring characters"
    counts = Counter(value).values()
    bits = -sum(c / len(value) * math.log2(c / len(value)) for c in counts) * len(value)
    if bits < MIN_SECRET_BITS:
        return f"too predictable (about {bits:.0f} bits; make one with `python -c 'import secrets; print(secrets.token_hex(32))'`)"
    return None


def _is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _addresses(raw: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (raw or "").split(",") if part.strip())


def _sqlite_or_default(raw: str | None) -> Path:
    """The SQLite file SIGNPOST_DB names; with a PostgreSQL URL the default place still holds the pid and secret."""
    if raw is None or is_postgres_url(raw):
        return default_db_path()
    return sqlite_path(raw)


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError([f"{name} must be a whole number, not {raw!r}"]) from None


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        return float(raw)
    except ValueError:
        raise ConfigError([f"{name} must be a number of seconds, not {raw!r}"]) from None


class ConfigError(Exception):
    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


@dataclass(frozen=True)
class Settings:
    environment: str = "development"
    db_path: Path = field(default_factory=default_db_path)  # the SQLite file; beside it the pid and secret files
    tenants_file: Path | None = None  # SIGNPOST_TENANTS: several councils on one deployment (bot/tenants.py)
    db_url: str | None = None  # postgresql://... when the log is on PostgreSQL (several workers, several councils)
    secret: str | None = None
    knowledge_dir: Path | None = None
    telegram_token: str | None = None
    telegram_api_base_url: str | None = None
    telegram_webhook_secret: str | None = None
    twilio_auth_token: str | None = None
    twilio_opt_out_handling: bool = False  # Twilio's own STOP handling is on for the number
    twilio_skip_signature: bool = False  # development only, and loudly
    public_base_url: str | None = None
    editor_password_hash: str | None = None
    retention_days: int = DEFAULT_RETENTION_DAYS
    rate_limit_count: int = 10
    rate_limit_seconds: int = 600
    telegram_rate_limit_count: int = 30  # Telegram messages are free, and people tap buttons: a wider limit
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    request_seconds: float = DEFAULT_REQUEST_SECONDS
    trusted_proxies: tuple[str, ...] = ()  # only these peers may set X-Forwarded-For / -Proto

    @property
    def production(self) -> bool:
        return self.environment == "production"

    @property
    def database(self) -> str:
        """Where the log is: the PostgreSQL URL, or the SQLite file."""
        return self.db_url or str(self.db_path)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if env is None else env
        blank = lambda name: (env.get(name) or "").strip() or None  # noqa: E731
        return cls(
            environment=(blank("SIGNPOST_ENV") or "development").lower(),
            db_path=_sqlite_or_default(blank("SIGNPOST_DB")),
            db_url=db if (db := blank("SIGNPOST_DB")) and is_postgres_url(db) else None,
            tenants_file=Path(t) if (t := blank("SIGNPOST_TENANTS")) else None,
            secret=blank("SIGNPOST_SECRET"),
            knowledge_dir=Path(p) if (p := blank("SIGNPOST_KNOWLEDGE")) else None,
            telegram_token=blank("TELEGRAM_BOT_TOKEN"),
            telegram_api_base_url=blank("TELEGRAM_API_BASE_URL"),
            telegram_webhook_secret=blank("TELEGRAM_WEBHOOK_SECRET"),
            twilio_auth_token=blank("TWILIO_AUTH_TOKEN"),
            twilio_opt_out_handling=_flag(env.get("TWILIO_OPT_OUT_HANDLING")),
            twilio_skip_signature=_flag(env.get("SIGNPOST_INSECURE_SKIP_TWILIO_SIGNATURE")),
            public_base_url=(blank("PUBLIC_BASE_URL") or "").rstrip("/") or None,
            editor_password_hash=blank("SIGNPOST_EDITOR_PASSWORD_HASH"),
            retention_days=_int(env, "SIGNPOST_RETENTION_DAYS", DEFAULT_RETENTION_DAYS),
            rate_limit_count=_int(env, "SIGNPOST_RATE_LIMIT_COUNT", 10),
            rate_limit_seconds=_int(env, "SIGNPOST_RATE_LIMIT_SECONDS", 600),
            telegram_rate_limit_count=_int(env, "SIGNPOST_TELEGRAM_RATE_LIMIT_COUNT", 30),
            host=blank("SIGNPOST_HOST") or DEFAULT_HOST,
            port=_int(env, "SIGNPOST_PORT", DEFAULT_PORT),
            max_connections=_int(env, "SIGNPOST_MAX_CONNECTIONS", DEFAULT_MAX_CONNECTIONS),
            request_seconds=_float(env, "SIGNPOST_REQUEST_TIMEOUT", DEFAULT_REQUEST_SECONDS),
            trusted_proxies=_addresses(env.get("SIGNPOST_TRUSTED_PROXIES")),
        )

    def problems(self) -> list[str]:
        """What stops this configuration from starting; empty when it may start."""
        found = []
        if self.environment not in ENVIRONMENTS:
            found.append(f"SIGNPOST_ENV must be 'production' or 'development', not {self.environment!r}")
        if self.max_connections < 10:
            found.append("SIGNPOST_MAX_CONNECTIONS must be at least 10")
        if not 0.5 <= self.request_seconds <= 300:
            found.append("SIGNPOST_REQUEST_TIMEOUT must be between 0.5 and 300 seconds")
        for address in self.trusted_proxies:
            try:
                ipaddress.ip_network(address, strict=False)
            except ValueError:
                found.append(f"SIGNPOST_TRUSTED_PROXIES: {address!r} is not an IP address or network")
        if self.retention_days < 1:
            found.append("SIGNPOST_RETENTION_DAYS must be at least 1")
        if self.db_url and not self.secret:
            found.append("SIGNPOST_DB is PostgreSQL but SIGNPOST_SECRET is not set: every worker must key senders "
                         "with the same secret, or one worker's sessions and opt-outs are lost on the others")
        if self.twilio_auth_token and not self.public_base_url:
            found.append("TWILIO_AUTH_TOKEN is set but PUBLIC_BASE_URL is not: signatures are checked against it")
        if not self.production:
            return found
        if not self.secret or len(self.secret) < MIN_SECRET_LENGTH:
            found.append(f"SIGNPOST_SECRET must be set to at least {MIN_SECRET_LENGTH} characters in production")
        elif weakness := secret_weakness(self.secret):
            found.append(f"SIGNPOST_SECRET is weak: {weakness}")
        if self.telegram_webhook_secret and (weakness := secret_weakness(self.telegram_webhook_secret)):
            found.append(f"TELEGRAM_WEBHOOK_SECRET is weak: {weakness} (or leave it unset: one is derived)")
        if self.telegram_api_base_url and not (self.telegram_api_base_url.startswith("https://")
                                               or _is_loopback(self.telegram_api_base_url)):
            found.append("TELEGRAM_API_BASE_URL must be https:// (or on this machine): the bot token is in every URL")
        if self.twilio_skip_signature:
            found.append("Twilio signature checks cannot be switched off in production")
        if self.public_base_url and not self.public_base_url.startswith("https://"):
            found.append("PUBLIC_BASE_URL must be an https:// address in production")
        if self.telegram_api_base_url and not self.telegram_token:
            found.append("TELEGRAM_API_BASE_URL is set but TELEGRAM_BOT_TOKEN is not")
        if self.telegram_webhook_secret and not self.telegram_token:
            found.append("TELEGRAM_WEBHOOK_SECRET is set but TELEGRAM_BOT_TOKEN is not")
        if self.public_base_url and not (self.telegram_token or self.twilio_auth_token or self.editor_password_hash):
            found.append("PUBLIC_BASE_URL is set but no channel (Telegram or Twilio) is configured")
        return found

    def check(self) -> None:
        if found := self.problems():
            raise ConfigError(found)
