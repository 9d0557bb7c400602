"""Editors' login: password hashes, signed session cookies and CSRF tokens.

The password hash is self-describing ("scrypt:n:r:p:salt:hash", base64 parts) so the
cost can rise later without breaking old hashes. ":" rather than "$" separates the
parts because "$" is expanded by shells and by docker env files. Sessions are HMAC
signed with a key derived from SIGNPOST_SECRET *and* the password hash, so changing the
password ends every session.

Against guessing (the security review's F05-F07): a login form token works once; failed
logins are counted per client and overall (`LoginThrottle`), and a client or the whole page
is locked out for a while, after which the right password works again; logout ends the
session on the server too (its id is revoked). Revocations live in memory, so the signing
key also holds a value made when the process starts: a restart ends every session rather
than bringing a logged-out one back.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
MIN_SCRYPT_N = 2**14  # below this a stolen hash is cheap to crack
MAX_SCRYPT_N = 2**20  # a hash from elsewhere may not make every login cost gigabytes
SCRYPT_MAXMEM = 256 * 1024 * 1024
MIN_PBKDF2_ITERATIONS = 600_000  # OWASP's figure for PBKDF2-HMAC-SHA256
SESSION_SECONDS = 8 * 60 * 60  # a working day
LOGIN_FORM_SECONDS = 60 * 60  # how long a login form stays valid (and it works once)
MAX_REMEMBERED = 20_000  # used login tokens, revoked sessions, clients with failures: bounded memory
CLIENT_FREE_FAILURES = 5  # wrong passwords from one client before it is locked out
CLIENT_LOCK_SECONDS = 60.0  # the first lockout; it doubles with each further failure
MAX_LOCK_SECONDS = 60 * 60.0
OVERALL_FAILURES = 100  # wrong passwords from everyone within OVERALL_WINDOW before the page locks
OVERALL_WINDOW = 60 * 60.0
OVERALL_LOCK_SECONDS = 15 * 60.0
_STARTED = secrets.token_bytes(16)  # made when the process starts: part of every signing key


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
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=SCRYPT_MAXMEM, dklen=32)


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
        if n < MIN_SCRYPT_N or n > MAX_SCRYPT_N or n & (n - 1) or not 1 <= r <= 32 or not 1 <= p <= 16:
            raise PasswordHashError(f"scrypt cost parameters are out of range (N from 2^14 to 2^20, r 1-32, p 1-16)")
        if 128 * n * r > SCRYPT_MAXMEM:  # hashlib would refuse it at every login: a page nobody can enter
            raise PasswordHashError("scrypt N and r need more memory than a login may use")
    elif scheme == "pbkdf2_sha256" and len(rest) == 3:
        if not rest[0].isdigit() or not MIN_PBKDF2_ITERATIONS <= int(rest[0]) <= 10_000_000:
            raise PasswordHashError(f"pbkdf2 iterations are out of range ({MIN_PBKDF2_ITERATIONS:,} or more)")
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
    id: str = ""  # revoked at logout


class Expiring:
    """A bounded set of tokens, each remembered until its expiry (used login forms, revoked sessions)."""

    def __init__(self, limit: int = MAX_REMEMBERED) -> None:
        self._until: OrderedDict[str, float] = OrderedDict()
        self.limit = limit

    def add(self, token: str, until: float, now: float | None = None) -> None:
        now = time.time() if now is None else now
        self._until[token] = until
        self._until.move_to_end(token)
        for old in [t for t, end in self._until.items() if end <= now]:
            del self._until[old]
        while len(self._until) > self.limit:
            self._until.popitem(last=False)

    def __contains__(self, token: str) -> bool:
        return token in self._until


@dataclass
class _Failures:
    count: int = 0
    locked_until: float = 0.0


@dataclass
class LoginThrottle:
    """Wrong passwords counted per client and overall, with lockouts that end by themselves.

    A client (its address, as the trusted proxy reports it) gets CLIENT_FREE_FAILURES tries,
    then is locked out for CLIENT_LOCK_SECONDS, doubling with each further failure up to an
    hour. Guessing from many addresses is caught overall: OVERALL_FAILURES within an hour
    locks the page for everyone for a quarter of an hour, with a warning in the log. A right
    password after a lockout has ended works at once and clears the client's count.
    """

    clients: OrderedDict[str, _Failures] = field(default_factory=OrderedDict)
    overall: list[float] = field(default_factory=list)
    overall_locked_until: float = 0.0

    def wait(self, client: str, now: float | None = None) -> float:
        """Seconds until this client may try again; 0 when it may try now."""
        now = time.monotonic() if now is None else now
        failures = self.clients.get(client)
        own = failures.locked_until - now if failures else 0.0
        return max(0.0, own, self.overall_locked_until - now)

    def failed(self, client: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        failures = self.clients.pop(client, None) or _Failures()
        self.clients[client] = failures
        while len(self.clients) > MAX_REMEMBERED:
            self.clients.popitem(last=False)
        failures.count += 1
        if failures.count >= CLIENT_FREE_FAILURES:
            lock = CLIENT_LOCK_SECONDS * 2 ** (failures.count - CLIENT_FREE_FAILURES)
            failures.locked_until = now + min(lock, MAX_LOCK_SECONDS)
            log.warning("editors' login: %d wrong passwords from one client; locked out for %.0f s",
                        failures.count, min(lock, MAX_LOCK_SECONDS))
        self.overall = [t for t in self.overall if t > now - OVERALL_WINDOW] + [now]
        if len(self.overall) >= OVERALL_FAILURES and self.overall_locked_until <= now:
            self.overall_locked_until = now + OVERALL_LOCK_SECONDS
            self.overall.clear()
            log.warning("ALERT editors' login: %d wrong passwords within %.0f minutes from several clients; "
                        "the login is locked for %.0f minutes", OVERALL_FAILURES, OVERALL_WINDOW / 60,
                        OVERALL_LOCK_SECONDS / 60)

    def succeeded(self, client: str) -> None:
        self.clients.pop(client, None)


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
        # A new password ends old sessions; so does a restart (the revocations below live in memory).
        key = secret + b"\x00" + password_hash.encode() + b"\x00" + _STARTED
        self.sessions = Signer(key, "session")
        self.login_forms = Signer(key, "login-form")
        self.password_hash = password_hash
        self.session_seconds = session_seconds
        self.throttle = LoginThrottle()
        self._used_forms = Expiring()
        self._revoked = Expiring()

    def new_session(self, now: float | None = None) -> tuple[str, Session]:
        session = Session(csrf=secrets.token_urlsafe(24), expires=(now or time.time()) + self.session_seconds,
                          id=secrets.token_urlsafe(16))
        return self.sessions.dumps({"csrf": session.csrf, "exp": session.expires, "sid": session.id}), session

    def session(self, token: str | None, now: float | None = None) -> Session | None:
        payload = self.sessions.loads(token, now)
        if payload is None or not isinstance(payload.get("csrf"), str) or not isinstance(payload.get("sid"), str):
            return None
        if payload["sid"] in self._revoked:
            return None
        return Session(payload["csrf"], float(payload["exp"]), payload["sid"])

    def end_session(self, session: Session) -> None:
        """Logout: the session's cookie stops working here, whoever still holds a copy."""
        self._revoked.add(session.id, session.expires)

    def new_login_form(self) -> tuple[str, str]:
        """A (cookie, form field) pair: the login form's CSRF token, double-submitted."""
        nonce = secrets.token_urlsafe(24)
        return self.login_forms.dumps({"nonce": nonce, "exp": time.time() + LOGIN_FORM_SECONDS}), nonce

    def login_form_ok(self, cookie: str | None, field: str | None) -> bool:
        """True once for each login form: the token is spent by the attempt, right or wrong."""
        payload = self.login_forms.loads(cookie)
        if not (payload and field and same(str(payload.get("nonce", "")), field)):
            return False
        if field in self._used_forms:
            return False
        self._used_forms.add(field, float(payload["exp"]))
        return True

    def verify(self, password: str) -> bool:
        return verify_password(password, self.password_hash)


def csrf_ok(session: Session | None, field: str | None) -> bool:
    return bool(session and field and same(session.csrf, field))
