"""``crisismon fetch URL [URL...]``: fetch and parse each URL once, print what the daemon sees.

One JSON line per item (``source``, ``id``, ``title``, ``text``, ``link``, ``published``)
and one line with an ``error`` field per problem (a URL that failed, or a feed that was
only partly readable: then ``items`` says how many were kept). Exit 0 when at least one URL
was read, 1 when every URL failed (nothing fetched or parsed), 2 for a usage error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from monitor.clock import SystemClock
from monitor.models import FetchResult
from monitor.sources.feeds import FeedSource, poll_many
from monitor.sources.http import FetchPolicy, HttpFetcher
from monitor.sources.outbound import AddressPolicy, Outbound

DEFAULT_TIMEOUT = 20.0
DEFAULT_MAX_BYTES = 10_000_000
DESCRIPTION = """\
Fetch and parse each feed URL once and print what the daemon sees: one JSON line per item
(source, id, title, text, link, published) and one line with an "error" field per problem
(a URL that failed, or a feed only partly readable: "items" then says how many were kept).
Exit 0 when at least one URL was read, 1 when every URL failed, 2 for a usage error."""
MAX_PARALLEL = 8


def register(subparsers: Any) -> None:
    """Add the ``fetch`` command to a CLI's subparsers (``args.func(args)`` runs it)."""
    parser = subparsers.add_parser(
        "fetch",
        help="fetch and parse feed URLs once; print one JSON line per item",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_arguments(parser)
    parser.set_defaults(func=run)


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("urls", nargs="+", metavar="URL", help="feed URL (http or https)")
    parser.add_argument(
        "--timeout",
        type=_positive_float,
        default=DEFAULT_TIMEOUT,
        help=f"seconds: connect and read timeout, and twice this for the whole fetch (default {DEFAULT_TIMEOUT:g})",
    )
    parser.add_argument(
        "--max-bytes",
        type=_positive_int,
        default=DEFAULT_MAX_BYTES,
        help=f"largest body accepted, after decompression (default {DEFAULT_MAX_BYTES})",
    )


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected more than 0 seconds, got {text!r}")
    return value


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) == 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of bytes, got {text!r}")
    return int(text)


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Handler for ``crisismon fetch``: returns the exit code."""
    stream = out or sys.stdout
    policy = FetchPolicy(
        connect_timeout=args.timeout,
        read_timeout=args.timeout,
        deadline=args.timeout * 2,
        max_bytes=args.max_bytes,
    )
    now = SystemClock().now()
    # run by hand: any address may be fetched, but every request ends at the deadline
    with Outbound().client(AddressPolicy.open(), total=policy.deadline) as client:
        fetcher = HttpFetcher(client, policy)
        sources = [FeedSource(f"#{i}", url, fetcher) for i, url in enumerate(args.urls)]
        results = poll_many(sources, now, max_workers=MAX_PARALLEL)
    try:
        for source in sources:
            for line in result_lines(source.url, results[source.name]):
                _write(stream, line)
    except BrokenPipeError:  # `crisismon fetch URL | head`: the reader has seen enough
        _silence_stdout(stream)
    return 1 if all(failed(results[source.name]) for source in sources) else 0


def failed(result: FetchResult) -> bool:
    """Nothing came of the URL: an error and no item (a 304 is not a failure)."""
    return bool(result.errors) and not result.items and not result.not_modified


def result_lines(url: str, result: FetchResult) -> list[dict[str, Any]]:
    """The JSON objects ``fetch`` prints for one URL."""
    lines: list[dict[str, Any]] = [
        {
            "source": url,
            "id": item.id,
            "title": item.title,
            "text": item.text,
            "link": item.url,
            "published": item.published_at.isoformat(),
        }
        for item in result.items
    ]
    for error in result.errors:
        lines.append({"source": url, "error": error, "items": len(result.items)})
    if result.not_modified:
        lines.append({"source": url, "not_modified": True})
    elif not result.items and not result.errors:
        lines.append({"source": url, "items": 0, "note": "the feed has no entries"})
    return lines


def _write(stream: TextIO, obj: dict[str, Any]) -> None:
    try:
        stream.write(json.dumps(obj, ensure_ascii=False) + "\n")
    except UnicodeEncodeError:  # a terminal that cannot show Chinese still gets the data
        stream.write(json.dumps(obj, ensure_ascii=True) + "\n")
    stream.flush()


def _silence_stdout(stream: TextIO) -> None:
    if stream is sys.stdout:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """``python -m monitor.cli.fetch URL...``: the same as ``crisismon fetch``."""
    parser = argparse.ArgumentParser(
        prog="crisismon fetch",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run(args, out)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
