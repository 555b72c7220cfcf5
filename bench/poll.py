"""Benchmark: one process polls N feeds served by a local server (default 1,000).

    .venv/bin/python bench/poll.py [--feeds 1000] [--items 20] [--workers 32]

The server runs in a child process (so its CPU and memory are not counted as the
poller's), serves N distinct RSS feeds of ``--items`` Chinese items each, with ETags.
Printed: wall time per cycle of the concurrent poller (``poll_many`` over ``FeedSource``s
sharing one ``HttpFetcher``) for a cold cycle (every feed 200 + parse), a conditional
cycle (every feed 304) and a second full cycle; then a sequential loop over the same feeds
measured in the same run, the ratio, and the poller's peak RSS. Target: a 1,000-feed
cycle under 10 s on 2 cores, under 300 MB.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.models import FetchResult
from monitor.sources.feeds import FeedSource, poll_many
from monitor.sources.http import ConditionalState, FetchPolicy, HttpFetcher

PHRASES = (
    "某品牌手机在充电时发生起火事件，消费者表示非常担忧",
    "客服电话一直打不通，售后服务让人失望",
    "公司发布声明称将全面调查产品质量问题",
    "多地用户反映电池鼓包，要求召回",
    "新品发布会吸引大量关注，评价总体积极",
)


def render_feed(index: int, items: int) -> bytes:
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>',
        f"<title>新闻源 {index}</title><link>https://news{index}.example/</link>",
    ]
    for i in range(items):
        phrase = PHRASES[(index + i) % len(PHRASES)]
        parts.append(
            f"<item><title>第{index}-{i}条：{phrase[:12]}</title>"
            f"<link>https://news{index}.example/a/{i}</link><guid>n{index}-{i}</guid>"
            f"<pubDate>Mon, 06 May 2024 {i % 24:02d}:{index % 60:02d}:00 +0800</pubDate>"
            f"<description>&lt;p&gt;{phrase}。{phrase}。&lt;/p&gt;"
            f"&lt;p&gt;记者 {index}&lt;/p&gt;</description>"
            "</item>"
        )
    parts.append("</channel></rss>")
    return "".join(parts).encode()


# --------------------------------------------------------------------------- server (child)


def serve(feeds: int, items: int, latency: float) -> None:
    bodies = {f"/feed/{i}": render_feed(i, items) for i in range(feeds)}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # else headers and body wait on delayed ACKs (40 ms)

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            if latency:
                time.sleep(latency)  # a network round trip and a busy origin
            body = bodies.get(self.path)
            if body is None:
                self.send_error(404)
                return
            etag = f'"{hash(self.path) & 0xFFFFFFFF:x}"'
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
            self.send_header("ETag", etag)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 256

    httpd = Server(("127.0.0.1", 0), Handler)
    print(httpd.server_address[1], flush=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    sys.stdin.read()  # until the parent closes our stdin
    httpd.shutdown()


# --------------------------------------------------------------------------- poller (parent)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def workers_peak_rss_mb(pool: Executor | None) -> float:
    """Sum of the parse workers' peak RSS (Linux /proc), 0 without a process pool."""
    processes = getattr(pool, "_processes", None) or {}
    total = 0.0
    for pid in list(processes):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                total += int(line.split()[1]) / 1024
    return total


def check(results: dict[str, FetchResult], expect_items: int | None) -> str:
    errors = sum(1 for r in results.values() if r.errors)
    not_modified = sum(1 for r in results.values() if r.not_modified)
    items = sum(len(r.items) for r in results.values())
    if expect_items is not None and items != expect_items:
        print(f"  warning: expected {expect_items} items, got {items}", file=sys.stderr)
    return f"{items} items, {not_modified} not modified, {errors} with errors"


def timed_cycle(label: str, sources: Sequence[FeedSource], workers: int, expect: int | None) -> float:
    started = time.perf_counter()
    results = poll_many(sources, datetime.now(UTC), max_workers=workers)
    elapsed = time.perf_counter() - started
    print(f"{label:<28} {elapsed:7.2f} s   ({check(results, expect)})", flush=True)
    return elapsed


