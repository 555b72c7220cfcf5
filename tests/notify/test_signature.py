"""Slack request signatures: valid, expired, tampered and malformed requests."""

from __future__ import annotations

import pytest

from monitor.slack.signature import MAX_AGE_SECONDS, SignatureError, sign, verify_slack_signature

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
NOW = 1_714_559_400.0
BODY = b"payload=%7B%22type%22%3A%22block_actions%22%7D"


def test_slack_documentation_example() -> None:
    # The worked example from Slack's "Verifying requests from Slack" guide.
    body = (
        b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
        b"&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
        b"&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
        b"&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
    )
    expected = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
    assert sign(SECRET, "1531420618", body) == expected
    verify_slack_signature(SECRET, "1531420618", body, expected, now=1531420618 + 10)


def test_valid_request_passes() -> None:
    timestamp = str(int(NOW) - 10)
    assert verify_slack_signature(SECRET, timestamp, BODY, sign(SECRET, timestamp, BODY), NOW) is None  # no raise


def test_request_at_the_edge_of_the_window_passes() -> None:
    timestamp = str(int(NOW) - MAX_AGE_SECONDS)
    assert verify_slack_signature(SECRET, timestamp, BODY, sign(SECRET, timestamp, BODY), NOW) is None  # no raise


@pytest.mark.parametrize("offset", [MAX_AGE_SECONDS + 1, 3600, -(MAX_AGE_SECONDS + 1)])
def test_expired_or_future_request_is_refused(offset: int) -> None:
    timestamp = str(int(NOW) - offset)
    with pytest.raises(SignatureError, match="away from now"):
        verify_slack_signature(SECRET, timestamp, BODY, sign(SECRET, timestamp, BODY), NOW)


def test_tampered_body_is_refused() -> None:
    timestamp = str(int(NOW))
    signature = sign(SECRET, timestamp, BODY)
    with pytest.raises(SignatureError, match="does not match"):
        verify_slack_signature(SECRET, timestamp, BODY.replace(b"block", b"blocc"), signature, NOW)


def test_tampered_timestamp_is_refused() -> None:
    signature = sign(SECRET, str(int(NOW) - 1000), BODY)  # an old request, replayed with a new timestamp
    with pytest.raises(SignatureError, match="does not match"):
        verify_slack_signature(SECRET, str(int(NOW)), BODY, signature, NOW)


def test_other_secret_is_refused() -> None:
    timestamp = str(int(NOW))
    with pytest.raises(SignatureError, match="does not match"):
        verify_slack_signature(SECRET, timestamp, BODY, sign("another-secret", timestamp, BODY), NOW)


@pytest.mark.parametrize("signature", ["", "v1=abc", "abc", "v0=", "v0=" + "0" * 64, "v0=ZZZ", "v0=é" + "0" * 63])
def test_malformed_or_wrong_signatures_are_refused(signature: str) -> None:
    with pytest.raises(SignatureError):
        verify_slack_signature(SECRET, str(int(NOW)), BODY, signature, NOW)


@pytest.mark.parametrize("timestamp", ["", "abc", "1e9", "-5", " 1714559400", "١٧١٤٥٥٩٤٠٠"])
def test_malformed_timestamps_are_refused(timestamp: str) -> None:
    with pytest.raises(SignatureError, match="Timestamp"):
        verify_slack_signature(SECRET, timestamp, BODY, sign(SECRET, timestamp, BODY), NOW)


def test_missing_secret_refuses_everything() -> None:
    timestamp = str(int(NOW))
    with pytest.raises(SignatureError, match="SLACK_SIGNING_SECRET"):
        verify_slack_signature("", timestamp, BODY, sign("", timestamp, BODY), NOW)
