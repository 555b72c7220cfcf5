"""Counters the daemon keeps about itself (exposed by `crisismon sources` and logs)."""

from __future__ import annotations

import threading
from collections import Counter


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, tuple[tuple[str, str], ...]]] = Counter()

    def inc(self, name: str, amount: int = 1, **labels: str) -> None:
        with self._lock:
            self._counts[(name, tuple(sorted(labels.items())))] += amount

    def get(self, name: str, **labels: str) -> int:
        with self._lock:
            return self._counts[(name, tuple(sorted(labels.items())))]

    def exposition(self) -> list[str]:
        """Prometheus text-format lines, names prefixed ``crisismon_``."""
        with self._lock:
            items = sorted(self._counts.items())
        lines: list[str] = []
        seen: set[str] = set()
        for (name, labels), value in items:
            metric = f"crisismon_{name}"
            if metric not in seen:
                seen.add(metric)
                lines.append(f"# TYPE {metric} counter")
            rendered = ",".join(f'{k}="{_escape(v)}"' for k, v in labels)
            lines.append(f"{metric}{{{rendered}}} {value}" if rendered else f"{metric} {value}")
        return lines

    def total(self, name: str) -> int:
        with self._lock:
            return sum(v for (n, _), v in self._counts.items() if n == name)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