def timed_sequential(sources: Sequence[FeedSource], total: int, items: int) -> float:
    """Seconds for a plain loop over ``sources``, scaled to ``total`` feeds."""
    started = time.perf_counter()
    now = datetime.now(UTC)
    results = {s.name: s.fetch(now) for s in sources}
    elapsed = time.perf_counter() - started
    label = f"sequential loop, {len(sources)} feeds"
    print(f"{label:<28} {elapsed:7.2f} s   ({check(results, len(sources) * items)})", flush=True)
    scaled = elapsed * total / len(sources)
    if len(sources) < total:
        print(f"{'  scaled to ' + str(total) + ' feeds':<28} {scaled:7.2f} s", flush=True)
    return scaled


def make_sources(client: httpx.Client, base: str, feeds: int, pool: Executor | None = None) -> list[FeedSource]:
    fetcher = HttpFetcher(client, FetchPolicy(connect_timeout=10, read_timeout=10, deadline=30))
    return [FeedSource(f"feed{i}", f"{base}/feed/{i}", fetcher, "rss", parse_pool=pool) for i in range(feeds)]


SERVE = (sys.executable, __file__, "--serve")


def run(args: argparse.Namespace) -> dict[str, float]:
    feeds, items, processes = args.feeds, args.items, args.parse_processes
    server = subprocess.Popen(
        [*SERVE, "--feeds", str(feeds), "--items", str(items), "--latency", str(args.latency)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        base = f"http://127.0.0.1:{int(server.stdout.readline())}"
        if processes <= 0:
            return measure(base, args, None)
        # spawn, not fork: the poller has threads, and its memory is measured on its own
        spawn = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(processes, mp_context=spawn) as pool:
            return measure(base, args, pool)
    finally:
        assert server.stdin is not None
        server.stdin.close()
        server.wait(timeout=10)


def measure(base: str, args: argparse.Namespace, pool: Executor | None) -> dict[str, float]:
    feeds, items, workers = args.feeds, args.items, args.workers
    expect = feeds * items
    parse = f"{args.parse_processes} parse processes" if pool is not None else "parse in threads"
    print(f"{feeds} feeds x {items} items, {workers} fetch threads, {parse}")
    print(f"server {base}, {args.latency * 1000:g} ms latency per response")
    print(f"peak RSS before polling      {peak_rss_mb():7.1f} MB")
    limits = httpx.Limits(max_connections=workers, max_keepalive_connections=workers)
    with httpx.Client(limits=limits) as client:
        sources = make_sources(client, base, feeds, pool)
        cold = timed_cycle("concurrent, cold (200)", sources, workers, expect)
        conditional = timed_cycle("concurrent, all 304", sources, workers, 0)
        sources[0].fetcher.state = ConditionalState()
        full = timed_cycle("concurrent, full again", sources, workers, expect)
        concurrent_peak = peak_rss_mb()
        workers_peak = workers_peak_rss_mb(pool)
        print(f"peak RSS after concurrent    {concurrent_peak:7.1f} MB (poller process)")
        if pool is not None:
            print(f"  + parse workers' peak RSS  {workers_peak:7.1f} MB")
        sample = min(feeds, args.sequential_sample or feeds)
        sequential = timed_sequential(make_sources(client, base, feeds)[:sample], feeds, items)
    best = min(cold, full)
    figures = {
        "cold_s": cold,
        "conditional_s": conditional,
        "full_s": full,
        "sequential_s": sequential,
        "speedup": sequential / best,
        "peak_rss_mb": concurrent_peak,
        "workers_peak_rss_mb": workers_peak,
    }
    print(f"speed-up over sequential     {figures['speedup']:7.2f} x")
    print(json.dumps({k: round(v, 2) for k, v in figures.items()}))
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--items", type=int, default=20)
    parser.add_argument("--workers", type=int, default=32, help="fetch threads (poll_many max_workers)")
    parser.add_argument(
        "--parse-processes", type=int, default=0, help="parse in a process pool of this size (0: in threads)"
    )
    parser.add_argument(
        "--latency", type=float, default=0.0, help="seconds the server waits before each answer (default 0)"
    )
    parser.add_argument(
        "--sequential-sample",
        type=int,
        default=0,
        help="time the sequential loop on this many feeds and scale up (default: all)",
    )
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.feeds, args.items, args.latency)
        return 0
    run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
