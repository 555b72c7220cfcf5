"""Slack delivery: the Web API with a bot token (main mode) and incoming webhooks.

The only module of crisismon that imports slack_sdk.

Bot-token mode (:class:`SlackNotifier`): ``chat.postMessage`` for new messages and thread
replies (``thread_ts``), ``chat.update`` to edit the alert's top message in place.

Webhook mode (:class:`SlackWebhookNotifier`): one POST per message to an incoming-webhook
URL. Webhooks cannot edit messages nor reply in threads and return no ``ts``: an update is
posted as a new message starting "Update:", a thread reply is posted at the top level.

Retries: the outbox owns them. slack_sdk's retry handlers are switched off
(``retry_handlers=[]``) so that one ``deliver`` is one HTTP request: a retry inside the
client could repeat a post the outbox does not know about, and would hold the outbox worker
for a Retry-After it should be scheduling instead. Each failure becomes a
:class:`~monitor.protocols.DeliveryError`: ``retry_after`` for 429, ``permanent`` for errors
a retry cannot fix (bad token, unknown channel, invalid blocks), plain retryable otherwise.
"""

from __future__ import annotations

import http.client
import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError, SlackRequestError

from monitor.models import Message, Receipt
from monitor.protocols import DeliveryError

DEFAULT_API_URL = "https://slack.com/api/"
API_URL_ENV = "CRISISMON_SLACK_API_URL"
DEFAULT_TIMEOUT = 10.0

