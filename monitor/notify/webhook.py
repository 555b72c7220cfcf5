"""The outgoing escalation webhook: one generic JSON POST per escalation step.

For a paging tool (PagerDuty Events, Opsgenie, a chat bridge…), usually through a small
adapter or the tool's own "generic webhook" integration. The body is the ``page`` message's
payload (:func:`monitor.incidents.escalation.page_payload`): ``event`` (``incident.escalated``),
``at``, ``level``, ``role``, ``person``, ``text`` and ``incident`` (id, title, severity,
status, rule, group, playbook, opened_at). Headers: ``Content-Type: application/json`` and
``Idempotency-Key: crisismon-page-<outbox id>`` (the same on a retry, so a receiver can drop
a repeat). Any 2xx is success; 429 and 5xx are retried by the outbox (Retry-After honoured);
other answers drop the message and are logged. The URL is a secret: it comes from an
environment variable and never appears in logs or errors.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx

from monitor.http.retry import parse_retry_after
from monitor.models import Message, Receipt
from monitor.protocols import DeliveryError


class WebhookPager:
    """A notifier (destination ``page``) POSTing each message's payload as JSON."""

    def __init__(self, url: str, client: httpx.Client | None = None, *, timeout: float = 10.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("the escalation webhook URL is not an http(s) URL")
        self.destination = "page"
        self.url = url
        self.client = client or _client(timeout)

    def deliver(self, message: Message, thread_ref: str | None, update_ref: str | None) -> Receipt:
        headers = {"Idempotency-Key": f"crisismon-page-{message.id}"}
        try:
            response = self.client.post(self.url, json=dict(message.payload), headers=headers)
        except httpx.HTTPError as exc:  # never name the URL: it holds a secret
            raise DeliveryError(f"escalation webhook: {type(exc).__name__}", uncertain=True) from exc
        if 200 <= response.status_code < 300:
            return Receipt(ref=None, channel=None)
        reason = f"escalation webhook: HTTP {response.status_code} {response.text[:200].strip()}"
        if response.status_code == 429:
            raise DeliveryError(reason, retry_after=parse_retry_after(response.headers.get("retry-after", "")))
        if response.status_code >= 500:
            raise DeliveryError(reason)
        raise DeliveryError(reason, permanent=True)

    def close(self) -> None:
        self.client.close()


def _client(timeout: float) -> httpx.Client:
    from monitor.sources.outbound import AddressPolicy, Outbound

    return Outbound().client(AddressPolicy.open(), total=timeout, timeout=httpx.Timeout(timeout))
