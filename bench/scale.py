"""Benchmark: one daemon vs three on one PostgreSQL database, polling 3,000 local feeds.

    CRISISMON_TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/test \\
        .venv/bin/python bench/scale.py [--feeds 3000] [--interval 5] [--measure 20] [--crises 20]

A feed server (a child process, loopback only) serves ``--feeds`` RSS feeds. Then, for one
and for three ``daemon.py run`` processes sharing a fresh schema of the database:

* **polls per second**: requests the feed server answered per second over ``--measure``
  seconds, after the daemons have settled (every feed is polled by exactly one daemon: it
  holds the feed's lease, so feed requests are polls);
* **item -> alert delay**: ``--crises`` of the feeds publish a 起火 item at staggered times
  during the measurement; each has a rule (threshold: one such item, ``for: 0s``) that opens
  an incident. The delay is from the item appearing in its feed to the alert being marked
  sent (console notifier: the pipeline's own delay, without Slack's one-post-per-second pace).

* **CPU seconds per poll**: the daemons' own CPU time (user + system, ``/proc/PID/stat``)
  over the measurement, per poll; beside it the whole machine's busy CPU per poll
  (``/proc/stat``: daemons, PostgreSQL and the feed server), and what is left once the
  daemons and the feed server are taken out (mostly PostgreSQL: the cost of coordination);
* **CPU seconds per stored item**: the daemons' CPU from start-up to the end of the settle
  time, in which every feed's items are stored once, per item stored then.

Printed: polls/s for one and three daemons and their ratio, p50/p95/max of the delay, and
the CPU figures above for each.
The machine's cores bound the ratio: three daemons, PostgreSQL and the feed server share
them. Everything is bounded: daemons are stopped (SIGTERM) and the schema dropped at the end.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
STATIC = ("客服回复很及时，问题解决了", "新款暖风机外观不错，物流也快", "门店排队有点久，但服务态度好")


def feed_xml(index: int, crisis_at: float | None, now: float) -> bytes:
    items = [(f"f{index}-s{j}", STATIC[j], 1_700_000_000.0 + j) for j in range(len(STATIC))]
    if crisis_at is not None and now >= crisis_at:
        items.append((f"f{index}-crisis", f"暖居电暖器在家中起火，邻居报警 #{index}", crisis_at))
    body = "".join(
        f"<item><title>{text[:12]}</title><description>{text}</description>"
        f'<guid isPermaLink="false">{guid}</guid>'
        f"<pubDate>{format_datetime(datetime.fromtimestamp(at, UTC))}</pubDate></item>"
        for guid, text, at in items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0">'
        f"<channel><title>f{index}</title>{body}</channel></rss>"
    ).encode()


def serve(port: Any, counter: Any, crises: dict[int, float]) -> None:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            index = int(self.path.rsplit("/", 1)[1].split(".")[0])
            body = feed_xml(index, crises.get(index), time.time())
            with counter.get_lock():
                counter.value += 1
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    port.value = server.server_address[1]
    server.serve_forever()


def write_rules(folder: Path, crises: Sequence[int]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rules = [
        {
            "id": f"fire-{i}",
            "description": f"起火报道 feed {i}",
            "playbook": "product_quality",
            "sources": [f"f{i}"],
            "match": {"keywords_any": ["起火"]},
            "group_by": ["source"],  # one incident per feed (same playbook, different groups)
            "window": "10m",
            "bucket": "1m",
            "condition": {"threshold": {"metric": "count", "op": ">=", "value": 1}},
            "for": "0s",
            "severity": {"default": "high"},
        }
        for i in crises
    ]
    (folder / "fire.yaml").write_text(json.dumps({"rules": rules}, ensure_ascii=False), encoding="utf-8")


def write_config(folder: Path, db: str, port: int, feeds: int, interval: int) -> Path:
    config = {
        "database": db,
        "rules_dir": str(folder / "rules"),
        "playbooks_dir": str(ROOT / "playbooks"),
        "sources": [
            {
                "type": "rss",
                "name": f"f{i}",
                "url": f"http://127.0.0.1:{port}/feed/{i}.xml",
                "interval": f"{max(interval, 1)}s",
            }
            for i in range(feeds)
        ],
        "scoring": {"workers": 0},
        "notify": {"console": True},
        "evaluate_every": "2s",
        "deliver_every": "1s",
        "incidents": {"check_every": "10s"},
    }
    path = folder / "crisismon.yaml"
    path.write_text(json.dumps(config), encoding="utf-8")
    return path


def fresh_schema(base: str) -> tuple[str, str]:
    import psycopg

    name = f"crisismon_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(base, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {name}")
    return name, f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{name}"


def drop_schema(base: str, name: str) -> None:
    import psycopg

    with psycopg.connect(base, autocommit=True) as admin:
        admin.execute(f"DROP SCHEMA {name} CASCADE")


def alert_times(url: str) -> dict[str, float]:
    import psycopg

    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT i.rule_id, o.sent_at FROM outbox o JOIN incidents i ON o.incident_id = i.id "
            "WHERE o.kind = 'alert' AND o.update_of IS NULL AND o.status = 'sent'"
        ).fetchall()
    return {r[0]: float(r[1]) for r in rows}


TICK = os.sysconf("SC_CLK_TCK")


def cpu_of(pid: int) -> float:
    """User + system CPU seconds of a process (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def machine_busy() -> float:
    """CPU seconds the whole machine spent busy (all cores) since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return (sum(values[:8]) - idle) / TICK


def stored_items(url: str) -> int:
    import psycopg

    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT COUNT(*) FROM items").fetchone()
    return int(row[0]) if row else 0


@dataclass
class Cpu:
    per_poll: float = float("nan")
    machine_per_poll: float = float("nan")
    rest_per_poll: float = float("nan")
    per_item: float = float("nan")
    items: int = 0


def run(daemons: int, args: argparse.Namespace, base: str) -> tuple[float, list[float], Cpu]:
    crisis_feeds = list(range(0, args.feeds, max(args.feeds // args.crises, 1)))[: args.crises]
    settle = args.settle
    start = time.time()
    crises = {
        i: start + settle + 2 + k * (args.measure - 4) / max(len(crisis_feeds), 1) for k, i in enumerate(crisis_feeds)
    }
    counter, port = multiprocessing.Value("q", 0), multiprocessing.Value("i", 0)
    server = multiprocessing.Process(target=serve, args=(port, counter, crises), daemon=True)
    server.start()
    while port.value == 0:
        time.sleep(0.05)
    schema, url = fresh_schema(base)
    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory(prefix="crisismon-scale-") as tmp:
        folder = Path(tmp)
        write_rules(folder / "rules", crisis_feeds)
        config = write_config(folder, url, port.value, args.feeds, args.interval)
        subprocess.run(
            [sys.executable, str(ROOT / "daemon.py"), "db", "upgrade", "--db", url], check=True, capture_output=True
        )
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.pop("CRISISMON_DB", None)
        try:
            for n in range(daemons):
                log = (folder / f"daemon{n}.log").open("wb")
                procs.append(
                    subprocess.Popen(
                        [sys.executable, str(ROOT / "daemon.py"), "run", "--config", str(config)],
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        env=env,
                    )
                )
            time.sleep(max(start + settle - time.time(), 0))
            cpu = Cpu(items=stored_items(url))
            settled = sum(cpu_of(p.pid) for p in procs)
            cpu.per_item = settled / cpu.items if cpu.items else float("nan")
            server_before, machine_before = cpu_of(server.pid or 0), machine_busy()
            before, t0 = counter.value, time.monotonic()
            time.sleep(args.measure)
            done = counter.value - before
            polls = done / (time.monotonic() - t0)
            used = sum(cpu_of(p.pid) for p in procs) - settled
            machine = machine_busy() - machine_before
            served = cpu_of(server.pid or 0) - server_before
            if done:
                cpu.per_poll, cpu.machine_per_poll = used / done, machine / done
                cpu.rest_per_poll = (machine - used - served) / done
            deadline = time.time() + args.drain
            sent: dict[str, float] = {}
            while time.time() < deadline and len(sent) < len(crisis_feeds):
                time.sleep(1)
                sent = alert_times(url)
            if polls == 0:
                print((folder / "daemon0.log").read_text(errors="replace")[-2000:], file=sys.stderr)
        finally:
            for p in procs:
                p.send_signal(signal.SIGTERM)
            for p in procs:
                try:
                    p.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    p.kill()
            server.terminate()
            drop_schema(base, schema)
    delays = [sent[f"fire-{i}"] - crises[i] for i in crisis_feeds if f"fire-{i}" in sent]
    missing = len(crisis_feeds) - len(delays)
    if missing:
        print(f"  ({missing} of {len(crisis_feeds)} alerts not sent within the drain time)")
    return polls, delays, cpu


def pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)] if ordered else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", default=os.environ.get("CRISISMON_TEST_POSTGRES_URL"), help="PostgreSQL URL")
    parser.add_argument("--feeds", type=int, default=3000)
    parser.add_argument("--interval", type=int, default=5, help="poll interval of every feed, whole seconds")
    parser.add_argument("--settle", type=float, default=25.0, help="seconds before measuring (start-up, first polls)")
    parser.add_argument("--measure", type=float, default=20.0)
    parser.add_argument("--drain", type=float, default=30.0, help="seconds to wait for the last alerts")
    parser.add_argument("--crises", type=int, default=20)
    args = parser.parse_args()
    if not args.db:
        print("give --db or set CRISISMON_TEST_POSTGRES_URL (a PostgreSQL URL)", file=sys.stderr)
        return 2
    print(
        f"{args.feeds} feeds every {args.interval}s (demand {args.feeds / args.interval:.0f} polls/s), "
        f"{os.cpu_count()} cores"
    )
    results = {}
    for daemons in (1, 3):
        polls, delays, cpu = run(daemons, args, args.db)
        results[daemons] = polls
        print(
            f"{daemons} daemon(s): {polls:7.1f} polls/s; item -> alert delay over {len(delays)} incidents: "
            f"p50 {statistics.median(delays) if delays else float('nan'):.1f}s, p95 {pct(delays, 0.95):.1f}s, "
            f"max {max(delays, default=float('nan')):.1f}s",
            flush=True,
        )
        print(
            f"  CPU per poll: daemons {cpu.per_poll * 1000:.1f} ms, whole machine {cpu.machine_per_poll * 1000:.1f} ms "
            f"(of which PostgreSQL and the rest, without daemons and feed server, "
            f"{cpu.rest_per_poll * 1000:.1f} ms); CPU per stored item (start-up and first polls): "
            f"{cpu.per_item * 1000:.1f} ms over {cpu.items:,} items",
            flush=True,
        )
    ratio = results[3] / results[1] if results[1] else float("nan")
    print(f"ratio three/one: {ratio:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
