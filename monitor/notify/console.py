"""Console notifier: every message, always, on stdout (and so in the service's log)."""

from __future__ import annotations

import sys
import threading
from typing import TextIO

from monitor.models import Message, Receipt


class ConsoleNotifier:
    destination = "console"

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout
        self._lock = threading.Lock()

    def deliver(self, message: Message, thread_ref: str | None, update_ref: str | None) -> Receipt:
        text = str(message.payload.get("text", ""))
        if update_ref is not None:
            text = f"(update of message {update_ref})\n{text}"
        with self._lock:
            print(text, file=self.stream, flush=True)
        return Receipt(ref=str(message.id))
