"""Slack delivery: the Web API with a bot token (main mode) and incoming webhooks.

With :mod:`monitor.slack.socket_mode`, the only modules of crisismon that import slack_sdk.

Bot-token mode (:class:`SlackNotifier`): ``chat.postMessage`` for new messages and thread
replies (``thread_ts``), ``chat.update`` to edit the alert's top message in place,
``files_upload_v2`` for payloads with a ``file`` (a chart PNG, base64). Writes are paced to
one per second per channel. Each post carries message metadata with its outbox id, so that
after a crash between sending and marking :meth:`SlackNotifier.find` can tell the outbox the
message is already there instead of posting it twice.

Webhook mode (:class:`SlackWebhookNotifier`): one POST per message to an incoming-webhook
URL. Webhooks cannot edit messages nor reply in threads nor upload files, and return no
``ts``: an update is posted as a new message starting "Update:", a thread reply is posted at
the top level, a file message posts its text with a note that the image was left out.

Retries: the outbox owns them. slack_sdk's retry handlers are switched off
(``retry_handlers=[]``) so that one ``deliver`` is one HTTP request: a retry inside the
client could repeat a post the outbox does not know about, and would hold the outbox worker
for a Retry-After it should be scheduling instead. Each failure becomes a
:class:`~monitor.protocols.DeliveryError`: ``retry_after`` for 429, ``permanent`` for errors
a retry cannot fix (bad token, unknown channel, invalid blocks), plain retryable otherwise.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import http.client
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError, SlackRequestError
from slack_sdk.web import SlackResponse

from monitor import clock
from monitor.http.retry import parse_retry_after
from monitor.models import Message, Receipt
from monitor.protocols import DeliveryError

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://slack.com/api/"
API_URL_ENV = "CRISISMON_SLACK_API_URL"
DEFAULT_TIMEOUT = 10.0
MIN_INTERVAL = 1.0  # seconds between two writes to one channel (Slack: ~1 message/s/channel)
FILE_KEY = "file"  # a payload with this key (base64 bytes) is uploaded as a file
METADATA_EVENT = "crisismon_message"
HISTORY_LIMIT = 200
MAX_REPLY_PAGES = 5
MAX_HISTORY_PAGES = 10  # a lookup reads up to 2,000 top-level messages posted since the attempt
INDEXING_WAIT = 20.0  # seconds Slack may take to show, in history, a post it is still processing
CLOCK_MARGIN = 60.0  # seconds: our clock and Slack's may differ; the lookup starts this much earlier
WEBHOOK_NO_FILE = "_(chart not shown: incoming webhooks cannot carry images)_"

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
        "thread_not_found",
        "invalid_thread_ts",
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

    ``channel`` is best given as the channel id (``C0123ABCD``): ``chat.update``, file
    sharing and :meth:`find` only accept ids. A channel name works for posting; its id is
    then learned from Slack's answer and used afterwards (until a restart, which forgets it).

    Pacing: Slack allows about one message per second per channel, so each call that posts,
    edits or uploads first waits until ``min_interval`` seconds have passed since the
    previous one to the same channel (``sleep`` and ``monotonic`` are injectable for tests).

    Deadline: each call ends after the client's ``timeout`` in total, however the server
    behaves (a reply trickling in does not hold the outbox longer). A call that timed out
    may still have posted: the outbox then looks for the message with :meth:`find` once
    ``lookup_after`` (the timeout plus ``indexing_wait``) has passed since it started.
    """

    def __init__(
        self,
        client: WebClient,
        channel: str,
        *,
        destination: str = "slack",
        min_interval: float = MIN_INTERVAL,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = clock.monotonic,
        indexing_wait: float = INDEXING_WAIT,
    ) -> None:
        self.client = client
        self.deadline = float(client.timeout or DEFAULT_TIMEOUT)
        self.lookup_after = timedelta(seconds=self.deadline + indexing_wait)
        self.channel = channel
        self.destination = destination
        self.min_interval = min_interval
        self._sleep = sleep
        self._monotonic = monotonic
        self._last_call: dict[str, float] = {}
        self._pace_lock = threading.Lock()
        self._ids: dict[str, str] = {}  # channel as configured (a name) -> its id, learned from answers
        self.route: Callable[[Message], str | None] | None = None  # monitor.notify.routing.MessageRouter

    @property
    def _channel_id(self) -> str | None:
        return self._id_of(self.channel)

    def _id_of(self, channel: str) -> str | None:
        return channel if _looks_like_id(channel) else self._ids.get(channel)

    def channel_for(self, message: Message) -> str:
        """Where ``message`` goes: its route (by playbook, severity, rule; the operations
        channel for admin messages; a DM's user), else the configured channel."""
        return (self.route(message) if self.route is not None else None) or self.channel

    def set_channel(self, channel: str, min_interval: float) -> None:
        """A reloaded config's channel and pacing (later messages go there)."""
        self.channel = channel
        self.min_interval = min_interval

    def deliver(self, message: Message, thread_ref: str | None, update_ref: str | None) -> Receipt:
        if FILE_KEY in message.payload:
            return self._upload(message, thread_ref, update_ref)
        text, blocks = _content(message)
        target = self.channel_for(message)
        if update_ref:
            channel = self._known_channel_id("chat.update", target)
            response = self._call(
                "chat.update",
                lambda: self.client.chat_update(channel=channel, ts=update_ref, text=text, blocks=blocks),
                channel=target,
            )
        else:
            response = self._call(
                "chat.postMessage",
                lambda: self.client.chat_postMessage(
                    channel=target,
                    text=text,
                    blocks=blocks,
                    thread_ts=thread_ref,
                    unfurl_links=False,
                    unfurl_media=False,
                    metadata=outbox_metadata(message),
                ),
                channel=target,
            )
        channel = str(response.get("channel") or target)
        if _looks_like_id(channel) and not _looks_like_id(target):
            self._ids[target] = channel
        ts = response.get("ts")
        return Receipt(ref=str(ts) if ts else update_ref, channel=channel)

    def find(self, message: Message, thread_ref: str | None, since: datetime | None = None) -> Receipt | None:
        """The receipt of ``message`` if an earlier :meth:`deliver` already posted it, else None.

        For a dispatcher that crashed between sending and marking: it asks before sending a
        message again. Posts carry Slack message metadata (``crisismon_message`` with the
        outbox id and a digest of the content); uploads carry the outbox id in their file
        name. This looks through the channel's top-level messages (``conversations.history``)
        or, for a reply, the thread of ``thread_ref`` (``conversations.replies``): all those
        posted since ``since`` (the first attempt's start, less a minute for clock skew),
        page by page (up to 2,000), or the latest 200 without ``since``.

        Returns None when it is not there, and also (after logging a warning) when Slack will
        not let it look: no channel id known yet, missing ``channels:history`` scope, not in
        the channel… Raises a retryable :class:`DeliveryError` when Slack is unavailable or
        rate-limited: the caller should try again later rather than post blind. Edits
        (``update_of``) always give None: repeating an edit is harmless.
        """
        if message.update_of is not None:
            return None
        target = self.channel_for(message)
        found_id = self._id_of(target)
        if found_id is None:
            log.warning(
                "cannot check whether message %d was already posted: the id of channel %r is not known yet",
                message.id,
                target,
            )
            return None
        channel = found_id
        oldest = f"{since.timestamp() - CLOCK_MARGIN:.6f}" if since is not None else None
        try:
            for candidate in self._recent(channel, thread_ref, oldest):
                ref = _delivered_ref(candidate, message)
                if ref is not None:
                    return Receipt(ref=ref, channel=channel)
        except DeliveryError as exc:
            if not exc.permanent:
                raise
            log.warning("cannot check whether message %d was already posted: %s", message.id, exc.reason)
        return None

    def _recent(self, channel: str, thread_ref: str | None, oldest: str | None) -> Iterator[Mapping[str, Any]]:
        """The channel's top-level messages since ``oldest`` (else the latest), or those of one thread."""
        window: dict[str, Any] = {"oldest": oldest, "inclusive": True} if oldest is not None else {}
        if thread_ref is None:
            method, pages = "conversations.history", MAX_HISTORY_PAGES if oldest is not None else 1
            call: Callable[..., SlackResponse] = functools.partial(
                self.client.conversations_history, channel=channel, **window
            )
        else:
            method, pages = "conversations.replies", MAX_REPLY_PAGES
            call = functools.partial(self.client.conversations_replies, channel=channel, ts=thread_ref, **window)
        cursor: str | None = None
        for _ in range(pages):
            page = functools.partial(call, limit=HISTORY_LIMIT, include_all_metadata=True, cursor=cursor)
            response = self._call(method, page, paced=False)
            yield from _messages(response)
            cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                return

    def _upload(self, message: Message, thread_ref: str | None, update_ref: str | None) -> Receipt:
        if update_ref:
            raise DeliveryError(f"message {message.id}: a file cannot replace a posted message", permanent=True)
        data, filename, title = _file(message)
        comment = str(message.payload.get("text") or "") or None
        target = self.channel_for(message)
        channel = self._known_channel_id("files_upload_v2", target)
        response = self._call(
            "files_upload_v2",
            lambda: self.client.files_upload_v2(
                channel=channel,
                thread_ts=thread_ref,
                file=data,
                filename=tagged_filename(filename, message.id),
                title=title,
                initial_comment=comment,
            ),
            channel=target,
        )
        file = response.get("file") or {}
        file_id = file.get("id") if isinstance(file, Mapping) else None
        return Receipt(ref=str(file_id) if file_id else None, channel=channel)

    def _call(
        self, method: str, call: Callable[[], SlackResponse], *, paced: bool = True, channel: str | None = None
    ) -> SlackResponse:
        """One Web API call (paced when it writes to ``channel``), errors as DeliveryError."""
        if paced:
            self._pace(channel or self.channel)
        try:
            return within_deadline(call, self.deadline, f"slack {method}")
        except SlackApiError as exc:
            raise api_error(method, exc) from exc
        except SlackRequestError as exc:
            if str(exc).startswith("Failed to upload a file"):  # the upload URL answered other than 200
                raise DeliveryError(f"slack {method}: {exc}", uncertain=True) from exc
            raise DeliveryError(f"slack {method}: {exc}", permanent=True) from exc  # e.g. an invalid URL
        except (SlackClientError, OSError, http.client.HTTPException) as exc:  # timeouts, refused, reset
            reason = f"slack {method}: {type(exc).__name__}: {exc}"
            raise DeliveryError(reason, uncertain=_may_have_arrived(exc)) from exc

    def _pace(self, channel: str) -> None:
        """Wait until ``min_interval`` has passed since the previous call to ``channel``."""
        with self._pace_lock:
            last = self._last_call.get(channel)
            if last is not None:
                wait = last + self.min_interval - self._monotonic()
                if wait > 0:
                    self._sleep(wait)
            self._last_call[channel] = self._monotonic()

    def _known_channel_id(self, method: str, channel: str | None = None) -> str:
        target = channel or self.channel
        found = self._id_of(target)
        if found is None:
            raise DeliveryError(
                f"{method} needs the channel id, and {target!r} is a name whose id is not "
                "known yet: give channels by id (C…) in SLACK_CHANNEL and notify.slack",
                permanent=True,
            )
        return found


