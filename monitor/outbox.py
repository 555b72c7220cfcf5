"""Deliver queued messages: in order per destination, retried with backoff, never lost."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta

from monitor.metrics import Metrics
from monitor.models import Message
from monitor.protocols import DeliveryError, Notifier
from monitor.store import SqlStore

log = logging.getLogger(__name__)

BASE_DELAY = 5.0
MAX_DELAY = 300.0


def backoff(attempts: int) -> timedelta:
    """Delay before the next try after ``attempts`` failures: 5 s doubling, capped at 5 min."""
    return timedelta(seconds=min(BASE_DELAY * 2 ** max(attempts - 1, 0), MAX_DELAY))


class Dispatcher:
    def __init__(self, store: SqlStore, notifiers: Mapping[str, Notifier], metrics: Metrics | None = None) -> None:
        self.store = store
        self.notifiers = notifiers
        self.metrics = metrics or Metrics()

    def deliver_due(self, now: datetime) -> int:
        """Send what is due; return how many messages went out."""
        return sum(self._deliver_destination(name, notifier, now) for name, notifier in self.notifiers.items())

    def _deliver_destination(self, destination: str, notifier: Notifier, now: datetime) -> int:
        sent = 0
        for message in self.store.pending_messages(destination):
            if self.store.next_attempt_at(message.id) > now:
                break  # keep the order: nothing overtakes a message waiting for its retry
            refs = self._refs(message)
            if refs is None:
                break
            try:
                receipt = notifier.deliver(message, *refs)
            except DeliveryError as exc:
                self.metrics.inc("delivery_failures_total", destination=destination)
                if exc.permanent:
                    log.error("message %d to %s dropped for good: %s", message.id, destination, exc.reason)
                    self.store.mark_failed(message.id, exc.reason, retry_at=None)
                    continue
                delay = backoff(message.attempts + 1)
                if exc.retry_after is not None:
                    delay = max(delay, timedelta(seconds=exc.retry_after))
                log.warning("message %d to %s failed (%s); retry in %s", message.id, destination, exc.reason, delay)
                self.store.mark_failed(message.id, exc.reason, retry_at=now + delay)
                break
            self.store.mark_sent(message.id, receipt, now)
            self.metrics.inc("messages_sent_total", destination=destination)
            sent += 1
        return sent

    def _refs(self, message: Message) -> tuple[str | None, str | None] | None:
        """(thread ref, update ref); None while a message it depends on is still unsent."""
        refs: list[str | None] = []
        for parent in (message.thread_of, message.update_of):
            if parent is None:
                refs.append(None)
                continue
            ref, status = self.store.message_ref(parent)
            if status == "pending":
                return None
            refs.append(ref)
        return refs[0], refs[1]
