"""Benchmark: a surge through a daemon whose store already holds N items, beside N = 0.

    .venv/bin/python bench/volume.py [--items 1000000] [--surge 20000] [--db postgresql://...]

For N = 0 and for N = ``--items`` (same run, same machine), on a fresh SQLite file (or a
fresh schema of the PostgreSQL database given with ``--db``):

1. **pre-load** N items spread over the past 28 days (70 % complaints, 30 % news; texts
   never repeated: a pool of prepared texts, each stored with its own number), with the hits
   and hourly sums the shipped rules and the bench rules would have recorded at ingest;
2. start ``daemon.py run`` (loopback only): the shipped rules, an ``anomaly`` rule with
   ``season: hour_of_week`` over 3 weeks, and a ``bench-fire`` rule (one 起火 complaint of
   a product opens an incident, ``for: 0s``); ``evaluate_every`` 5 s, scoring in-process;
3. push ``--surge`` complaints through the real intake (``POST /v1/complaints``, batches
   of 200, sequential) and, at the same time, one news item in five through an RSS feed the
   daemon polls every second (the feed path). Texts are generated, never repeated, so the
   scorer's cache cannot flatter the figure. ``--crises`` of the complaints are fires of
   distinct products, spread over the surge.

Printed for each N: items/s stored and scored (surge items / time until all are stored),
arrival -> alert p50/p95 (the fire complaint's POST returning, or its news item appearing in
the feed, to the alert marked sent by the console notifier), evaluation seconds per cycle
during the surge (mean, and the histogram bucket of the slowest) and after it (``--quiet``
seconds once every alert is out), from ``crisismon_evaluation_cycle_seconds``; evaluations that
overran ``evaluate_every`` (``crisismon_evaluation_overruns_total``) and runs the scheduler
skipped, and the daemon's peak RSS (``VmHWM``); then the N row as ratios of the N = 0 row.
First, rows/s storing 20,000 items with one statement per item (as before) and batched
(``add_items``: one ``executemany`` per poll), on the same backend.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monitor.config.loading import load_definitions  # noqa: E402
from monitor.config.settings import AppConfig  # noqa: E402
from monitor.detect.hits import (  # noqa: E402
    HitBook,
    HitRow,
    hit_of,
    hit_row,
    latest_hits,
)
from monitor.models import Item, ScoredItem  # noqa: E402
from monitor.runtime.ingest import score_items  # noqa: E402
from monitor.sentiment.scorer import negative_cut_for  # noqa: E402
from monitor.store import SqlStore, open_store  # noqa: E402
from monitor.testing import FakeScorer  # noqa: E402
from monitor.text.classify import KeywordClassifier  # noqa: E402

PRODUCTS = ["暖居 X3 电暖器", "暖居 X5 暖风机", "暖居 M2 取暖器", "暖居 K1 电热毯", "暖居 S9 加湿器"]
WORDS = [
    "质量",
    "服务",
    "快递",
    "客服",
    "价格",
    "包装",
    "门店",
    "外观",
    "物流",
    "排队",
    "态度",
    "退款",
    "售后",
    "安装",
    "噪音",
    "温度",
    "颜色",
    "说明书",
    "遥控",
    "开关",
    "电源线",
    "插头",
    "屏幕",
    "按键",
    "滤网",
    "水箱",
    "支架",
    "底座",
    "发票",
    "保修",
    "换货",
    "维修",
    "上门",
    "预约",
    "电话",
    "等待",
    "回复",
    "处理",
    "满意",
    "失望",
    "一般",
    "不错",
    "很差",
    "太慢",
    "很快",
    "便宜",
    "贵",
    "好用",
    "难用",
    "发热",
    "异味",
    "漏水",
    "松动",
    "掉漆",
    "划痕",
    "卡顿",
    "断电",
    "重启",
    "响声",
]
DAYS = 28
TOKEN = uuid.uuid4().hex
ANOMALY_RULE = {
    "id": "bench-hour-of-week",
    "description": "Complaint volume unusual for the hour of the week",
    "playbook": "product_quality",
    "sources": ["complaints"],
    "condition": {"anomaly": {"metric": "count", "season": "hour_of_week", "history": "21d", "min_history": "7d"}},
}
FIRE_RULE = {
    "id": "bench-fire",
    "description": "A fire report about one product",
    "playbook": "product_quality",
    "sources": ["complaints", "news"],
    "match": {"keywords_any": ["起火"]},
    "group_by": ["product"],
    "window": "10m",
    "bucket": "1m",
    "condition": {"threshold": {"metric": "count", "op": ">=", "value": 1}},
    "for": "0s",
    "severity": {"default": "high"},
}


def sentence(rnd: random.Random, n: int) -> str:
    return "，".join("".join(rnd.choice(WORDS) for _ in range(3)) for _ in range(rnd.randint(2, 4))) + f"。编号{n}"


# -- pre-load ------------------------------------------------------------------------------


def preload(store: SqlStore, rules: Sequence[Any], count: int, now: datetime, seed: int = 7) -> float:
    """``count`` items over the past 28 days with their hits; seconds taken."""
    started = time.monotonic()
    HitBook(store, lambda: rules).ensure(rules, now)  # built (empty) before the items, like a daemon
    if count == 0:
        return 0.0
    rnd = random.Random(seed)
    pool_items = [
        Item(
            source="complaints" if k % 10 < 7 else "news",
            id=f"pool-{k}",
            text=sentence(rnd, k) + ("，质量太差要求退款" if k % 3 == 0 else ""),
            published_at=now,
            kind="complaint" if k % 10 < 7 else "post",
            attrs={"product": PRODUCTS[k % len(PRODUCTS)]},
        )
        for k in range(2000)
    ]
    pool = score_items(pool_items, FakeScorer(), KeywordClassifier.default())
    pool_hits = [[(rule.id, hit) for rule in rules if (hit := hit_of(rule, s)) is not None] for s in pool]
    span = DAYS * 86400.0
    batch = 5000
    for start in range(0, count, batch):
        scored: list[ScoredItem] = []
        hits: list[HitRow] = []
        for n in range(start, min(start + batch, count)):
            base = pool[n % len(pool)]
            at = now - timedelta(seconds=span * (count - n) / count)
            item = replace(base.item, id=f"old-{n}", text=f"{base.item.text}#{n}", published_at=at)
            sentiment = rnd.random()
            scored.append(replace(base, item=item, sentiment=sentiment))
            for rule_id, hit in pool_hits[n % len(pool)]:  # what matching the item gives: its text is the base's
                obs = replace(hit.obs, at=at, sentiment=sentiment)
                hits.append(hit_row(rule_id, replace(hit, item_id=item.id, obs=obs)))
        with store.transaction():
            store.add_items(scored, now)
            store.add_hits(hits)
            store.touch_rule_groups(latest_hits(hits))
    # the hourly sums a daemon keeps with the hits (the bench daemon's negative cut: its model's)
    HitBook(store, lambda: rules, negative_cut_for(None)).ensure(rules, now)
    return time.monotonic() - started


# -- the feed and the daemon -----------------------------------------------------------------


class Feed:
    """An RSS feed of the latest 300 news items pushed to it (loopback only)."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str, float]] = []
        self.appeared: dict[str, float] = {}
        self.lock = threading.Lock()
        feed = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with feed.lock:
                    latest = list(feed.items[-300:]) if self.path == "/news.xml" else []
                body = "".join(
                    f"<item><title>{text[:10]}</title><description>{text}</description>"
                    f'<guid isPermaLink="false">{guid}</guid>'
                    f"<pubDate>{format_datetime(datetime.fromtimestamp(at, UTC))}</pubDate></item>"
                    for guid, text, at in latest
                )
                data = (
                    f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>n</title>{body}'
                    "</channel></rss>"
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/news.xml"

    def push(self, guid: str, text: str) -> None:
        with self.lock:
            self.items.append((guid, text, time.time()))
            self.appeared[guid] = time.time()

    def close(self) -> None:
        self.server.shutdown()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(folder: Path, db: str, port: int, feed_url: str) -> Path:
    rules = folder / "rules"
    rules.mkdir()
    for path in (ROOT / "rules").glob("*.yaml"):
        (rules / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    (rules / "bench.yaml").write_text(
        json.dumps({"rules": [ANOMALY_RULE, FIRE_RULE]}, ensure_ascii=False), encoding="utf-8"
    )
    config = {
        "database": db,
        "rules_dir": str(rules),
        "playbooks_dir": str(ROOT / "playbooks"),
        "sources": [
            {"type": "rss", "name": "news", "url": feed_url, "interval": "1s"},
            {"type": "rss", "name": "weibo", "url": feed_url.replace("news", "weibo"), "interval": "1h"},
        ],
        "scoring": {"workers": 0},
        "notify": {"console": True},
        "http": {"listen": f"127.0.0.1:{port}", "intake_source": "complaints", "console": False},
        "evaluate_every": "5s",
        "deliver_every": "1s",
        "incidents": {"check_every": "10s"},
    }
    path = folder / "crisismon.yaml"
    path.write_text(json.dumps(config, ensure_ascii=False), encoding="utf-8")
    return path


def bench_rules(folder: Path) -> list[Any]:
    config = AppConfig(rules_dir=str(folder / "rules"), playbooks_dir=str(ROOT / "playbooks"))
    return load_definitions(config, check_sources=False).rules.rules


def metric(text: str, name: str) -> float:
    found = re.search(rf"^{re.escape(name)} ([0-9.e+-]+)$", text, re.M)
    return float(found.group(1)) if found else 0.0


def peak_rss_mb(pid: int) -> float:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return float("nan")
    found = re.search(r"VmHWM:\s+(\d+) kB", status)
    return int(found.group(1)) / 1024 if found else float("nan")


@dataclass
class Result:
    stored: int
    preload_s: float
    items_per_s: float
    p50: float
    p95: float
    alerts: int
    crises: int
    cycle_mean: float
    cycle_max: float
    cycles: int
    overruns: int
    skipped: int
    rss_mb: float
    quiet_mean: float
    quiet_cycles: int
    before_sum: float
    before_cycles: int


def sent_alerts(store: SqlStore) -> dict[str, float]:
    """Each group's first alert sent, whichever rule opened its incident (a shipped rule that
    also reads 起火 may open it first; ``bench-fire``'s signal then joins that incident)."""
    rows = store._rows(
        "SELECT i.group_key, MIN(o.sent_at) FROM outbox o JOIN incidents i ON o.incident_id = i.id "
        "WHERE o.kind = 'alert' AND o.update_of IS NULL AND o.status = 'sent' GROUP BY i.group_key"
    )
    return {str(r[0]): float(r[1]) for r in rows}


def run(n: int, args: argparse.Namespace) -> Result:
    feed = Feed()
    port = free_port()
    schema = None
    with tempfile.TemporaryDirectory(prefix="crisismon-volume-") as tmp:
        folder = Path(tmp)
        if args.db:
            schema, db = fresh_schema(args.db)
        elif args.logs:  # kept with the logs, to look into
            Path(args.logs).mkdir(parents=True, exist_ok=True)
            db = str(Path(args.logs) / f"volume-{n}.db")
            Path(db).unlink(missing_ok=True)
        else:
            db = str(folder / "volume.db")
        config = write_config(folder, db, port, feed.url)
        rules = bench_rules(folder)
        store = open_store(db)
        preload_s = preload(store, rules, n, datetime.now(UTC))
        print(f"  N={n:,}: pre-loaded in {preload_s:.0f}s; starting the daemon", flush=True)
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.pop("CRISISMON_DB", None)
        env["CRISISMON_API_TOKEN"] = TOKEN
        log = (folder / "daemon.log").open("wb")
        daemon = subprocess.Popen(
            [sys.executable, str(ROOT / "daemon.py"), "run", "--config", str(config)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            with httpx.Client(timeout=120, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
                wait_ready(client, base, daemon, folder)
                time.sleep(args.settle)  # the first evaluation (detectors replay their history) and polls
                metrics_before = client.get(f"{base}/metrics").text
                result = surge(client, base, feed, store, n, args)
                time.sleep(args.evaluate_for)
                metrics_after = client.get(f"{base}/metrics").text
                alerts = drain(store, result["crisis_at"], args.drain)
                quiet_before = client.get(f"{base}/metrics").text
                time.sleep(args.quiet)
                quiet_after = client.get(f"{base}/metrics").text
        finally:
            rss = peak_rss_mb(daemon.pid)
            daemon.send_signal(signal.SIGTERM)
            try:
                daemon.wait(timeout=30)
            except subprocess.TimeoutExpired:
                daemon.kill()
            log.close()
            feed.close()
            store.close()
            text = (folder / "daemon.log").read_text(errors="replace")
            if args.logs:
                Path(args.logs).mkdir(parents=True, exist_ok=True)
                (Path(args.logs) / f"daemon-{n}.log").write_text(text, encoding="utf-8")
            if schema is not None:
                drop_schema(args.db, schema)
    delays = [alerts[g] - at for g, at in result["crisis_at"].items() if g in alerts]
    count = metric(metrics_after, "crisismon_evaluation_cycle_seconds_count") - metric(
        metrics_before, "crisismon_evaluation_cycle_seconds_count"
    )
    total = metric(metrics_after, "crisismon_evaluation_cycle_seconds_sum") - metric(
        metrics_before, "crisismon_evaluation_cycle_seconds_sum"
    )
    longest = [float(m) for m in re.findall(r"evaluation took ([0-9.]+)s", text)]
    quiet_n = metric(quiet_after, "crisismon_evaluation_cycle_seconds_count") - metric(
        quiet_before, "crisismon_evaluation_cycle_seconds_count"
    )
    quiet_s = metric(quiet_after, "crisismon_evaluation_cycle_seconds_sum") - metric(
        quiet_before, "crisismon_evaluation_cycle_seconds_sum"
    )
    return Result(
        stored=n,
        preload_s=preload_s,
        items_per_s=result["rate"],
        p50=statistics.median(delays) if delays else float("nan"),
        p95=pct(delays, 0.95),
        alerts=len(delays),
        crises=len(result["crisis_at"]),
        cycle_mean=total / count if count else float("nan"),
        cycle_max=max([*longest, cycle_max(metrics_after)]),
        cycles=int(count),
        overruns=int(metric(metrics_after, "crisismon_evaluation_overruns_total")),
        skipped=len(re.findall(r'job "evaluate \(.*skipped', text)),
        rss_mb=rss,
        quiet_mean=quiet_s / quiet_n if quiet_n else float("nan"),
        before_sum=metric(metrics_before, "crisismon_evaluation_cycle_seconds_sum"),
        before_cycles=int(metric(metrics_before, "crisismon_evaluation_cycle_seconds_count")),
        quiet_cycles=int(quiet_n),
    )


def cycle_max(metrics: str) -> float:
    """The upper bound of the cycle histogram's highest non-empty bucket."""
    last, top = 0.0, 0.0
    for le, value in re.findall(
        r'^crisismon_evaluation_cycle_seconds_bucket\{le="([^"]+)"\} ([0-9.e+]+)$', metrics, re.M
    ):
        if float(value) > last:
            top = float("inf") if le == "+Inf" else float(le)
            last = float(value)
    return top


def wait_ready(client: httpx.Client, base: str, daemon: subprocess.Popen[bytes], folder: Path) -> None:
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if daemon.poll() is not None:
            raise SystemExit("the daemon exited:\n" + (folder / "daemon.log").read_text(errors="replace")[-3000:])
        try:
            if client.get(f"{base}/healthz").status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit("the daemon did not answer within 600 s")


def surge(client: httpx.Client, base: str, feed: Feed, store: SqlStore, n: int, args: argparse.Namespace) -> Any:
    rnd = random.Random(11)
    every = max(args.surge // max(args.crises, 1), 1)
    crisis_at: dict[str, float] = {}
    before = store.item_count()
    started = time.monotonic()
    batch: list[dict[str, Any]] = []
    fire_products: list[str] = []
    news = 0
    for k in range(args.surge):
        product = f"暖居 B{k // every} 电暖器" if k % every == every // 2 else PRODUCTS[k % len(PRODUCTS)]
        fire = k % every == every // 2
        text = sentence(rnd, 10_000_000 + k) + ("，电暖器突然起火了" if fire else "")
        if k % 5 == 4 and not fire:
            feed.push(f"news-{n}-{k}", text)
            news += 1
            continue
        batch.append({"id": f"s-{k}", "time": datetime.now(UTC).isoformat(), "text": text, "product": product})
        if fire:
            fire_products.append(product)
        if len(batch) == 200 or k == args.surge - 1:
            reply = client.post(f"{base}/v1/complaints", json={"complaints": batch})
            reply.raise_for_status()
            done = time.time()
            for p in fire_products:
                crisis_at[f"product={p}"] = done
            batch, fire_products = [], []
    deadline = time.monotonic() + 300
    while store.item_count() - before < args.surge and time.monotonic() < deadline:
        time.sleep(0.2)
    took = time.monotonic() - started
    return {"rate": (store.item_count() - before) / took, "crisis_at": crisis_at}


def drain(store: SqlStore, wanted: dict[str, float], seconds: float) -> dict[str, float]:
    deadline = time.monotonic() + seconds
    sent = sent_alerts(store)
    while time.monotonic() < deadline and not set(wanted) <= set(sent):
        time.sleep(0.5)
        sent = sent_alerts(store)
    return sent


def fresh_schema(base: str) -> tuple[str, str]:
    import psycopg

    name = f"crisismon_volume_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(base, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {name}")
    return name, f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{name}"


def drop_schema(base: str, name: str) -> None:
    import psycopg

    with psycopg.connect(base, autocommit=True) as admin:
        admin.execute(f"DROP SCHEMA {name} CASCADE")


def pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)] if ordered else float("nan")


def line(r: Result) -> str:
    return (
        f"N={r.stored:>10,}: {r.items_per_s:7.0f} items/s; arrival->alert p50 {r.p50:5.1f}s p95 {r.p95:5.1f}s "
        f"({r.alerts}/{r.crises} alerts); evaluation per cycle mean {r.cycle_mean:.3f}s max {r.cycle_max:.3f}s "
        f"over {r.cycles} cycles, {r.overruns} overrun(s), {r.skipped} skipped; after the surge "
        f"{r.quiet_mean:.3f}s over {r.quiet_cycles} cycles; before the surge {r.before_cycles} cycles took "
        f"{r.before_sum:.1f}s (the first replays the anomaly history); peak RSS {r.rss_mb:.0f} MB"
    )


def write_rates(args: argparse.Namespace, rows: int = 20_000) -> tuple[float, float]:
    """Rows/s storing items: one INSERT per item (how crisismon stored them before) and
    ``add_items`` (one batched statement per poll), on the same backend, fresh databases."""
    rnd = random.Random(5)
    now = datetime.now(UTC)
    scored = [
        ScoredItem(
            Item("complaints", f"w-{n}", sentence(rnd, n), now - timedelta(seconds=n), kind="complaint"),
            rnd.random(),
            None,
        )
        for n in range(rows)
    ]
    rates = []
    for batched in (False, True):
        with tempfile.TemporaryDirectory(prefix="crisismon-write-") as tmp:
            schema = None
            if args.db:
                schema, db = fresh_schema(args.db)
            else:
                db = str(Path(tmp) / "write.db")
            store = open_store(db)
            started = time.monotonic()
            for start in range(0, rows, 500):
                chunk = scored[start : start + 500]
                with store.transaction():
                    if batched:
                        store.add_items(chunk, now)
                    else:
                        for one in chunk:
                            store.add_items([one], now)  # a statement per row
            rates.append(rows / (time.monotonic() - started))
            store.close()
            if schema is not None:
                drop_schema(args.db, schema)
    return rates[0], rates[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=1_000_000, help="items stored before the surge")
    parser.add_argument("--surge", type=int, default=20_000, help="items in the surge")
    parser.add_argument("--crises", type=int, default=20, help="fire complaints (distinct products) in the surge")
    parser.add_argument("--db", help="a PostgreSQL URL (a fresh schema each run); default: a SQLite file")
    parser.add_argument("--settle", type=float, default=15.0, help="seconds after start-up before the surge")
    parser.add_argument("--evaluate-for", type=float, default=10.0, help="seconds of evaluation after the surge")
    parser.add_argument("--drain", type=float, default=60.0, help="seconds to wait for the last alerts")
    parser.add_argument("--quiet", type=float, default=16.0, help="seconds of evaluation measured after all alerts")
    parser.add_argument("--skip-empty", action="store_true", help="only the N row (development)")
    parser.add_argument("--logs", help="keep the daemons' logs in this folder")
    args = parser.parse_args()
    print(
        f"{'PostgreSQL' if args.db else 'SQLite'}; surge of {args.surge:,} items "
        f"(4/5 intake, 1/5 RSS), {args.crises} fires; {os.cpu_count()} cores",
        flush=True,
    )
    single, batched = write_rates(args)
    print(
        f"storing items: {batched:,.0f} rows/s batched vs {single:,.0f} one statement per row: {batched / single:.1f}x",
        flush=True,
    )
    empty = run(0, args) if not args.skip_empty else None
    if empty is not None:
        print(line(empty), flush=True)
    full = run(args.items, args)
    print(line(full), flush=True)
    if empty is None:
        return 0
    print(
        f"N={args.items:,} vs N=0: throughput {full.items_per_s / empty.items_per_s:.2f}x, "
        f"p95 {full.p95 / empty.p95 if empty.p95 else float('nan'):.2f}x, "
        f"evaluation per cycle {full.cycle_mean / empty.cycle_mean if empty.cycle_mean else float('nan'):.2f}x, "
        f"peak RSS {full.rss_mb / empty.rss_mb:.2f}x (pre-load took {full.preload_s:.0f}s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
