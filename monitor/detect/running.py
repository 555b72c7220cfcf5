"""Anomaly detectors kept running between evaluations, one per (rule, group, condition).

The ``anomaly`` condition is a streaming detector: it should see each bucket once. The
evaluator holds a :class:`DetectorMemo`; each evaluation feeds a condition's detector only
the buckets completed since the last one. Without a usable entry (first evaluation, a
restart, a rule whose parameters changed, a gap longer than the history) the detector is
rebuilt by replaying the stored items of the condition's ``history``, which gives the same
state as a detector that never stopped whenever the stored items reach back over what the
detector remembers. Items that arrive after their bucket was judged do not change that
judgement (they are part of the history after the next rebuild).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from monitor.detect.anomaly import AnomalyDetector, AnomalyParams, AnomalyResult

MemoKey = tuple[str, str, Hashable]
"""(rule id, group, the condition's spec)."""


@dataclass
class Running:
    """One detector and where it is: the end of the last bucket it was fed. It is of no use
    once ``horizon`` (the condition's history) has passed since then."""

    params: AnomalyParams
    detector: AnomalyDetector
    edge: datetime
    horizon: timedelta
    fed: int = 0
    last: AnomalyResult | None = None
    run_fired: bool = False

    def feed(self, ts: datetime, local_ts: datetime, value: float) -> None:
        """Judge one completed bucket (``ts`` ends it; ``local_ts`` is ``ts`` in the seasons' zone)."""
        result = self.detector.update(local_ts, value)
        if result.skipped:
            return
        self.fed += 1
        self.last = result
        self.run_fired = (self.run_fired or result.fired) if result.anomalous else False
        self.edge = ts

    @property
    def holds(self) -> bool:
        """An alert fired in the anomalous run that the latest bucket belongs to."""
        return self.last is not None and self.last.anomalous and self.run_fired


class DetectorStore(Protocol):
    """Where running detectors are saved, so that a restart carries on where they were."""

    def detector_states(self, rule_id: str) -> dict[tuple[str, str], dict[str, Any]]: ...

    def put_detector_states(
        self, rule_id: str, states: Mapping[tuple[str, str], Mapping[str, Any]], at: datetime
    ) -> None: ...


def running_state(running: Running) -> dict[str, Any]:
    """The running detector as plain JSON types (``running_from_state`` reads it back)."""
    return {
        "edge": running.edge.timestamp(),
        "fed": running.fed,
        "last": None if running.last is None else asdict(running.last),
        "run_fired": running.run_fired,
        "detector": running.detector.to_state(),
    }


def running_from_state(params: AnomalyParams, horizon: timedelta, state: Mapping[str, Any]) -> Running:
    """The detector saved by ``running_state``; ValueError when it was saved with other
    parameters or in a shape this version does not read."""
    try:
        last = state["last"]
        return Running(
            params,
            AnomalyDetector.from_state(params, dict(state["detector"])),
            datetime.fromtimestamp(float(state["edge"]), UTC),
            horizon,
            int(state["fed"]),
            None if last is None else AnomalyResult(**last),
            bool(state["run_fired"]),
        )
    except (KeyError, TypeError) as exc:
        raise ValueError(f"unreadable saved detector: {type(exc).__name__}: {exc}") from exc


class DetectorMemo:
    """The running detectors of one evaluator (process memory, rebuilt after a restart)."""

    def __init__(self) -> None:
        self._running: dict[MemoKey, Running] = {}

    def __len__(self) -> int:
        return len(self._running)

    def get(self, key: MemoKey) -> Running | None:
        return self._running.get(key)

    def put(self, key: MemoKey, running: Running) -> None:
        self._running[key] = running

    def items(self) -> Iterator[tuple[MemoKey, Running]]:
        return iter(list(self._running.items()))

    def forget_stale(self, now: datetime) -> None:
        """Drop detectors not fed for longer than their history (groups gone quiet, rules removed)."""
        for key in [k for k, r in self._running.items() if r.edge < now - r.horizon]:
            del self._running[key]
