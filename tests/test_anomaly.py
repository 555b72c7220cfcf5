"""The ``anomaly`` condition's detector: baseline, floor, warm-up, direction, alerting, state."""

from __future__ import annotations

import json
import random
import time
from datetime import datetime, timedelta

import pytest

from monitor.detect.anomaly import (
    AnomalyDetector,
    AnomalyParams,
    AnomalyResult,
    detect_series,
    median,
    median_abs_deviation,
    quantile,
)

T0 = datetime(2024, 1, 1)
STEP = timedelta(minutes=5)


def stamps(n: int, start: datetime = T0) -> list[datetime]:
    return [start + STEP * i for i in range(n)]


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
        ({"method": "mean"}, "method 'mean'"),
        ({"season": "daily"}, "season 'daily'"),
        ({"direction": "sideways"}, "direction"),
        ({"history": 1}, "history 1"),
        ({"min_events": 3000}, "min_events 3000"),
        ({"threshold": 0}, "threshold 0"),
        ({"tail_quantile": 0.3}, "tail_quantile 0.3"),
        ({"min_spread": 0}, "min_spread 0"),
        ({"consecutive": 0}, "consecutive 0"),
        ({"cooldown": timedelta(minutes=-1)}, "cooldown"),
    ],
)
def test_bad_parameters_fail_at_construction(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        AnomalyParams(**changes)  # type: ignore[arg-type]


def test_all_problems_are_reported_together() -> None:
    with pytest.raises(ValueError, match=r"threshold.*consecutive"):
        AnomalyParams(threshold=-1, consecutive=0)


# --- robust statistics -----------------------------------------------------------------


@pytest.mark.parametrize("seed", range(20))
def test_mad_matches_brute_force(seed: int) -> None:
    rng = random.Random(seed)
    n = rng.randint(1, 60)
    values = sorted(float(rng.choice([rng.randint(0, 5), rng.randint(0, 500)])) for _ in range(n))
    centre = median(values)
    deviations = sorted(abs(v - centre) for v in values)
    assert median_abs_deviation(values, centre) == median(deviations)


def test_median_and_quantile() -> None:
    assert median([]) == 0.0
    assert median([1.0, 2.0, 10.0]) == 2.0
    assert median([1.0, 2.0, 4.0, 10.0]) == 3.0
    assert quantile([float(i) for i in range(100)], 0.98) == 98.0


# --- judging ---------------------------------------------------------------------------


def test_a_spike_fires_once_with_the_baseline_it_was_judged_against() -> None:
    params = AnomalyParams(consecutive=1, min_events=50)
    values = [*noisy(300), 80.0, *noisy(50, seed=2)]
    results = detect_series(params, stamps(len(values)), values)
    assert fired_at(results) == [300]
    spike = results[300]
    assert spike.expected == pytest.approx(10.0, abs=1.0)
    assert spike.zscore == pytest.approx((80.0 - spike.expected) / spike.spread)
    assert spike.anomalous and not spike.warming_up


def test_nothing_fires_during_warm_up() -> None:
    params = AnomalyParams(min_events=100, consecutive=1)
    values = [5.0] * 50 + [500.0] + [5.0] * 100 + [500.0]
    results = detect_series(params, stamps(len(values)), values)
    assert all(r.warming_up for r in results[:100]) and not results[100].warming_up
    assert fired_at(results) == [151]


def test_the_spread_floor_keeps_a_flat_baseline_from_firing_on_small_changes() -> None:
    params = AnomalyParams(min_events=10, consecutive=1, threshold=5.0)
    flat = [4.0] * 100
    # MAD is 0 on a flat series; the floor (sqrt(4) = 2) keeps a move to 12 at z = 4.
    assert fired_at(detect_series(params, stamps(101), [*flat, 12.0])) == []
    assert fired_at(detect_series(params, stamps(101), [*flat, 15.0])) == [100]
    zero = detect_series(params, stamps(101), [0.0] * 100 + [3.0])[-1]
    assert zero.spread == params.min_spread and not zero.fired


def test_min_delta_requires_an_absolute_change() -> None:
    params = AnomalyParams(min_events=10, consecutive=1, min_delta=20)
    assert fired_at(detect_series(params, stamps(101), [0.0] * 100 + [15.0])) == []
    assert fired_at(detect_series(params, stamps(101), [0.0] * 100 + [25.0])) == [100]


def test_a_bursty_history_widens_the_spread() -> None:
    """Daily bursts to 60 over a base of 10 are normal for this series; a jump to 60 is not news."""
    values = [60.0 if i % 48 == 0 else 10.0 + (i % 3) for i in range(600)] + [60.0, 60.0]
    bursty = detect_series(AnomalyParams(min_events=50), stamps(len(values)), values)
    assert fired_at(bursty) == []
    plain = detect_series(AnomalyParams(min_events=50, tail_quantile=0), stamps(len(values)), values)
    assert len(plain) - 1 in fired_at(plain)


@pytest.mark.parametrize(
    ("direction", "fires_up", "fires_down"),
    [("up", True, False), ("down", False, True), ("both", True, True)],
)
def test_direction(direction: str, fires_up: bool, fires_down: bool) -> None:
    params = AnomalyParams(direction=direction, consecutive=1, min_events=50, tail_quantile=0)  # type: ignore[arg-type]
    base = [100.0 + (i % 5) for i in range(200)]
    up = detect_series(params, stamps(201), [*base, 200.0])[-1]
    down = detect_series(params, stamps(201), [*base, 10.0])[-1]
    assert (up.fired, down.fired) == (fires_up, fires_down)
    assert down.zscore < 0 < up.zscore


def test_hour_of_day_season_learns_a_daily_peak() -> None:
    """Every day 12:00-13:00 is busy: normal for that hour, news for any other hour."""
    days = 10
    ts = stamps(288 * days)
    values = [50.0 if t.hour == 12 else 2.0 for t in ts]
    seasonal = AnomalyParams(season="hour_of_day", history=120, min_events=24, consecutive=1, tail_quantile=0)
    flat = AnomalyParams(season="none", min_events=100, consecutive=1, tail_quantile=0)
    assert fired_at(detect_series(seasonal, ts, values)) == []
    assert fired_at(detect_series(flat, ts, values))
    late = ts[-1] + STEP * 12 * 10  # 22:00, after the last day
    extra = detect_series(seasonal, [*ts, late], [*values, 50.0])
    assert fired_at(extra) == [len(ts)]


def test_ewma_baseline_fires_on_a_spike_and_is_not_dragged_by_it() -> None:
    params = AnomalyParams(method="ewma", history=288, min_events=50, consecutive=1)
    values = noisy(400) + [200.0] * 3 + noisy(20, seed=3)
    results = detect_series(params, stamps(len(values)), values)
    assert fired_at(results) == [400]
    assert results[-1].expected < 15  # clipped updates: three huge buckets barely move it


# --- alerting --------------------------------------------------------------------------


def test_an_alert_needs_consecutive_anomalous_buckets() -> None:
    params = AnomalyParams(min_events=50, consecutive=2, tail_quantile=0)
    values = [*noisy(200), 90.0, *noisy(10, seed=4), 90.0, 95.0]
    results = detect_series(params, stamps(len(values)), values)
    assert results[200].anomalous and not results[200].fired
    assert fired_at(results) == [len(values) - 1]


def test_one_alert_per_burst_and_a_new_one_after_a_quiet_cooldown() -> None:
    params = AnomalyParams(min_events=50, consecutive=1, cooldown=timedelta(hours=1), tail_quantile=0)
    burst = [90.0] * 24  # two hours of anomalous buckets
    quiet = [10.0] * 11  # with the next bucket: exactly one hour after the last anomaly
    values = [10.0] * 300 + burst + [10.0] * 10 + [90.0] + quiet + [90.0]
    results = detect_series(params, stamps(len(values)), values)
    # the burst fires once; the lone bucket 55 min after it still belongs to the episode;
    # one full quiet hour later the next anomaly is a new alert.
    assert fired_at(results) == [300, len(values) - 1]
    assert sum(r.anomalous for r in results) == len(burst) + 2


def test_timestamps_must_not_go_backwards_and_values_must_be_numbers() -> None:
    detector = AnomalyDetector(AnomalyParams())
    detector.update(T0, 1.0)
    with pytest.raises(ValueError, match="before the previous"):
        detector.update(T0 - STEP, 1.0)
    with pytest.raises(ValueError, match="not a finite number"):
        detector.update(T0 + STEP, float("nan"))
    with pytest.raises(ValueError, match="3 timestamps for 2 values"):
        detect_series(AnomalyParams(), stamps(3), [1.0, 2.0])


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
        AnomalyParams(min_events=100, history=600),
        AnomalyParams(method="ewma", min_events=100, history=600),
        AnomalyParams(season="hour_of_day", history=60, min_events=12, direction="both"),
        AnomalyParams(season="hour_of_week", history=10, min_events=2, consecutive=1),
    ],
    ids=["median_mad", "ewma", "hour_of_day", "hour_of_week"],
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


def test_state_of_an_open_episode_survives_a_restart() -> None:
    params = AnomalyParams(min_events=50, consecutive=1, tail_quantile=0)
    detector = AnomalyDetector(params)
    for i, v in enumerate([*noisy(100), 90.0]):
        detector.update(T0 + STEP * i, v)
    state = detector.to_state()
    assert state["episode"] is not None
    resumed = AnomalyDetector.from_state(params, json.loads(json.dumps(state)))
    assert not resumed.update(T0 + STEP * 101, 95.0).fired  # same episode: no second alert


def test_state_with_an_unknown_version_is_refused() -> None:
    state = AnomalyDetector(AnomalyParams()).to_state()
    state["version"] = 99
    with pytest.raises(ValueError, match="version 99"):
        AnomalyDetector.from_state(AnomalyParams(), state)


@pytest.mark.slow
def test_five_files_of_16k_rows_run_in_a_few_seconds() -> None:
    series = [bursty_series(16_000, seed) for seed in range(5)]
    started = time.perf_counter()
    for values in series:
        detect_series(AnomalyParams(), stamps(len(values)), values)
    assert time.perf_counter() - started < 10.0