#: ``ok: false`` errors that no retry can fix: the message is dead until an admin acts.
PERMANENT_ERRORS = frozenset(
    {
        "not_authed",
        "invalid_auth",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "no_permission",
        "missing_scope",
        "not_allowed_token_type",
        "ekm_access_denied",
        "team_access_not_granted",
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "restricted_action",
        "restricted_action_read_only_channel",
        "restricted_action_thread_only_channel",
        "invalid_blocks",
        "invalid_blocks_format",
        "invalid_attachments",
        "invalid_arguments",
        "invalid_arg_name",
        "invalid_array_arg",
        "invalid_charset",
        "invalid_form_data",
        "invalid_post_type",
        "missing_post_type",
        "msg_too_long",
        "msg_blocks_too_long",
        "no_text",
        "too_many_attachments",
        "cant_update_message",
        "message_not_found",
        "edit_window_closed",
        "unknown_method",
        "method_deprecated",
        "deprecated_endpoint",
    }
)
#: Errors that say "later": retried by the outbox with its backoff.
RETRYABLE_ERRORS = frozenset(
    {"ratelimited", "rate_limited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)


def make_web_client(
    token: str,
    base_url: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    *,
    env: Mapping[str, str] | None = None,
) -> WebClient:
    """A WebClient for ``token`` with no internal retries.

    The API base URL is ``base_url``, else ``$CRISISMON_SLACK_API_URL``, else Slack's; it
    must be an http(s) URL and gets a trailing '/' when it lacks one.
    """
    environ = os.environ if env is None else env
    url = base_url or environ.get(API_URL_ENV) or DEFAULT_API_URL
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"Slack API URL {url!r} is not an http(s) URL (check {API_URL_ENV})")
    if not url.endswith("/"):
        url += "/"
    # timeout is passed on to urllib, which takes fractions of a second.
    return WebClient(token=token, base_url=url, timeout=timeout, retry_handlers=[])  # type: ignore[arg-type]


class SlackNotifier:
    """Delivers outbox messages with the Web API (bot token).

    ``channel`` is best given as the channel id (``C0123ABCD``): ``chat.update`` only
    accepts ids. A channel name works for posting; its id is then learned from Slack's
    answer and used for later updates (until a restart, which forgets it).
    """

    def __init__(self, client: WebClient, channel: str, *, destination: str = "slack") -> None:
        self.client = client
        self.channel = channel
        self.destination = destination
        self._channel_id: str | None = channel if _looks_like_id(channel) else None

    def deliver(self, message: Message, thread_ref: str | None, update_ref: str | None) -> Receipt:
        text, blocks = _content(message)
        method = "chat.update" if update_ref else "chat.postMessage"
        try:
            if update_ref:
                response = self.client.chat_update(
                    channel=self._update_channel(), ts=update_ref, text=text, blocks=blocks
                )
            else:
                response = self.client.chat_postMessage(
                    channel=self.channel,
                    text=text,
                    blocks=blocks,
                    thread_ts=thread_ref,
                    unfurl_links=False,
                    unfurl_media=False,
                )
        except SlackApiError as exc:
            raise api_error(method, exc) from exc
        except SlackRequestError as exc:  # e.g. an invalid URL: retrying will not help
            raise DeliveryError(f"slack {method}: {exc}", permanent=True) from exc
        except (SlackClientError, OSError, http.client.HTTPException) as exc:  # timeouts, refused, reset
            raise DeliveryError(f"slack {method}: {type(exc).__name__}: {exc}") from exc
        channel = str(response.get("channel") or self.channel)
        if _looks_like_id(channel):
            self._channel_id = channel
        ts = response.get("ts")
        return Receipt(ref=str(ts) if ts else update_ref, channel=channel)

    def _update_channel(self) -> str:
        if self._channel_id is None:
            raise DeliveryError(
                f"chat.update needs the channel id, and {self.channel!r} is a name whose id is not "
                "known yet: set SLACK_CHANNEL to the channel id (C…)",
                permanent=True,
            )
        return self._channel_id


def api_error(method: str, exc: SlackApiError) -> DeliveryError:
    """The DeliveryError for a Slack answer that was not ``ok``."""
    response = exc.response
    status = int(getattr(response, "status_code", 0) or 0)
    data = response.data if isinstance(response.data, dict) else {}
    error = str(data.get("error") or f"http_{status}")
    detail = data.get("errors") or (data.get("response_metadata") or {}).get("messages")
    reason = f"slack {method}: {error} (HTTP {status})" + (f": {detail}" if detail else "")
    if status == 429 or error in ("ratelimited", "rate_limited"):
        return DeliveryError(reason, retry_after=_retry_after(response.headers))
    if status >= 500 or error in RETRYABLE_ERRORS:
        return DeliveryError(reason)
    return DeliveryError(reason, permanent=error in PERMANENT_ERRORS)


def _retry_after(headers: Mapping[str, Any] | None) -> float | None:
    for name, value in (headers or {}).items():
        if name.lower() == "retry-after":
            raw = value[0] if isinstance(value, list) and value else value
            try:
                return max(0.0, float(raw))
            except (TypeError, ValueError):
                return None
    return None


def _looks_like_id(channel: str) -> bool:
    return len(channel) >= 9 and channel[0] in "CGD" and channel.isalnum() and channel.isupper()


def _content(message: Message) -> tuple[str, list[Any] | None]:
    text = str(message.payload.get("text") or "")
    blocks = message.payload.get("blocks")
    if not text and not blocks:
        raise DeliveryError(f"message {message.id} has neither text nor blocks", permanent=True)
    return text, list(blocks) if blocks else None


class SlackWebhookNotifier:
    """Delivers outbox messages to a Slack incoming webhook.

    Limits of webhooks: no ``ts`` comes back (receipts carry ``ref=None``), messages cannot be
    edited nor threaded. An update is posted as a new message whose text and first block say
    "Update:"; a thread reply is posted at the top level of the webhook's channel.
    """

    def __init__(
        self,
        url: str,
        client: httpx.Client | None = None,
        *,
        destination: str = "slack",
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("the Slack webhook URL is not an http(s) URL")
        self.url = url
        self.client = client or httpx.Client(timeout=timeout)
        self.destination = destination

    def deliver(self, message: Message, thread_ref: str | None, update_ref: str | None) -> Receipt:
        text, blocks = _content(message)
        body: dict[str, Any] = {"text": text, "unfurl_links": False, "unfurl_media": False}
        if update_ref:
            body["text"] = f"Update: {text}"
            if blocks and len(blocks) < 50:
                blocks = [{"type": "context", "elements": [{"type": "mrkdwn", "text": "*Update:*"}]}, *blocks]
        if blocks:
            body["blocks"] = blocks
        try:
            response = self.client.post(self.url, json=body)
        except httpx.HTTPError as exc:  # the URL holds a secret: never put it in the reason
            raise DeliveryError(f"slack webhook: {type(exc).__name__}") from exc
        _check_webhook(response)
        return Receipt(ref=None, channel=None)


def _check_webhook(response: httpx.Response) -> None:
    """Raise the DeliveryError for a webhook answer other than 200."""
    if response.status_code == 200:
        return
    reason = f"slack webhook: HTTP {response.status_code} {response.text[:200].strip()}"
    if response.status_code == 429:
        raise DeliveryError(reason, retry_after=_retry_after(dict(response.headers)))
    if response.status_code >= 500:
        raise DeliveryError(reason)
    raise DeliveryError(reason, permanent=True)  # invalid_payload, no_service, action_prohibited…