def within_deadline(call: Callable[[], SlackResponse], seconds: float, what: str) -> SlackResponse:
    """``call()``'s result, or a DeliveryError once ``seconds`` have passed in total.

    slack_sdk's urllib client applies its timeout to each socket operation, so a server
    sending its answer a byte at a time could hold it for ever; the call runs in a daemon
    thread and is abandoned at the deadline (the thread ends with the connection).
    """
    outcome: list[Any] = []
    done = threading.Event()

    def run() -> None:
        try:
            outcome.append((True, call()))
        except BaseException as exc:  # handed to the caller
            outcome.append((False, exc))
        finally:
            done.set()

    threading.Thread(target=run, name="slack-call", daemon=True).start()
    if not done.wait(seconds + 0.05):
        raise DeliveryError(f"{what}: no complete answer within {seconds:g}s", uncertain=True)
    ok, value = outcome[0]
    if ok:
        return value  # type: ignore[no-any-return]
    raise value


def _may_have_arrived(exc: BaseException) -> bool:
    """False when the request certainly never reached Slack (connection refused, name unknown)."""
    reason = getattr(exc, "reason", None)  # urllib's URLError wraps the socket error
    cause = reason if isinstance(reason, BaseException) else exc
    return not isinstance(cause, ConnectionRefusedError | socket.gaierror)


