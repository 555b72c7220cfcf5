"""Console logins: scrypt password hashes, signed session cookies, CSRF tokens, a login throttle.

A session is a cookie ``login|expiry|nonce`` signed with HMAC-SHA256 under the session
secret; nothing is stored server-side, so a daemon restart keeps sessions when the secret
comes from the environment (``http.auth.secret_env``), and every daemon behind a load
balancer accepts the others' cookies when they share it. The CSRF token of a form is an
HMAC of the session's nonce: a page from another site cannot know it. The login form has
its own token, bound to a short-lived ``crisismon_login`` cookie (double submit).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

SESSION_COOKIE = "crisismon_session"
LOGIN_COOKIE = "crisismon_login"
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=5)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """``scrypt$N$r$p$salt$hash`` (what `crisismon passwd` prints for http.auth.users)."""
    salt = salt or os.urandom(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, encoded: str) -> bool:
    try:
        scheme, n, r, p, salt, expected = encoded.split("$")
        if scheme != "scrypt":
            return False
        digest = hashlib.scrypt(
            password.encode("utf-8"), salt=_unb64(salt), n=int(n), r=int(r), p=int(p), dklen=len(_unb64(expected))
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(digest, _unb64(expected))


@dataclass(frozen=True)
class Session:
    login: str
    expires: datetime
    nonce: str


class Sessions:
    def __init__(self, secret: bytes, lifetime: timedelta) -> None:
        if len(secret) < 16:
            raise ValueError("the session secret must be at least 16 bytes")
        self.secret = secret
        self.lifetime = lifetime

    def _sign(self, text: str) -> str:
        return _b64(hmac.new(self.secret, text.encode("utf-8"), hashlib.sha256).digest())

    def issue(self, login: str, now: datetime) -> str:
        expires = int((now + self.lifetime).timestamp())
        body = f"{_b64(login.encode('utf-8'))}|{expires}|{_b64(os.urandom(12))}"
        return f"{body}|{self._sign('session:' + body)}"

    def read(self, cookie: str | None, now: datetime) -> Session | None:
        if not cookie or cookie.count("|") != 3:
            return None
        body, _, signature = cookie.rpartition("|")
        if not hmac.compare_digest(signature.encode(), self._sign("session:" + body).encode()):
            return None
        login, expires, nonce = body.split("|")
        try:
            until = datetime.fromtimestamp(int(expires), now.tzinfo)
            name = _unb64(login).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return None
        return Session(name, until, nonce) if until > now else None

    def csrf(self, session: Session) -> str:
        return self._sign("csrf:" + session.nonce)

    def login_token(self, nonce: str) -> str:
        return self._sign("login:" + nonce)

    @staticmethod
    def new_nonce() -> str:
        return _b64(os.urandom(12))

    @staticmethod
    def same(given: str | None, expected: str) -> bool:
        return given is not None and hmac.compare_digest(given.encode(), expected.encode())


class Throttle:
    """At most ``MAX_FAILURES`` failed logins per login name in ``FAILURE_WINDOW``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._failures: dict[str, list[datetime]] = {}

    def blocked(self, login: str, now: datetime) -> bool:
        with self._lock:
            recent = [t for t in self._failures.get(login, []) if now - t < FAILURE_WINDOW]
            self._failures[login] = recent
            return len(recent) >= MAX_FAILURES

    def failed(self, login: str, now: datetime) -> None:
        with self._lock:
            self._failures.setdefault(login, []).append(now)

    def succeeded(self, login: str) -> None:
        with self._lock:
            self._failures.pop(login, None)


def parse_cookies(header: str) -> dict[str, str]:
    cookies: dict[str, str] = {}
    for part in header.split(";"):
        name, sep, value = part.strip().partition("=")
        if sep and name and name not in cookies:
            cookies[name] = value
    return cookies


def cookie(name: str, value: str, *, max_age: int, secure: bool, path: str = "/") -> str:
    flags = f"{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Strict"
    return flags + ("; Secure" if secure else "")
