"""The ``anomaly`` condition's detector: views, tails, alerting, bad input, state."""

from __future__ import annotations

import json
import math
import random
import time
from array import array
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from monitor.detect.anomaly import (
    STATE_VERSION,
    Alerting,
    AnomalyDetector,
    AnomalyParams,
    AnomalyResult,
    detect_series,
)
from monitor.detect.tails import MAX_SURPRISE, SlidingWindow, surprise

T0 = datetime(2024, 1, 1)  # noqa: DTZ001 - naive series time, as the NAB files give it
STEP = timedelta(minutes=5)
SMALL = AnomalyParams(history=1000, warmup=200)


def stamps(n: int, start: datetime = T0) -> list[datetime]:
    return [start + STEP * i for i in range(n)]


def calm(n: int, level: float = 10.0) -> list[float]:
    """A busy but regular series: level, level+1, ... level+4, over and over."""
    return [level + i % 5 for i in range(n)]


def noisy(n: int, level: float = 10.0, seed: int = 1) -> list[float]:
    rng = random.Random(seed)
    return [float(max(0, round(rng.gauss(level, level**0.5)))) for _ in range(n)]


def fired_at(results: list[AnomalyResult]) -> list[int]:
    return [i for i, r in enumerate(results) if r.fired]


# --- parameters ------------------------------------------------------------------------


