"""Deliver queued messages: in order per destination, retried with backoff, never lost, never twice.

The protocol for one message (each step committed before the next):

1. only the holder of the ``deliver:DESTINATION`` lease delivers that destination, oldest
   message first, so the order holds across daemons;
2. the message is claimed (``claimed_by``/``claimed_until``, one atomic UPDATE), so that
   even a daemon whose lease ran out meanwhile cannot send it a second time;
3. if an earlier attempt started and its outcome was never recorded (the daemon died
   between sending and marking, or the request timed out), the notifier's ``find`` looks
   for the message at the remote first (Slack: by the outbox id in the message metadata),
   over the whole time since the first attempt started; when it is there, it is marked sent
   with what was found, not posted again. The lookup waits until the notifier's
   ``lookup_after`` has passed since the last uncertain attempt started (Slack: its client
   timeout plus the time Slack may take to show a message it accepted), so that a post Slack
   is still processing is not missed and posted twice;
4. the attempt's start is persisted, then the notifier is called;
5. the message is marked sent (with an ``message_sent`` timeline entry for an incident's
   message) or failed with its next retry time, counted from the end of the attempt
   (backoff; a 429's Retry-After is honoured). A failure that proves the message did not
   arrive (an error answer, a refused connection) clears the wait of step 3.

A notifier without ``find`` (console, webhooks) can repeat a message after a crash between
4 and 5: delivery is at least once, de-duplicated where the remote can be searched.

Before all that, a message of an incident matched by an active silence is taken out of the
queue (status ``silenced``, never sent; ``monitor.incidents.silences``), and a message given up for good
is reported to the operations channel (``monitor.notify.routing.DropReporter``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import Any, Protocol, runtime_checkable

from monitor.clock import Clock
from monitor.http.retry import exponential
from monitor.models import Message, Receipt
from monitor.protocols import DeliveryError, Notifier
from monitor.runtime.leases import LeaseKeeper
from monitor.runtime.metrics import Metrics
from monitor.store.sql import Claim

log = logging.getLogger(__name__)


class OutboxStore(Protocol):
    """What delivery reads and writes."""

    def add_timeline(
        self, incident_id: int, at: datetime, actor: str, kind: str, detail: Mapping[str, Any]
    ) -> None: ...

    def claim_message(self, message_id: int, owner: str, now: datetime, until: datetime) -> Claim | None: ...

    def mark_attempting(self, message_id: int, now: datetime) -> None: ...

    def mark_failed(
        self, message_id: int, error: str, *, retry_at: datetime | None, maybe_arrived: bool = True
    ) -> None: ...

    def mark_sent(self, message_id: int, receipt: Receipt, now: datetime) -> None: ...

    def message_ref(self, message_id: int) -> tuple[str | None, str]: ...

    def next_attempt_at(self, message_id: int) -> datetime: ...

    def pending_messages(self, destination: str) -> list[Message]: ...

    def transaction(self) -> AbstractContextManager[None]: ...


BASE_DELAY = 5.0
MAX_DELAY = 300.0
LOCAL_OWNER = "local"
DEFAULT_CLAIM = timedelta(minutes=1)
SYSTEM = "crisismon"


def backoff(attempts: int, base: float = BASE_DELAY) -> timedelta:
    """Delay before the next try after ``attempts`` failures: 5 s doubling, capped at 5 min."""
    return timedelta(seconds=exponential(base, attempts - 1, MAX_DELAY))


@runtime_checkable
class Findable(Protocol):
    """A notifier that can tell whether a message reached the remote already."""

    def find(self, message: Message, thread_ref: str | None, since: datetime | None = None) -> Receipt | None: ...


def lookup_after(notifier: object) -> timedelta:
    """How long after an uncertain attempt started ``find`` can be trusted (0 when it does not say)."""
    wait = getattr(notifier, "lookup_after", None)
    return wait if isinstance(wait, timedelta) else timedelta(0)


class Dispatcher:
    def __init__(
        self,
        store: OutboxStore,
        notifiers: Mapping[str, Notifier],
        metrics: Metrics | None = None,
        leases: LeaseKeeper | None = None,
        *,
        clock: Clock | None = None,
        base_delay: float = BASE_DELAY,
        silencer: Callable[[Message, datetime], bool] | None = None,
        dropped: Callable[[str, Message, str, datetime], None] | None = None,
    ) -> None:
        """Without ``leases`` (one daemon, tests) every destination is delivered here.

        ``clock`` gives the time an attempt ended (retries count from there); without one,
        the ``now`` passed to ``deliver_due`` is used throughout (tests with a fake clock).
        ``base_delay``: seconds before the first retry (doubling after each failure).
        ``silencer(message, now)`` holds back (and marks) a message of a silenced incident
        (``monitor.incidents.silences.Silencer``). ``dropped(destination, message, reason, now)`` is told
        of a message given up for good (``monitor.notify.routing.DropReporter``).
        """
        self.silencer = silencer
        self.dropped = dropped
        self.base_delay = base_delay
        self.store = store
        self.notifiers = notifiers
        self.metrics = metrics or Metrics()
        self.leases = leases
        self.clock = clock

    @property
    def owner(self) -> str:
        return self.leases.node_id if self.leases else LOCAL_OWNER

    def deliver_due(self, now: datetime) -> int:
        """Send what is due; return how many messages went out."""
        sent = 0
        for name, notifier in self.notifiers.items():
            if self.leases is not None and not self.leases.acquire(_lease(name), now):
                continue  # another daemon delivers this destination
            sent += self._deliver_destination(name, notifier, now)
        return sent

    def _claim_for(self, destination: str) -> timedelta:
        return self.leases.times.ttl(_lease(destination)) if self.leases else DEFAULT_CLAIM

    def _deliver_destination(self, destination: str, notifier: Notifier, now: datetime) -> int:
        sent = 0
        for index, message in enumerate(self.store.pending_messages(destination)):
            if self.silencer is not None and self.silencer(message, now):
                continue
            if self.store.next_attempt_at(message.id) > now:
                break  # keep the order: nothing overtakes a message waiting for its retry
            refs = self._refs(message)
            if refs is None:
                break
            if index and self.leases is not None and not self.leases.renew(_lease(destination), now):
                log.warning("lost the lease on %s mid-delivery; another daemon continues", destination)
                break
            outcome = self._deliver_one(destination, notifier, message, refs, now)
            if outcome is None:
                break
            sent += outcome
        return sent

    def _deliver_one(
        self, destination: str, notifier: Notifier, message: Message, refs: tuple[str | None, str | None], now: datetime
    ) -> int | None:
        """1 sent, 0 dropped for good, None: stop this destination for now (order)."""
        claim = self.store.claim_message(message.id, self.owner, now, now + self._claim_for(destination))
        if claim is None:
            log.info("message %d to %s is being sent by another daemon", message.id, destination)
            return None
        try:
            if claim.attempt_started_at is not None and isinstance(notifier, Findable):
                if claim.last_attempt_at is not None and self._now(now) < claim.last_attempt_at + lookup_after(
                    notifier
                ):
                    log.info(
                        "message %d to %s: the last attempt may still arrive; looking for it later",
                        message.id,
                        destination,
                    )
                    return None
                found = self._find(notifier, message, refs, claim.attempt_started_at)
                if found is not None:
                    log.warning(
                        "message %d to %s had reached %s before a crash or time-out: not sent again",
                        message.id,
                        destination,
                        destination,
                    )
                    self._mark_sent(destination, message, found, now)
                    return 1
            self.store.mark_attempting(message.id, self._now(now))
            receipt = notifier.deliver(message, *refs)
        except DeliveryError as exc:
            return self._failed(destination, message, exc, self._now(now))
        self._mark_sent(destination, message, receipt, self._now(now))
        return 1

    def _now(self, now: datetime) -> datetime:
        return self.clock.now() if self.clock is not None else now

    def _find(
        self, notifier: Findable, message: Message, refs: tuple[str | None, str | None], since: datetime
    ) -> Receipt | None:
        thread_ref, update_ref = refs
        if update_ref is not None:
            return None  # an edit is harmless to repeat
        return notifier.find(message, thread_ref, since)

    def _failed(self, destination: str, message: Message, exc: DeliveryError, ended: datetime) -> int | None:
        """Record a failed attempt; ``ended`` is when it ended (the retry counts from there)."""
        self.metrics.inc("delivery_failures_total", destination=destination)
        if exc.permanent:
            log.error("message %d to %s dropped for good: %s", message.id, destination, exc.reason)
            self.store.mark_failed(message.id, exc.reason, retry_at=None)
            if self.dropped is not None:
                self.dropped(destination, message, exc.reason, ended)
            return 0
        delay = backoff(message.attempts + 1, self.base_delay)
        if exc.retry_after is not None:
            delay = max(delay, timedelta(seconds=exc.retry_after))
        log.warning("message %d to %s failed (%s); retry in %s", message.id, destination, exc.reason, delay)
        self.store.mark_failed(message.id, exc.reason, retry_at=ended + delay, maybe_arrived=exc.uncertain)
        return None

    def _mark_sent(self, destination: str, message: Message, receipt: Receipt, now: datetime) -> None:
        with self.store.transaction():
            self.store.mark_sent(message.id, receipt, now)
            if message.incident_id is not None:
                self.store.add_timeline(
                    message.incident_id,
                    now,
                    SYSTEM,
                    "message_sent",
                    {"destination": destination, "kind": message.kind, "ref": receipt.ref},
                )
        self.metrics.inc("messages_sent_total", destination=destination)

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


def _lease(destination: str) -> str:
    return f"deliver:{destination}"
