"""Settings, read from a mapping (the environment in production, a dict in tests).

In production start-up is strict: half a channel, a short secret or signature checks
switched off are refused, because each of them fails silently and unsafely later.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from .store import default_db_path

MIN_SECRET_LENGTH = 32
DEFAULT_RETENTION_DAYS = 90


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


class ConfigError(Exception):
    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


@dataclass(frozen=True)
class Settings:
    environment: str = "development"
    db_path: Path = field(default_factory=default_db_path)
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

    @property
    def production(self) -> bool:
        return self.environment == "production"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if env is None else env
        blank = lambda name: (env.get(name) or "").strip() or None  # noqa: E731
        return cls(
            environment=(blank("SIGNPOST_ENV") or "development").lower(),
            db_path=Path(blank("SIGNPOST_DB") or default_db_path()),
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
        )

    def problems(self) -> list[str]:
        """What stops this configuration from starting; empty when it may start."""
        found = []
        if self.retention_days < 1:
            found.append("SIGNPOST_RETENTION_DAYS must be at least 1")
        if self.twilio_auth_token and not self.public_base_url:
            found.append("TWILIO_AUTH_TOKEN is set but PUBLIC_BASE_URL is not: signatures are checked against it")
        if not self.production:
            return found
        if not self.secret or len(self.secret) < MIN_SECRET_LENGTH:
            found.append(f"SIGNPOST_SECRET must be set to at least {MIN_SECRET_LENGTH} characters in production")
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
