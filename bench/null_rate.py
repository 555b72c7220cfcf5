"""How often does the ``anomaly`` detector alert on series that contain nothing to find?

    python bench/null_rate.py [--rows N] [--seeds K]

Runs the detector (defaults, except the spread floor under test) on synthetic series of
pure noise (Poisson counts with means 1, 10 and 100, Gaussian, exponential; ``--seeds``
of each, ``--rows`` buckets each) and prints one alert per how many buckets, for each
candidate ``bulk_floor`` (the floor on the tail scale, as a multiple of the interquartile
range). No labels and no benchmark data are involved. ``bulk_floor`` is the smallest
candidate whose rate is at most one alert per :data:`TARGET` buckets at the nominal
rarity 3.5 (about one a week of 5-minute buckets on a series with nothing in it);
docs/detection.md explains why it is fixed this way rather than by cross-validation.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.detect.anomaly import AnomalyParams, detect_series

CANDIDATES = (0.0, 0.1, 0.2, 0.3, 0.5)
TARGET = 2000
NOMINAL = 3.5
T0 = datetime(2024, 1, 1)  # noqa: DTZ001 - naive series time, as the NAB files give it
STEP = timedelta(minutes=5)


def poisson(rng: random.Random, mean: float) -> float:
    """A Poisson draw (normal approximation above a mean of 50)."""
    if mean > 50:
        return float(max(0, round(rng.gauss(mean, math.sqrt(mean)))))
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return float(k)
        k += 1


def null_series(seed: int, rows: int) -> Iterator[tuple[str, list[float]]]:
    rng = random.Random(seed)
    for mean in (1, 10, 100):
        yield f"poisson({mean})", [poisson(rng, mean) for _ in range(rows)]
    yield "gaussian", [rng.gauss(0.0, 1.0) for _ in range(rows)]
    yield "exponential", [rng.expovariate(1.0) for _ in range(rows)]


def alerts(params: AnomalyParams, values: list[float]) -> int:
    results = detect_series(params, [T0 + STEP * i for i in range(len(values))], values)
    return sum(1 for r in results if r.fired)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=6000)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args(argv)
    series = [s for seed in range(args.seeds) for s in null_series(seed, args.rows)]
    print(f"{len(series)} null series of {args.rows} buckets; alerts per kind; one alert per how many buckets")
    chosen = None
    for floor in CANDIDATES:
        for rarity in (NOMINAL, AnomalyParams().threshold):
            params = replace(AnomalyParams(), bulk_floor=floor, threshold=rarity)
            per_kind: dict[str, int] = {}
            for name, values in series:
                per_kind[name] = per_kind.get(name, 0) + alerts(params, values)
            total = sum(per_kind.values())
            every = len(series) * (args.rows - params.warmup) / max(total, 1)
            kinds = ", ".join(f"{k} {n}" for k, n in per_kind.items())
            print(f"  bulk_floor {floor:<4} rarity {rarity:<5} one alert per {every:>6.0f} buckets ({kinds})")
            if rarity == NOMINAL and chosen is None and every >= TARGET:
                chosen = floor
    print(f"smallest bulk_floor with at most one alert per {TARGET} buckets at rarity {NOMINAL}: {chosen}")
    print(f"AnomalyParams().bulk_floor is {AnomalyParams().bulk_floor}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
