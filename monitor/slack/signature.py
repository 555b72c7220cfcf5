"""Slack request signatures (v0): verify what Slack sends to our interactivity endpoint.

Slack signs each request with the app's signing secret: ``X-Slack-Signature`` is
``v0=`` + hex HMAC-SHA256 over ``v0:{X-Slack-Request-Timestamp}:{raw body}``. We refuse
requests whose timestamp is more than five minutes away from ``now`` (replays), compare in
constant time, and refuse everything malformed. ``now`` is passed in: no clock here.

Within the five minutes, a captured request could be sent again: :func:`replay_key` names
a verified request, and the caller refuses a key it has seen (``SqlStore.first_sighting``,
shared by every daemon on the database and kept across restarts).
"""

from __future__ import annotations

import hashlib
import hmac

VERSION = "v0"
MAX_AGE_SECONDS = 300
MAX_TIMESTAMP_DIGITS = 12  # Unix seconds have 10 digits until the year 2286


class SignatureError(Exception):
    """A request that is not provably from Slack; ``reason`` says why (safe to log)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Slack-Signature`` value Slack would send (used by tests and the fake)."""
    base = f"{VERSION}:{timestamp}:".encode() + body
    digest = hmac.new(secret.encode("utf-8"), base, hashlib.sha256).hexdigest()
    return f"{VERSION}={digest}"


def verify_slack_signature(secret: str, timestamp: str, body: bytes, signature: str, now: float) -> None:
    """Return if the request is signed by Slack within the last five minutes; else raise.

    ``timestamp`` and ``signature`` are the raw ``X-Slack-Request-Timestamp`` and
    ``X-Slack-Signature`` headers; ``body`` is the raw request body, before any parsing.
    """
    if not secret:
        raise SignatureError("no signing secret configured (set SLACK_SIGNING_SECRET)")
    if not timestamp or not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > MAX_TIMESTAMP_DIGITS:
        raise SignatureError(f"missing or malformed X-Slack-Request-Timestamp {timestamp[:20]!r}")
    age = now - int(timestamp)
    if abs(age) > MAX_AGE_SECONDS:
        raise SignatureError(f"request timestamp is {int(age)} s away from now (limit {MAX_AGE_SECONDS} s)")
    if not signature or not signature.startswith(f"{VERSION}="):
        raise SignatureError("missing or malformed X-Slack-Signature (expected 'v0=<hex>')")
    expected = sign(secret, timestamp, body)
    if not hmac.compare_digest(expected.encode("ascii"), signature.encode("utf-8", "replace")):
        raise SignatureError("signature does not match the body")


def replay_key(timestamp: str, signature: str) -> str:
    """A short name for a verified request: the same timestamp and signature give the same key."""
    return hashlib.sha256(f"{timestamp}:{signature}".encode("utf-8", "replace")).hexdigest()
