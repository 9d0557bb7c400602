"""Editors' login: password hashes, signed session cookies and CSRF tokens.

The password hash is self-describing ("scrypt:n:r:p:salt:hash", base64 parts) so the
cost can rise later without breaking old hashes. ":" rather than "$" separates the
parts because "$" is expanded by shells and by docker env files. Sessions are HMAC
signed with a key derived from SIGNPOST_SECRET *and* the password hash, so changing the
password ends every session.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
MAX_SCRYPT_N = 2**20  # a hash from elsewhere may not make every login cost gigabytes
SESSION_SECONDS = 8 * 60 * 60  # a working day
LOGIN_FORM_SECONDS = 60 * 60  # how long a login form stays valid


class PasswordHashError(ValueError):
    """SIGNPOST_EDITOR_PASSWORD_HASH is not a hash this module made."""


def same(a: str, b: str) -> bool:
    """Constant-time equality for any text (compare_digest refuses non-ASCII str, which a client can send)."""
    return hmac.compare_digest(a.encode("utf-8", "surrogatepass"), b.encode("utf-8", "surrogatepass"))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=256 * 1024 * 1024, dklen=32)


def hash_password(password: str, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> str:
    """A new salted scrypt hash of the password, to put in SIGNPOST_EDITOR_PASSWORD_HASH."""
    if not password:
        raise ValueError("the password is empty")
    salt = secrets.token_bytes(16)
    return ":".join(["scrypt", str(n), str(r), str(p), _b64(salt), _b64(_scrypt(password, salt, n, r, p))])


def parse_hash(encoded: str) -> tuple[str, list[str]]:
    """Split a stored hash into its scheme and parts; raises PasswordHashError when malformed."""
    parts = encoded.strip().replace("$", ":").split(":")
    scheme, rest = parts[0], parts[1:]
    if scheme == "scrypt" and len(rest) == 5:
        if not all(x.isdigit() for x in rest[:3]):
            raise PasswordHashError("scrypt cost parameters must be whole numbers")
        n, r, p = (int(x) for x in rest[:3])
        if n < 2 or n > MAX_SCRYPT_N or n & (n - 1) or not r or not p:
            raise PasswordHashError("scrypt cost parameters are out of range")
    elif scheme == "pbkdf2_sha256" and len(rest) == 3:
        if not rest[0].isdigit() or not 1000 <= int(rest[0]) <= 10_000_000:
            raise PasswordHashError("pbkdf2 iterations are out of range")
    else:
        raise PasswordHashError("not a scrypt:... or pbkdf2_sha256:... hash")
    try:
        for part in rest[-2:]:
            _unb64(part)
    except (binascii.Error, ValueError):
        raise PasswordHashError("the salt or hash is not base64") from None
    return scheme, rest


def verify_password(password: str, encoded: str) -> bool:
    """True when the password matches; False for a wrong password or a malformed hash."""
    try:
        scheme, rest = parse_hash(encoded)
    except PasswordHashError:
        return False
    salt, expected = _unb64(rest[-2]), _unb64(rest[-1])
    if scheme == "scrypt":
        n, r, p = (int(x) for x in rest[:3])
        actual = _scrypt(password, salt, n, r, p)
    else:
        actual = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, int(rest[0]), dklen=len(expected))
    return hmac.compare_digest(actual, expected)


@dataclass(frozen=True)
class Session:
    csrf: str  # the token every form of this session carries
    expires: float  # Unix time


class Signer:
    """Signs small JSON payloads with an expiry: `payload.signature`, both base64url."""

    def __init__(self, key: bytes | str, purpose: str) -> None:
        raw = key.encode() if isinstance(key, str) else key
        self._key = hmac.new(raw, f"signpost-editors:{purpose}".encode(), hashlib.sha256).digest()

    def _signature(self, body: str) -> str:
        return _b64(hmac.new(self._key, body.encode(), hashlib.sha256).digest())

    def dumps(self, payload: dict) -> str:
        body = _b64(json.dumps(payload, separators=(",", ":")).encode())
        return f"{body}.{self._signature(body)}"

    def loads(self, token: str | None, now: float | None = None) -> dict | None:
        """The payload of a valid, unexpired token; None for anything else."""
        if not token or token.count(".") != 1:
            return None
        body, signature = token.split(".")
        if not same(signature, self._signature(body)):
            return None
        try:
            payload = json.loads(_unb64(body))
        except (binascii.Error, ValueError):
            return None
        if not isinstance(payload, dict) or not isinstance(payload.get("exp"), (int, float)):
            return None
        return payload if payload["exp"] > (time.time() if now is None else now) else None


class EditorAuth:
    """Sessions and CSRF for one password hash under one server secret."""

    def __init__(self, secret: bytes, password_hash: str, session_seconds: int = SESSION_SECONDS) -> None:
        key = secret + b"\x00" + password_hash.encode()  # a new password ends old sessions
        self.sessions = Signer(key, "session")
        self.login_forms = Signer(key, "login-form")
        self.password_hash = password_hash
        self.session_seconds = session_seconds

    def new_session(self, now: float | None = None) -> tuple[str, Session]:
        session = Session(csrf=secrets.token_urlsafe(24), expires=(now or time.time()) + self.session_seconds)
        return self.sessions.dumps({"csrf": session.csrf, "exp": session.expires}), session

    def session(self, token: str | None, now: float | None = None) -> Session | None:
        payload = self.sessions.loads(token, now)
        if payload is None or not isinstance(payload.get("csrf"), str):
            return None
        return Session(payload["csrf"], float(payload["exp"]))

    def new_login_form(self) -> tuple[str, str]:
        """A (cookie, form field) pair: the login form's CSRF token, double-submitted."""
        nonce = secrets.token_urlsafe(24)
        return self.login_forms.dumps({"nonce": nonce, "exp": time.time() + LOGIN_FORM_SECONDS}), nonce

    def login_form_ok(self, cookie: str | None, field: str | None) -> bool:
        payload = self.login_forms.loads(cookie)
        return bool(payload and field and same(str(payload.get("nonce", "")), field))

    def verify(self, password: str) -> bool:
        return verify_password(password, self.password_hash)


def csrf_ok(session: Session | None, field: str | None) -> bool:
    return bool(session and field and same(session.csrf, field))
