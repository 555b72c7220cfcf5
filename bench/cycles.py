"""Benchmark: the daemon's evaluation cycle over a SQLite store that already holds N items.

    .venv/bin/python bench/cycles.py cycles --db /path/to/store.sqlite [--repeat 3] [--cycles 6] [--surge 0]

The store is built once, outside the repository (the path is an argument; a store path
inside the checkout is refused), with ``bench/volume.py``'s pre-load: N items spread over
the past 28 days (70 % complaints, 30 % news), with the hits and hourly sums the shipped
rules and the bench rules would have recorded at ingest; the pre-load's "now" is written
beside it in ``PATH.meta.json``:

    .venv/bin/python bench/cycles.py build --items 1000000 --db /path/to/store.sqlite

``cycles`` works on a fresh temporary copy of the store for every run (rule states and
incidents written by evaluation never reach the next run; the copy is deleted afterwards)
and times the daemon's own ``Engine.evaluate``, built by ``monitor.app.build_engine`` from
``bench/volume.py``'s config (shipped rules, an hour-of-week ``anomaly`` rule, a fire rule),
at a fixed clock: the pre-load's "now" + 1 s, then + 5 s per cycle. With ``--surge K``, K
new complaints (one in 500 a 起火 fire of a distinct product, one in five items through the
news path) go through the daemon's real ``Ingestor`` before the first ``--surge-cycles``
steady cycles, dated over the 5 s before each; the ingest is timed apart, not as evaluation.

Printed: the first cycle (detectors replayed from the store) and the steady cycles (median
of cycles 1.. per run), both as the median over ``--repeat`` runs; with a surge, the cycles
during and after it; per rule, the seconds the evaluator's ``timed`` callback reported; and
the process's RSS (current, peak) at the end. ``--profile OUT`` writes a cProfile ``.prof``
file per steady cycle into OUT (profiled cycles run slower: read them for shares, not for
times). ``rss`` prints VmRSS/VmHWM after each stage of a daemon's start and first cycles
(``--tracemalloc``: the top allocations too).

Figures depend on the machine and on what else runs on it: read them only beside a
baseline measured in the same session on the same machine, e.g. ``cycles`` over stores of
two sizes (``--db`` of a 0- or 100k-item store, then of the 1M-item one), one after the other.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import importlib
import json
import pickle
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import volume  # noqa: E402  (bench/volume.py: the pre-load, the config, the generated texts)

from monitor.app import Wiring, build_engine  # noqa: E402
from monitor.config.loading import load_all  # noqa: E402
from monitor.models import FetchResult, Item, ItemKind  # noqa: E402
from monitor.store import SqlStore, open_store  # noqa: E402

FEED_URL = "http://127.0.0.1:1/news.xml"  # never polled: the bench only evaluates and ingests in-process
STEP = timedelta(seconds=5)  # the config's evaluate_every


def rss_mb() -> tuple[float, float]:
    """This process's VmRSS and VmHWM (peak), MB."""
    status = Path("/proc/self/status").read_text()

    def field_mb(name: str) -> float:
        found = re.search(rf"{name}:\s+(\d+)", status)
        return int(found.group(1)) / 1024 if found else float("nan")

    return field_mb("VmRSS"), field_mb("VmHWM")


def outside_repository(db: str) -> str:
    if Path(db).resolve().is_relative_to(ROOT):
        sys.exit(f"{db}: the store must live outside the repository ({ROOT})")
    return db


# -- build -----------------------------------------------------------------------------------


def cmd_build(ns: argparse.Namespace) -> None:
    db = outside_repository(ns.db)
    for suffix in ("", "-wal", "-shm"):
        Path(db + suffix).unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="crisismon-cycles-") as tmp:
        folder = Path(tmp)
        volume.write_config(folder, db, 1, FEED_URL)
        rules = volume.bench_rules(folder)
        store = open_store(db)
        now = datetime.now(UTC)
        Path(db + ".meta.json").write_text(json.dumps({"now": now.isoformat(), "items": ns.items}))
        try:
            took = volume.preload(store, rules, ns.items, now)
        finally:
            store.close()
    print(f"pre-loaded {ns.items:,} items in {took:.0f}s into {db} (now = {now.isoformat()})")


# -- the daemon's engine over a copy of the store ----------------------------------------------


class FixedClock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


@dataclass
class Bench:
    wiring: Wiring
    store: SqlStore
    clock: FixedClock


