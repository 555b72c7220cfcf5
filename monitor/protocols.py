"""The small seams between stages. Fakes for each live in ``monitor.testing``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from monitor.models import FetchResult, Message, Receipt


class Source(Protocol):
    """Anything that yields items when polled."""

    name: str

    def fetch(self, now: datetime) -> FetchResult: ...


class Scorer(Protocol):
    """Sentiment in [0, 1] per text (1 = positive); None where a text is not scored."""

    def score(self, texts: Sequence[str]) -> list[float | None]: ...


class Notifier(Protocol):
    """Delivers one outbox message; raises ``DeliveryError`` when it could not."""

    destination: str

    def deliver(self, message: Message, thread_ref: str | None, update_ref: str | None) -> Receipt: ...


class DeliveryError(Exception):
    """A message was not delivered. ``retry_after`` (seconds) when the remote asked.

    ``uncertain``: the request may have reached the remote all the same (a time-out, a
    connection lost after sending): look for it there before sending it again.
    """

    def __init__(
        self, reason: str, *, retry_after: float | None = None, permanent: bool = False, uncertain: bool = False
    ):
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        self.permanent = permanent
        self.uncertain = uncertain
