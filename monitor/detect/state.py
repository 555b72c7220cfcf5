"""The per (rule, group) state machine: inactive -> pending -> firing -> resolved (pure)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from monitor.models import SignalState


@dataclass(frozen=True, slots=True)
class RuleState:
    state: SignalState = SignalState.INACTIVE
    pending_since: datetime | None = None
    firing_since: datetime | None = None
    last_true_at: datetime | None = None
    severity: str | None = None


def step(
    prev: RuleState,
    holds: bool,
    now: datetime,
    for_: timedelta,
    keep_firing_for: timedelta,
    *,
    hold_resolution: bool = False,
) -> RuleState:
    """The next state. ``hold_resolution`` keeps a firing rule firing (its source is down)."""
    if holds:
        return _holding(prev, now, for_)
    if prev.state == SignalState.PENDING:
        return RuleState()
    if prev.state == SignalState.FIRING:
        quiet_for = now - (prev.last_true_at or now)
        if hold_resolution or quiet_for < keep_firing_for:
            return prev
        return replace(prev, state=SignalState.RESOLVED, pending_since=None)
    return RuleState()


def _holding(prev: RuleState, now: datetime, for_: timedelta) -> RuleState:
    if prev.state == SignalState.FIRING:
        return replace(prev, last_true_at=now)
    pending_since = prev.pending_since if prev.state == SignalState.PENDING else now
    assert pending_since is not None
    if now - pending_since >= for_:
        return RuleState(SignalState.FIRING, pending_since, now, now)
    return RuleState(SignalState.PENDING, pending_since, None, now)
