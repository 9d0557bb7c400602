"""Configuration and pseudonymous ids: strict in production, helpful in development."""
from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import ConfigError, Settings
from bot.identity import load_secret, sender_key

STRONG = "9f2c4e8a1b7d3f60c5e9a2d4b8f1c7e3"  # random hex, as secrets.token_hex(16) makes


def test_defaults_are_development() -> None:
    """With nothing set the bot runs in development with the default database path."""
    settings = Settings.from_env({})
    assert not settings.production and settings.db_path == Path("data/signpost.sqlite3")
    assert settings.problems() == []


@pytest.mark.parametrize("env, problem", [
    ({}, "SIGNPOST_SECRET must be set"),
    ({"SIGNPOST_SECRET": "short"}, "SIGNPOST_SECRET must be set"),
    ({"SIGNPOST_SECRET": STRONG, "SIGNPOST_INSECURE_SKIP_TWILIO_SIGNATURE": "1",
      "TWILIO_AUTH_TOKEN": "t", "PUBLIC_BASE_URL": "https://x"}, "cannot be switched off"),
    ({"SIGNPOST_SECRET": STRONG, "TWILIO_AUTH_TOKEN": "t"}, "PUBLIC_BASE_URL is not"),
    ({"SIGNPOST_SECRET": STRONG, "TELEGRAM_WEBHOOK_SECRET": "s"}, "TELEGRAM_BOT_TOKEN is not"),
    ({"SIGNPOST_SECRET": STRONG, "TWILIO_AUTH_TOKEN": "t", "PUBLIC_BASE_URL": "http://x"}, "https://"),
])
def test_production_refuses_half_configurations(env: dict, problem: str) -> None:
    """Production refuses a weak secret, switched-off signatures and half-configured channels."""
    settings = Settings.from_env({"SIGNPOST_ENV": "production", **env})
    with pytest.raises(ConfigError) as caught:
        settings.check()
    assert any(problem in p for p in caught.value.problems), caught.value.problems


def test_production_with_everything_set_starts() -> None:
    """A complete production configuration has no problems."""
    settings = Settings.from_env({"SIGNPOST_ENV": "production", "SIGNPOST_SECRET": STRONG, "TWILIO_AUTH_TOKEN": "t",
                                  "PUBLIC_BASE_URL": "https://signpost.example", "TELEGRAM_BOT_TOKEN": "1:a"})
    settings.check()


def test_bad_number_is_a_config_error() -> None:
    """A non-numeric retention period is refused with the variable's name."""
    with pytest.raises(ConfigError, match="SIGNPOST_RETENTION_DAYS"):
        Settings.from_env({"SIGNPOST_RETENTION_DAYS": "ninety"})


def test_sender_key_is_keyed_and_per_channel() -> None:
    """The key depends on the secret and the channel, and never contains the raw id."""
    a = sender_key(b"secret-one", "sms", "+447700900123")
    assert a == sender_key(b"secret-one", "sms", "+447700900123")
    assert a != sender_key(b"secret-two", "sms", "+447700900123")
    assert a != sender_key(b"secret-one", "whatsapp", "+447700900123")
    assert "7700900123" not in a and len(a) == 64


def test_development_secret_is_generated_once(tmp_path: Path) -> None:
    """In development a secret is generated beside the database, kept private, and reused."""
    settings = Settings.from_env({"SIGNPOST_DB": str(tmp_path / "db.sqlite3")})
    first = load_secret(settings)
    assert len(first) >= 32 and load_secret(settings) == first
    assert (tmp_path / "secret.key").stat().st_mode & 0o077 == 0


def test_production_never_generates_a_secret(tmp_path: Path) -> None:
    """Production without SIGNPOST_SECRET fails instead of inventing one."""
    settings = Settings.from_env({"SIGNPOST_ENV": "production", "SIGNPOST_DB": str(tmp_path / "d")})
    with pytest.raises(ConfigError):
        load_secret(settings)