@contextmanager
def engine_over_copy(db: str, tmp: str | None) -> Iterator[Bench]:
    """A temporary copy of the store and the daemon's engine over it; both gone afterwards."""
    meta = json.loads(Path(db + ".meta.json").read_text())
    start = datetime.fromisoformat(meta["now"]) + timedelta(seconds=1)
    folder = tmp if tmp is not None else str(Path(db).resolve().parent)
    with tempfile.TemporaryDirectory(prefix="crisismon-cycles-", dir=folder) as work:
        copy = str(Path(work) / "copy.sqlite")
        shutil.copyfile(db, copy)
        for suffix in ("-wal", "-shm"):
            if Path(db + suffix).exists():
                shutil.copyfile(db + suffix, copy + suffix)
        config, definitions = load_all(volume.write_config(Path(work), copy, 1, FEED_URL))
        store = open_store(copy)
        clock = FixedClock(start)
        try:
            wiring = build_engine(config, definitions, store, clock)
            try:
                yield Bench(wiring, store, clock)
            finally:
                wiring.close()
        finally:
            store.close()


def surge_items(k: int, first: int, end: datetime, span: float = 5.0) -> list[Item]:
    """``k`` new items dated over the ``span`` seconds before ``end``; texts never repeated."""
    rnd = random.Random(first)
    items = []
    for n in range(k):
        fire = n % 500 == 250
        product = f"暖居 B{first + n} 电暖器" if fire else volume.PRODUCTS[n % len(volume.PRODUCTS)]
        text = volume.sentence(rnd, 20_000_000 + first + n) + ("，电暖器突然起火了" if fire else "")
        news = n % 5 == 4 and not fire  # one in five through the feed path, like bench/volume.py
        kind: ItemKind = "post" if news else "complaint"
        items.append(
            Item(
                source="news" if news else "complaints",
                id=f"surge-{first + n}",
                text=text,
                published_at=end - timedelta(seconds=span * (k - n) / k),
                kind=kind,
                attrs={} if news else {"product": product},
            )
        )
    return items


def ingest(bench: Bench, items: list[Item]) -> None:
    """Through the daemon's ``Ingestor``, per source, in batches of 200 (one intake POST each)."""
    for source in ("complaints", "news"):
        part = [i for i in items if i.source == source]
        for b in range(0, len(part), 200):
            bench.wiring.engine.ingestor.ingest(source, FetchResult(items=part[b : b + 200]), bench.clock.now())


# -- cycles ----------------------------------------------------------------------------------


@dataclass
class Run:
    cycles: list[float] = field(default_factory=list)  # seconds of each evaluation
    rules: list[dict[str, float]] = field(default_factory=list)  # per cycle: seconds per rule
    ingest: list[float] = field(default_factory=list)  # seconds of each surge ingest
    rss: tuple[float, float] = (0.0, 0.0)
    baselines: int = 0


