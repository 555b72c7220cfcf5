from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from monitor.config.rules import Rule
from monitor.detect.conditions import evaluate
from monitor.detect.state import RuleState, step
from monitor.detect.window import Observation
from monitor.models import SignalState

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
HISTORY = NOW - timedelta(days=7)  # data exists for the last week


def rule(condition: Mapping[str, Any], **extra: object) -> Rule:
    return Rule.model_validate({"id": "r", "description": "d", "playbook": "p", "condition": condition, **extra})


def obs(minutes_ago: float, n: int = 1, sentiment: float | None = 0.1) -> list[Observation]:
    return [Observation(NOW - timedelta(minutes=minutes_ago), 1, sentiment) for _ in range(n)]


SPIKE = {"spike": {"metric": "count", "baseline": "24h", "ratio": 3, "min_current": 5}}


def test_spike_zero_vs_zero_never_fires() -> None:
    r = rule(SPIKE)
    assert not evaluate(r.condition, [], NOW, r, 0.3, HISTORY).holds


def test_spike_fires_on_surge_against_quiet_baseline() -> None:
    r = rule(SPIKE)
    history = [o for h in range(2, 24, 2) for o in obs(h * 60)]  # about one an hour before
    verdict = evaluate(r.condition, history + obs(10, 8), NOW, r, 0.3, HISTORY)
    assert verdict.holds
    (ev,) = verdict.evidence
    assert ev.value == 8 and ev.ratio is not None and ev.ratio >= 3
    assert "count 8 in 1h vs baseline" in ev.describe()


def test_spike_warms_up_until_its_baseline_is_covered_by_data() -> None:
    r = rule(SPIKE)
    surge = obs(10, 20)
    assert not evaluate(r.condition, surge, NOW, r, 0.3, NOW - timedelta(hours=3)).holds
    verdict = evaluate(r.condition, surge, NOW, r, 0.3, None)
    assert (
        not verdict.holds
        and "warming up: the 1d baseline is not covered (no data yet)" in verdict.evidence[0].describe()
    )
    assert evaluate(r.condition, surge, NOW, r, 0.3, NOW - timedelta(hours=25)).holds


def test_spike_below_min_current_does_not_fire() -> None:
    r = rule(SPIKE)
    assert not evaluate(r.condition, obs(10, 4), NOW, r, 0.3, HISTORY).holds


def test_spike_is_relative_to_a_busy_baseline() -> None:
    r = rule(SPIKE)
    busy = [o for h in range(2, 24) for o in obs(h * 60, 6)]  # six an hour, every hour
    assert not evaluate(r.condition, busy + obs(10, 8), NOW, r, 0.3, HISTORY).holds


def test_spike_down_needs_a_baseline_to_drop_from() -> None:
    down = {"spike": {"metric": "count", "baseline": "24h", "ratio": 3, "direction": "down", "min_baseline": 5}}
    r = rule(down)
    assert not evaluate(r.condition, [], NOW, r, 0.3, HISTORY).holds
    busy = [o for h in range(2, 24) for o in obs(h * 60, 6)]
    assert evaluate(r.condition, busy, NOW, r, 0.3, HISTORY).holds


def test_negative_share_threshold_ignores_unscored_items() -> None:
    r = rule({"threshold": {"metric": "negative_share", "op": ">=", "value": 0.5}})
    mixed = obs(5, 2, 0.1) + obs(5, 1, 0.9) + obs(5, 10, None)
    verdict = evaluate(r.condition, mixed, NOW, r, 0.3, HISTORY)
    assert verdict.holds and abs(verdict.evidence[0].value - 2 / 3) < 1e-9


def test_all_needs_every_part_any_needs_one() -> None:
    high = {"threshold": {"metric": "count", "op": ">=", "value": 3}}
    low = {"threshold": {"metric": "count", "op": ">=", "value": 30}}
    items = obs(5, 5)
    r_all = rule({"all": [high, low]})
    r_any = rule({"any": [high, low]})
    assert not evaluate(r_all.condition, items, NOW, r_all, 0.3).holds
    assert evaluate(r_any.condition, items, NOW, r_any, 0.3).holds


def test_for_keeps_a_signal_pending_until_it_has_held_long_enough() -> None:
    for_, keep = timedelta(minutes=10), timedelta(0)
    s = step(RuleState(), True, NOW, for_, keep)
    assert s.state == SignalState.PENDING
    s = step(s, True, NOW + timedelta(minutes=5), for_, keep)
    assert s.state == SignalState.PENDING
    s = step(s, True, NOW + timedelta(minutes=10), for_, keep)
    assert s.state == SignalState.FIRING


def test_pending_signal_that_clears_goes_back_to_inactive() -> None:
    s = step(RuleState(), True, NOW, timedelta(minutes=10), timedelta(0))
    assert step(s, False, NOW + timedelta(minutes=1), timedelta(minutes=10), timedelta(0)).state == SignalState.INACTIVE


def test_keep_firing_for_is_hysteresis_before_resolving() -> None:
    keep = timedelta(minutes=30)
    s = step(RuleState(), True, NOW, timedelta(0), keep)
    assert s.state == SignalState.FIRING
    s = step(s, False, NOW + timedelta(minutes=20), timedelta(0), keep)
    assert s.state == SignalState.FIRING
    s = step(s, False, NOW + timedelta(minutes=31), timedelta(0), keep)
    assert s.state == SignalState.RESOLVED


def test_firing_rule_fed_by_a_down_source_never_resolves() -> None:
    s = step(RuleState(), True, NOW, timedelta(0), timedelta(0))
    s = step(s, False, NOW + timedelta(hours=5), timedelta(0), timedelta(0), hold_resolution=True)
    assert s.state == SignalState.FIRING


def test_anomaly_fires_on_a_burst_far_outside_a_noisy_baseline() -> None:
    import random

    rng = random.Random(3)
    r = rule({"anomaly": {"metric": "count", "history": "3d", "min_history": "1d"}})
    start = NOW - timedelta(days=3)
    steady = [
        Observation(start + timedelta(minutes=5 * i, seconds=-30), rng.randint(2, 6), 0.5) for i in range(864 - 4)
    ]
    quiet = evaluate(r.condition, steady, NOW - timedelta(minutes=20), r, 0.3, start)
    assert not quiet.holds and quiet.evidence[0].note is None
    burst = steady + [Observation(NOW - timedelta(minutes=m, seconds=30), 60, 0.5) for m in (0, 5, 10)]
    verdict = evaluate(r.condition, burst, NOW, r, 0.3, start)
    assert verdict.holds
    (ev,) = verdict.evidence
    assert ev.kind == "anomaly" and ev.value == 60 and ev.zscore is not None and ev.zscore > 5
    assert "count 60 in 5m vs expected" in ev.describe()


def test_anomaly_warms_up_before_min_history() -> None:
    r = rule({"anomaly": {"metric": "count", "history": "3d", "min_history": "1d"}})
    burst = obs(2, 60) + obs(7, 60)
    verdict = evaluate(r.condition, burst, NOW, r, 0.3, NOW - timedelta(hours=2))
    assert not verdict.holds and "warming up" in (verdict.evidence[0].note or "")


def test_anomaly_on_a_flat_zero_baseline_needs_more_than_noise() -> None:
    r = rule({"anomaly": {"metric": "count", "history": "2d", "min_history": "1d"}})
    start = NOW - timedelta(days=2)
    assert not evaluate(r.condition, obs(1, 1), NOW, r, 0.3, start).holds
