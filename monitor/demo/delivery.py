"""The demo's last step: wait (bounded) until the alert and the checklist really reached each
destination, then say what went where.

The outbox does the sending and its retries (honouring Retry-After); this only watches the
store. A destination counts as done when its alert and checklist are sent, or failed for
good, or silenced; the wait ends when every destination is done or ``wait`` seconds pass.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import datetime

from monitor.clock import monotonic
from monitor.models import Delivery

WANTED = ("alert", "checklist")
DONE = ("sent", "failed", "silenced")


def first_of_kinds(deliveries: Sequence[Delivery], destination: str) -> dict[str, Delivery]:
    """The first alert and the first checklist message of ``destination``."""
    found: dict[str, Delivery] = {}
    for d in deliveries:
        if d.destination == destination and d.kind in WANTED and d.kind not in found:
            found[d.kind] = d
    return found


def settled(deliveries: Sequence[Delivery], destinations: Sequence[str]) -> bool:
    for destination in destinations:
        mine = first_of_kinds(deliveries, destination)
        if set(mine) != set(WANTED) or any(d.status not in DONE for d in mine.values()):
            return False
    return True


def wait_for_delivery(
    deliveries: Callable[[], list[Delivery]],
    destinations: Sequence[str],
    wait: float,
    stop: threading.Event,
    poll: float = 0.25,
) -> list[Delivery]:
    """Poll ``deliveries()`` until every destination's alert and checklist are settled, the
    ``wait`` (real seconds) is over, or ``stop`` is set; the last state seen."""
    deadline = monotonic() + wait
    current = deliveries()
    while not settled(current, destinations) and monotonic() < deadline and not stop.wait(poll):
        current = deliveries()
    return current


def report(deliveries: Sequence[Delivery], destinations: Sequence[str], now: datetime) -> tuple[bool, list[str]]:
    """(all delivered, one line per destination saying what went where)."""
    ok = True
    lines = []
    for destination in destinations:
        mine = first_of_kinds(deliveries, destination)
        parts = [_describe(kind, mine.get(kind), now) for kind in WANTED]
        ok = ok and all(kind in mine and mine[kind].status == "sent" for kind in WANTED)
        lines.append(f"{destination}: " + "; ".join(parts))
    return ok, lines


def _describe(kind: str, delivery: Delivery | None, now: datetime) -> str:
    if delivery is None:
        return f"{kind} not queued"
    if delivery.status == "sent":
        where = f" to {delivery.channel}" if delivery.channel else ""
        ref = f" (ts {delivery.ref})" if delivery.ref else ""
        thread = " in the alert's thread" if kind == "checklist" and delivery.channel else ""
        return f"{kind} delivered{where}{thread}{ref}"
    if delivery.status == "pending":
        wait = max((delivery.next_attempt_at - now).total_seconds(), 0)
        error = f" after {delivery.attempts} attempt(s): {delivery.last_error}" if delivery.last_error else ""
        return f"{kind} NOT delivered yet{error}; next try in {wait:.0f}s"
    return f"{kind} {delivery.status.upper()}: {delivery.last_error or '?'}"