def run_cycles(ns: argparse.Namespace, number: int) -> Run:
    run = Run()
    with engine_over_copy(ns.db, ns.tmp) as bench:
        evaluator = bench.wiring.engine.evaluator
        per_rule: dict[str, float] = {}
        inner = evaluator.timed

        def timed(rule_id: str, seconds: float, at: datetime) -> None:
            per_rule[rule_id] = per_rule.get(rule_id, 0.0) + seconds
            if inner is not None:
                inner(rule_id, seconds, at)

        evaluator.timed = timed
        first_at = bench.clock.now()
        surged = 0
        for k in range(ns.cycles):
            bench.clock.at = first_at + STEP * k
            if ns.surge and 0 < k <= ns.surge_cycles:
                items = surge_items(ns.surge // ns.surge_cycles, surged, bench.clock.at - timedelta(milliseconds=50))
                t0 = time.perf_counter()
                ingest(bench, items)
                run.ingest.append(time.perf_counter() - t0)
                surged += len(items)
            per_rule.clear()
            gc.collect()
            prof = cProfile.Profile() if ns.profile and k > 0 else None
            t0 = time.perf_counter()
            if prof is not None:
                prof.enable()
            signals = bench.wiring.engine.evaluate()
            if prof is not None:
                prof.disable()
            took = time.perf_counter() - t0
            if prof is not None:
                prof.dump_stats(str(Path(ns.profile) / f"run{number}-cycle{k}.prof"))
            firing = sorted({s.rule_id for s in signals if s.state == "firing"})
            run.cycles.append(took)
            run.rules.append(dict(per_rule))
            print(f"  cycle {k} at +{5 * k}s: {took:.3f}s, {len(signals)} signal(s), firing {firing}", flush=True)
        run.rss = rss_mb()
        run.baselines = len(evaluator._baselines)
    return run


def figures(values: list[float]) -> str:
    return "[" + ", ".join(f"{x:.3f}" for x in values) + "]"


def cmd_cycles(ns: argparse.Namespace) -> None:
    outside_repository(ns.db)
    if ns.cycles < 2:
        sys.exit("--cycles: at least 2 (the first cycle, then steady ones)")
    if ns.surge and not 0 < ns.surge_cycles < ns.cycles:
        sys.exit("--surge-cycles: at least 1 and fewer than --cycles")
    if ns.profile:
        Path(ns.profile).mkdir(parents=True, exist_ok=True)
    runs = []
    for r in range(ns.repeat):
        surge = f", surge {ns.surge}" if ns.surge else ""
        print(f"run {r + 1}/{ns.repeat} ({ns.cycles} cycles{surge})", flush=True)
        runs.append(run_cycles(ns, r + 1))
    med = statistics.median
    if ns.surge:
        sc = ns.surge_cycles
        during = [med(r.cycles[1 : 1 + sc]) for r in runs]
        print(f"\nduring the surge (cycles 1..{sc}): median {med(during):.3f}s  {figures(during)}")
        if ns.cycles > 1 + sc:
            after = [med(r.cycles[1 + sc :]) for r in runs]
            print(f"after the surge (cycles {sc + 1}..{ns.cycles - 1}): median {med(after):.3f}s  {figures(after)}")
    firsts = [r.cycles[0] for r in runs]
    steady = [med(r.cycles[1:]) for r in runs]
    print(f"\nfirst cycle: median {med(firsts):.3f}s  {figures(firsts)}")
    print(f"steady cycle (median of cycles 1..{ns.cycles - 1} per run): median {med(steady):.3f}s  {figures(steady)}")
    if ns.surge:
        ingests = [med(r.ingest) for r in runs]
        per = ns.surge // ns.surge_cycles
        print(f"ingest of {per} surge items per cycle (not evaluation): median {med(ingests):.3f}s  {figures(ingests)}")
    print(f"\n{'rule':36s} {'first':>8s} {'steady':>8s}")
    for rule in sorted(set().union(*(c for r in runs for c in r.rules))):
        first = med([r.rules[0].get(rule, 0.0) for r in runs])
        later = med([med([c.get(rule, 0.0) for c in r.rules[1:]]) for r in runs])
        print(f"{rule:36s} {first:8.3f} {later:8.3f}")
    cur, peak = runs[-1].rss
    kept = runs[-1].baselines
    print(f"\nRSS at the end of the last run: {cur:.1f} MB (peak {peak:.1f} MB); term baselines kept: {kept}")
    if ns.profile:
        print(f"profiles of the steady cycles: {ns.profile}/run*-cycle*.prof (python -m pstats FILE)")


# -- RSS -------------------------------------------------------------------------------------


def top_allocations(name: str, snapshot: tracemalloc.Snapshot, top: int) -> None:
    print(f"\n-- top allocations by file:line at '{name}' (live)")
    for stat in snapshot.statistics("lineno")[:top]:
        print(f"{stat.size / 2**20:8.2f} MB {stat.count:9d}  {stat.traceback[0]}")
    print(f"-- by file at '{name}'")
    for stat in snapshot.statistics("filename")[:12]:
        print(f"{stat.size / 2**20:8.2f} MB  {stat.traceback[0].filename}")


def cmd_rss(ns: argparse.Namespace) -> None:
    outside_repository(ns.db)
    stages = [("modules imported (monitor.app, bench/volume.py)", *rss_mb())]
    snapshots: dict[str, tracemalloc.Snapshot] = {}
    held: list[tracemalloc.StatisticDiff] = []
    if ns.tracemalloc:
        tracemalloc.start(1)
    with engine_over_copy(ns.db, ns.tmp) as bench:
        engine = bench.wiring.engine
        stages.append(("build_engine (scorer model, config, rules)", *rss_mb()))
        # what a poll does first: score texts (loads the segmenter dictionary / model)
        ingest(bench, surge_items(200, 0, bench.clock.now() - timedelta(seconds=1)))
        stages.append(("ingest of 200 items (scorer, segmenter loaded)", *rss_mb()))
        if ns.tracemalloc:
            snapshots["after-first-ingest"] = tracemalloc.take_snapshot()
            tm_cur, tm_peak = tracemalloc.get_traced_memory()
            print(f"tracemalloc start..first ingest: current {tm_cur / 2**20:.1f} MB, peak {tm_peak / 2**20:.1f} MB")
            tracemalloc.stop()  # not during the replay and the surge ingest (too slow)
        engine.evaluate()
        stages.append(("first evaluation (anomaly replay)", *rss_mb()))
        for _ in range(3):
            bench.clock.at += STEP
            engine.evaluate()
        stages.append(("3 more evaluations (no new items)", *rss_mb()))
        if ns.surge:
            surged = 200
            for k in range(2):
                bench.clock.at += STEP
                items = surge_items(ns.surge // 2, surged, bench.clock.at - timedelta(milliseconds=50))
                surged += len(items)
                ingest(bench, items)
                stages.append((f"surge ingest {k + 1}/2 ({len(items)} items)", *rss_mb()))
                traced = ns.tracemalloc and k == 1
                if traced:
                    gc.collect()
                    tracemalloc.start(1)
                    before = tracemalloc.take_snapshot()
                engine.evaluate()
                if traced:
                    tm_cur, tm_peak = tracemalloc.get_traced_memory()
                    print(
                        f"tracemalloc around surge evaluation 2/2: still held {tm_cur / 2**20:.1f} MB, "
                        f"peak {tm_peak / 2**20:.1f} MB"
                    )
                    held = tracemalloc.take_snapshot().compare_to(before, "lineno")
                    tracemalloc.stop()
                stages.append((f"evaluation during the surge {k + 1}/2", *rss_mb()))
            for _ in range(3):
                bench.clock.at += STEP
                engine.evaluate()
            stages.append(("3 evaluations after the surge", *rss_mb()))
        gc.collect()
        stages.append(("after gc.collect()", *rss_mb()))
        evaluator = engine.evaluator
        print("running detectors:", len(evaluator.detectors))
        try:
            size = len(pickle.dumps(dict(evaluator.detectors.items()))) / 2**20
            print(f"detectors pickled size: {size:.2f} MB")
        except Exception as exc:  # anything pickle raises: the figure is only informative
            print("detectors not picklable:", exc)
        baselines = evaluator._baselines
        terms = sum(len(b.counts) for b in baselines.values())
        print(f"evaluator term baselines: {len(baselines)} entries, {terms} terms")
        scorer = engine.ingestor.scorer
        print("scorer cache entries:", len(getattr(scorer, "_cache", None) or {}))
        try:
            asizeof = importlib.import_module("pympler.asizeof")
        except ImportError:
            pass  # pympler is optional: no deep sizes
        else:
            deep = [asizeof.asizeof(x) / 2**20 for x in (evaluator.detectors, baselines, scorer)]
            print("deep size MB: detectors {:.2f}, term baselines {:.2f}, scorer {:.2f}".format(*deep))
    print(f"\n{'stage':52s} {'VmRSS MB':>9s} {'VmHWM MB':>9s}")
    for name, cur, peak in stages:
        print(f"{name:52s} {cur:9.1f} {peak:9.1f}")
    if held:
        print("\n-- allocations still held after surge evaluation 2/2, by file:line")
        for diff in held[: ns.top]:
            print(f"{diff.size_diff / 2**20:+8.2f} MB {diff.count_diff:+9d}  {diff.traceback[0]}")
    for name, snapshot in snapshots.items():
        top_allocations(name, snapshot, ns.top)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="pre-load a store (bench/volume.py's pre-load) and write PATH.meta.json")
    b.add_argument("--items", type=int, default=1_000_000)
    b.add_argument("--db", required=True, help="SQLite file to create, outside the repository")
    tmp_help = "folder for the temporary copy of the store (default: the store's folder)"
    c = sub.add_parser("cycles", help="time the first and the steady evaluation cycles")
    c.add_argument("--db", required=True, help="a store made by `build`")
    c.add_argument("--cycles", type=int, default=6)
    c.add_argument("--repeat", type=int, default=3)
    c.add_argument("--surge", type=int, default=0, help="surge items in all (bench/volume.py: 20000)")
    c.add_argument("--surge-cycles", type=int, default=2, help="cycles the surge is spread over (5 s each)")
    c.add_argument("--profile", metavar="OUT", help="folder for cProfile files of the steady cycles")
    c.add_argument("--tmp", help=tmp_help)
    r = sub.add_parser("rss", help="RSS after each stage of a daemon's start and first cycles")
    r.add_argument("--db", required=True, help="a store made by `build`")
    r.add_argument("--tracemalloc", action="store_true")
    r.add_argument("--surge", type=int, default=0, help="surge items ingested after the first cycles")
    r.add_argument("--top", type=int, default=25)
    r.add_argument("--tmp", help=tmp_help)
    ns = p.parse_args()
    {"build": cmd_build, "cycles": cmd_cycles, "rss": cmd_rss}[ns.cmd](ns)


if __name__ == "__main__":
    main()