def test_defaults_are_valid_and_frozen() -> None:
    params = AnomalyParams()
    with pytest.raises(AttributeError):
        params.threshold = 1.0  # type: ignore[misc]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"history": 10}, "history 10"),
        ({"warmup": 5}, "warmup 5"),
        ({"tail": 0.7}, "tail 0.7"),
        ({"season": "daily"}, "season 'daily'"),
        ({"direction": "sideways"}, "direction"),
        ({"threshold": 0}, "threshold 0"),
        ({"cooldown": -1}, "cooldown -1"),
        ({"rebound": 0.5}, "rebound 0.5"),
        ({"consecutive": 0}, "consecutive 0"),
        ({"min_scale": -1}, "min_scale -1"),
    ],
)
def test_bad_parameters_fail_at_construction(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        AnomalyParams(**changes)  # type: ignore[arg-type]


def test_all_problems_are_reported_together() -> None:
    with pytest.raises(ValueError, match=r"threshold.*consecutive"):
        AnomalyParams(threshold=-1, consecutive=0)


# --- the tail ----------------------------------------------------------------------------


def test_sliding_window_keeps_the_last_values_sorted_and_in_order() -> None:
    window = SlidingWindow(4, [5.0, 1.0, 3.0])
    window.add(2.0)
    window.add(9.0)
    assert window.in_order() == [1.0, 3.0, 2.0, 9.0]
    assert list(window.sorted) == [1.0, 2.0, 3.0, 9.0]
    assert window.median() == 2.5


def test_surprise_inside_the_bulk_is_the_empirical_rank() -> None:
    ordered = array("d", [float(i) for i in range(1000)])
    up, down = surprise(ordered, 500.0, 0.01, 0.0)
    assert up == pytest.approx(math.log10(1001 / 501))
    assert down == pytest.approx(math.log10(1001 / 502))


def test_surprise_beyond_the_bulk_grows_with_the_excess_and_is_scale_free() -> None:
    rng = random.Random(2)
    values = sorted(rng.expovariate(1.0) for _ in range(2000))
    ordered = array("d", values)
    top = values[-1]
    near, far = surprise(ordered, top + 1, 0.01, 0.0)[0], surprise(ordered, top + 5, 0.01, 0.0)[0]
    assert 3.0 < near < far < 8.0  # about one log10 per 2.3 mean excesses
    scaled = array("d", [v * 1000 for v in values])
    assert surprise(scaled, (top + 5) * 1000, 0.01, 0.0)[0] == pytest.approx(far)


def test_a_flat_history_makes_any_change_maximal_unless_a_scale_floor_says_otherwise() -> None:
    flat = array("d", [4.0] * 500)
    assert surprise(flat, 4.0, 0.01, 0.01) == (pytest.approx(math.log10(501 / 501)),) * 2
    assert surprise(flat, 5.0, 0.01, 0.01)[0] == MAX_SURPRISE
    # with a floor of one item, 4 -> 5 is about once in 200 buckets, not a miracle
    assert surprise(flat, 5.0, 0.01, 0.01, min_scale=1.0)[0] == pytest.approx(2.0 + 1 / math.log(10), abs=0.01)


# --- judging ---------------------------------------------------------------------------


def test_a_spike_fires_once_with_the_baseline_it_was_judged_against() -> None:
    values = [*noisy(400), 80.0, *noisy(50, seed=2)]
    results = detect_series(SMALL, stamps(len(values)), values)
    assert fired_at(results) == [400]
    spike = results[400]
    assert spike.expected == pytest.approx(10.0, abs=1.0)
    assert spike.surprise >= SMALL.threshold and spike.feature == "value" and spike.towards == "up"
    assert spike.zscore == pytest.approx((80.0 - spike.expected) / spike.spread)


def test_nothing_fires_during_warm_up_and_the_history_learns_from_it() -> None:
    values = [*calm(150), 500.0, *calm(100), 500.0, *calm(20), 5000.0]
    results = detect_series(SMALL, stamps(len(values)), values)
    assert all(r.warming_up for r in results[:200]) and not results[200].warming_up
    # the first 500 came during the warm-up; the second is not news any more; 5000 is
    assert fired_at(results) == [len(values) - 1]


def test_a_sustained_rise_fires_even_when_no_single_bucket_is_extreme() -> None:
    """Bursty series: single spikes to 60 are routine; a level of 25 for hours is not."""
    rng = random.Random(4)
    base = [float(rng.randint(3, 8)) if rng.random() > 0.01 else 60.0 for _ in range(1500)]
    rise = [float(rng.randint(22, 28)) for _ in range(60)]
    results = detect_series(AnomalyParams(history=1500, warmup=200, season="none"), stamps(1560), base + rise)
    assert not fired_at(results[:1500][300:])  # routine spikes are not news...
    first = fired_at(results[1500:])
    assert first and results[1500 + first[0]].feature in ("mean", "median")  # ...a sustained rise is


def test_hour_of_day_season_learns_a_daily_peak() -> None:
    """Every day 12:00-13:00 is busy: normal for that hour, news for any other hour."""
    ts = stamps(288 * 12)
    values = [50.0 + (i % 3) if t.hour == 12 else 2.0 + (i % 3) for i, t in enumerate(ts)]
    params = AnomalyParams(history=2000, warmup=288, season="hour_of_day")
    assert fired_at(detect_series(params, ts, values)) == []
    late = [ts[-1] + STEP * (i + 1) for i in range(48)]  # the following night: 00:00 to 04:00
    extra = detect_series(params, [*ts, *late], [*values, *([50.0] * 48)])
    fired = fired_at(extra[len(ts) :])
    assert fired and extra[len(ts) + fired[0]].feature in ("season", "median", "mean", "value")


@pytest.mark.parametrize(
    ("direction", "fires_up", "fires_down"),
    [("up", True, False), ("down", False, True), ("both", True, True)],
)
def test_direction(direction: str, fires_up: bool, fires_down: bool) -> None:
    params = AnomalyParams(history=400, warmup=50, direction=direction)  # type: ignore[arg-type]
    base = [100.0 + (i % 7) for i in range(300)]
    up = detect_series(params, stamps(301), [*base, 200.0])[-1]
    down = detect_series(params, stamps(301), [*base, 10.0])[-1]
    assert (up.fired, down.fired) == (fires_up, fires_down)
    assert down.zscore < 0 < up.zscore


def test_negative_values_and_a_series_without_anomalies_stay_mostly_quiet() -> None:
    """Pure noise: bench/null_rate.py measures about one alert per 1,300 buckets (defaults)."""
    rng = random.Random(5)
    values = [rng.gauss(-50.0, 3.0) for _ in range(6000)]
    results = detect_series(AnomalyParams(), stamps(6000), values)
    assert len(fired_at(results)) <= 8
    assert results[-1].expected == pytest.approx(-50.0, abs=1.0)
    assert results[-1].spread == pytest.approx(3.0, rel=0.15)


def test_flat_stretches_fire_once_when_they_end_and_not_while_they_last() -> None:
    values = [7.0] * 400 + [9.0] * 5 + [7.0] * 400
    results = detect_series(SMALL, stamps(len(values)), values)
    assert fired_at(results) == [400]
    assert all(r.surprise == 0.0 or not r.anomalous for r in results[:400])


# --- alerting --------------------------------------------------------------------------


def test_one_alert_per_burst_and_a_new_one_after_the_cooldown() -> None:
    params = replace(SMALL, cooldown=24, season="none")
    values = [*calm(300), *[90.0] * 6, *calm(40), 95.0, *calm(30)]
    results = detect_series(params, stamps(len(values)), values)
    assert sum(r.anomalous for r in results[300:306]) >= 2  # the burst is anomalous, and alerts once;
    assert fired_at(results) == [300, 346]  # 40 quiet buckets > cool-down of 24: the next one alerts


def test_within_the_cooldown_only_a_much_rarer_bucket_alerts_again() -> None:
    params = replace(SMALL, cooldown=100, season="none", rebound=2.0)
    values = [*noisy(300), 30.0, *noisy(10, seed=8), 36.0, *noisy(10, seed=9), 5000.0]
    results = detect_series(params, stamps(len(values)), values)
    assert results[311].anomalous and not results[311].fired  # similar bucket: same episode
    assert fired_at(results) == [300, 322]  # far beyond anything since: alerts again


def test_alerting_counts_consecutive_anomalous_buckets() -> None:
    alerting = Alerting(threshold=3.0, cooldown=0, rebound=1.0, consecutive=2)
    assert [alerting.step(s) for s in [4.0, 1.0, 4.0, 4.0, 4.0]] == [False, False, False, True, True]


# --- bad input: skipped, never an exception ----------------------------------------------


def test_late_duplicate_and_non_finite_values_are_skipped_with_a_reason() -> None:
    detector = AnomalyDetector(SMALL)
    detector.update(T0, 1.0)
    late = detector.update(T0 - STEP, 1.0)
    duplicate = detector.update(T0, 2.0)
    nan = detector.update(T0 + STEP, float("nan"))
    inf = detector.update(T0 + STEP, float("inf"))
    assert late.skipped == duplicate.skipped == "not after the previous bucket"
    assert nan.skipped == inf.skipped == "not a finite number"
    assert not any(r.fired for r in (late, duplicate, nan, inf))
    assert detector.update(T0 + STEP, 3.0).skipped is None  # the slot is still free


def test_a_gap_of_days_is_just_the_next_bucket() -> None:
    values = noisy(500)
    ts = stamps(250) + stamps(250, T0 + timedelta(days=10))
    results = detect_series(SMALL, ts, values)
    assert not any(r.skipped for r in results) and fired_at(results) == []


def test_timezone_aware_timestamps_use_their_own_hours() -> None:
    values = bursty_series(1500, seed=3)
    naive = detect_series(SMALL, stamps(1500), values)
    aware = detect_series(SMALL, [t.replace(tzinfo=UTC) for t in stamps(1500)], values)
    assert aware == naive


# --- state -----------------------------------------------------------------------------


def bursty_series(n: int, seed: int) -> list[float]:
    rng = random.Random(seed)
    values = noisy(n, level=5.0, seed=seed)
    for _ in range(n // 150):
        start = rng.randrange(n - 6)
        for i in range(start, start + rng.randint(1, 6)):
            values[i] += rng.choice([20.0, 60.0, 300.0])
    return values


@pytest.mark.parametrize(
    "params",
    [
        AnomalyParams(history=500, warmup=100),
        AnomalyParams(history=500, warmup=100, season="none", log_tail=True, direction="up"),
        AnomalyParams(history=300, warmup=60, season="hour_of_week", season_history=5, season_warmup=2),
    ],
    ids=["defaults-small", "log-tail-up", "hour_of_week"],
)
def test_restoring_from_state_mid_series_continues_exactly(params: AnomalyParams) -> None:
    values = bursty_series(3000, seed=7)
    ts = stamps(len(values))
    straight = detect_series(params, ts, values)
    assert any(r.fired for r in straight)
    for cut in (0, 1, 150, 1234, 2999):
        detector = AnomalyDetector(params)
        head = [detector.update(t, v) for t, v in zip(ts[:cut], values[:cut], strict=True)]
        state = json.loads(json.dumps(detector.to_state()))
        resumed = AnomalyDetector.from_state(params, state)
        tail = [resumed.update(t, v) for t, v in zip(ts[cut:], values[cut:], strict=True)]
        assert head + tail == straight, f"cut at {cut}"


def test_state_of_an_open_cooldown_survives_a_restart() -> None:
    detector = AnomalyDetector(SMALL)
    for i, v in enumerate([*noisy(300), 90.0]):
        detector.update(T0 + STEP * i, v)
    state = detector.to_state()
    assert state["alerting"]["cooldown_left"] == SMALL.cooldown
    resumed = AnomalyDetector.from_state(SMALL, json.loads(json.dumps(state)))
    assert not resumed.update(T0 + STEP * 301, 95.0).fired  # same episode: no second alert


def test_state_with_an_unknown_version_or_other_parameters_is_refused() -> None:
    state = AnomalyDetector(SMALL).to_state()
    with pytest.raises(ValueError, match="version 99"):
        AnomalyDetector.from_state(SMALL, {**state, "version": 99})
    with pytest.raises(ValueError, match="other parameters"):
        AnomalyDetector.from_state(AnomalyParams(), state)
    assert state["version"] == STATE_VERSION


def test_a_version_1_state_warms_the_new_detector_up_with_its_history() -> None:
    history = noisy(400)
    old = {
        "version": 1,
        "baselines": {"0": {"values": history}},
        "episode": None,
        "run": 0,
        "last_ts": (T0 + STEP * 399).isoformat(),
    }
    detector = AnomalyDetector.from_state(SMALL, old)
    assert detector.last_ts == T0 + STEP * 399
    assert not detector.update(T0 + STEP * 400, 11.0).warming_up  # warmed up by the old history
    assert detector.update(T0 + STEP * 401, 90.0).fired


def test_a_version_1_state_it_cannot_use_resets_cleanly() -> None:
    old = {"version": 1, "baselines": {"0": {"count": 5, "mean": 1.0, "var": 0.1}}, "episode": None, "run": 0}
    detector = AnomalyDetector.from_state(SMALL, {**old, "last_ts": None})
    assert detector.last_ts is None and detector.update(T0, 1.0).warming_up


@pytest.mark.slow
def test_five_files_of_16k_rows_run_in_a_few_seconds() -> None:
    series = [bursty_series(16_000, seed) for seed in range(5)]
    started = time.perf_counter()
    for values in series:
        detect_series(AnomalyParams(), stamps(len(values)), values)
    assert time.perf_counter() - started < 15.0