def outbox_metadata(message: Message) -> dict[str, Any]:
    """The Slack message metadata that lets :meth:`SlackNotifier.find` recognise a post."""
    return {
        "event_type": METADATA_EVENT,
        "event_payload": {"outbox_id": message.id, "digest": payload_digest(message.payload)},
    }


def payload_digest(payload: Mapping[str, Any]) -> str:
    """A short digest of a message's content: an outbox id reused elsewhere will not match."""
    canonical = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def tagged_filename(filename: str, message_id: int) -> str:
    """``chart.png`` → ``chart-m17.png`` for outbox message 17, so :meth:`~SlackNotifier.find` knows it."""
    stem, dot, suffix = filename.rpartition(".")
    if not dot or not stem:
        return f"{filename}-m{message_id}"
    return f"{stem}-m{message_id}.{suffix}"


def _delivered_ref(candidate: Mapping[str, Any], message: Message) -> str | None:
    """The ref :meth:`SlackNotifier.deliver` returned if ``candidate`` is ``message``, else None.

    A post is recognised by its metadata (ref: its ts), an upload by its tagged file name
    (ref: the file id).
    """
    if FILE_KEY in message.payload:
        name = tagged_filename(str(message.payload.get("filename") or ""), message.id)
        files = candidate.get("files")
        for file in files if isinstance(files, list) else []:
            if isinstance(file, dict) and file.get("name") == name and file.get("id"):
                return str(file["id"])
        return None
    metadata = candidate.get("metadata")
    if not candidate.get("ts") or not isinstance(metadata, dict) or metadata.get("event_type") != METADATA_EVENT:
        return None
    event = metadata.get("event_payload")
    if not isinstance(event, dict) or str(event.get("outbox_id")) != str(message.id):
        return None
    digest = event.get("digest")
    return str(candidate["ts"]) if digest is None or digest == payload_digest(message.payload) else None


def _messages(response: SlackResponse) -> list[Mapping[str, Any]]:
    found = response.get("messages")
    return [m for m in found if isinstance(m, dict)] if isinstance(found, list) else []


def _file(message: Message) -> tuple[bytes, str, str]:
    payload = message.payload
    try:
        data = base64.b64decode(str(payload[FILE_KEY]), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise DeliveryError(f"message {message.id}: 'file' is not base64: {exc}", permanent=True) from exc
    filename = str(payload.get("filename") or "")
    if not data or not filename:
        raise DeliveryError(f"message {message.id}: a file needs content and a 'filename'", permanent=True)
    return data, filename, str(payload.get("title") or filename)


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
        return DeliveryError(reason, uncertain=status >= 500)  # a 5xx may come after the post was stored
    return DeliveryError(reason, permanent=error in PERMANENT_ERRORS)


def _retry_after(headers: Mapping[str, Any] | None) -> float | None:
    for name, value in (headers or {}).items():
        if name.lower() == "retry-after":
            raw = value[0] if isinstance(value, list) and value else value
            return parse_retry_after(str(raw))
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
    edited nor threaded, nor carry files. An update is posted as a new message whose text and
    first block say "Update:"; a thread reply is posted at the top level of the webhook's
    channel; a file (chart) message posts its text only, with a note that the image is left out.
    ``interactive`` False drops buttons, checkboxes and menus (nothing would receive a click).
    """

    def __init__(
        self,
        url: str,
        client: httpx.Client | None = None,
        *,
        destination: str = "slack",
        timeout: float = DEFAULT_TIMEOUT,
        interactive: bool = True,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("the Slack webhook URL is not an http(s) URL")
        self.url = url
        self.client = client or _webhook_client(timeout)
        self.direct_messages = False  # a webhook posts to its one channel
        self.interactive = interactive
        self.destination = destination

    def deliver(self, message: Message, thread_ref: str | None, update_ref: str | None) -> Receipt:
        text, blocks = _webhook_file_content(message) if FILE_KEY in message.payload else _content(message)
        body: dict[str, Any] = {"text": text, "unfurl_links": False, "unfurl_media": False}
        if blocks and not self.interactive:
            blocks = without_controls(blocks)
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


INTERACTIVE = frozenset({"button", "checkboxes", "static_select", "overflow", "radio_buttons", "datepicker"})


def without_controls(blocks: list[Any]) -> list[Any]:
    """Blocks without ``actions`` blocks and without interactive section accessories."""
    kept: list[Any] = []
    for block in blocks:
        if not isinstance(block, dict) or block.get("type") == "actions":
            continue
        accessory = block.get("accessory")
        if isinstance(accessory, dict) and accessory.get("type") in INTERACTIVE:
            block = {k: v for k, v in block.items() if k != "accessory"}
        kept.append(block)
    return kept


def _webhook_client(timeout: float) -> httpx.Client:
    """A client whose requests end after ``timeout`` seconds in total, however slowly Slack answers."""
    from monitor.sources.outbound import AddressPolicy, Outbound

    return Outbound().client(AddressPolicy.open(), total=timeout, timeout=httpx.Timeout(timeout))


def _webhook_file_content(message: Message) -> tuple[str, None]:
    """A file payload through a webhook: its text (or title) and a note that the image is left out."""
    text = str(message.payload.get("text") or message.payload.get("title") or message.payload.get("filename") or "")
    return (f"{text}\n{WEBHOOK_NO_FILE}" if text else WEBHOOK_NO_FILE), None


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
