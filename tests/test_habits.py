"""House habits enforced by tests rather than by memory (see docs and style.md)."""

from __future__ import annotations

import ast
import os
from collections.abc import Iterator
from pathlib import Path

from monitor.clock import monotonic
from monitor.http.server import POLL_INTERVAL, HttpServer, Reply
from monitor.sentiment import tablecache

from .conftest import ROOT

CLOCK_READS = {
    ("datetime", "now"),
    ("datetime", "utcnow"),
    ("datetime", "today"),
    ("date", "today"),
    ("time", "time"),
    ("time", "time_ns"),
    ("time", "monotonic"),
    ("time", "monotonic_ns"),
    ("time", "perf_counter"),
    ("time", "perf_counter_ns"),
}


def python_files(folder: str) -> Iterator[Path]:
    yield from sorted((ROOT / folder).rglob("*.py"))


def clock_reads(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and (node.value.id, node.attr) in CLOCK_READS
        ):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value.id}.{node.attr}")
        if isinstance(node, ast.ImportFrom) and node.module == "time":
            for alias in node.names:
                if ("time", alias.name) in CLOCK_READS:
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}: from time import {alias.name}")
    return found


def test_only_the_clock_module_reads_the_clock() -> None:
    reads = [r for p in python_files("monitor") if p.name != "clock.py" for r in clock_reads(p)]
    assert reads == [], "read the time from an injected Clock (or monitor.clock.monotonic):\n" + "\n".join(reads)


def asserts(node: ast.AST) -> bool:
    """The function body asserts, or expects an exception or a warning."""
    for child in ast.walk(node):
        if isinstance(child, ast.Assert):
            return True
        if isinstance(child, ast.Attribute) and child.attr in ("raises", "warns", "fail", "approx"):
            return True
        if isinstance(child, ast.Name) and child.id == "pytest_fail":
            return True
    return False


def called_names(node: ast.AST) -> set[str]:
    names = set()
    for child in ast.walk(node):
        if isinstance(child, ast.Call):
            func = child.func
            if isinstance(func, ast.Name):
                names.add(func.id)
            elif isinstance(func, ast.Attribute):
                names.add(func.attr)
    return names


def test_every_test_asserts_something_or_expects_an_exception() -> None:
    """A test that cannot fail proves nothing: each one asserts, expects an exception, or calls
    a helper (in tests/) that does."""
    functions: dict[str, list[ast.FunctionDef]] = {}
    where: dict[int, str] = {}
    for path in python_files("tests"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef):
                functions.setdefault(node.name, []).append(node)
                where[id(node)] = f"{path.relative_to(ROOT)}:{node.lineno}: {node.name}"
    checking = {name for name, defs in functions.items() if any(asserts(d) for d in defs)}
    grew = True
    while grew:  # helpers that call asserting helpers assert too
        more = {
            n for n, defs in functions.items() if n not in checking and any(called_names(d) & checking for d in defs)
        }
        checking |= more
        grew = bool(more)
    idle = [
        where[id(d)]
        for name, defs in functions.items()
        if name.startswith("test_")
        for d in defs
        if not asserts(d) and not called_names(d) & checking
    ]
    assert idle == [], "these tests assert nothing:\n" + "\n".join(idle)


def test_a_test_server_stops_within_a_tenth_of_a_second() -> None:
    server = HttpServer(lambda request: Reply(200, b"ok"), "127.0.0.1", 0).start()
    started = monotonic()
    server.close()
    assert monotonic() - started < 0.1


def quick(value: ast.expr) -> bool:
    if isinstance(value, ast.Name):
        return value.id == "POLL_INTERVAL" and POLL_INTERVAL <= 0.1
    return isinstance(value, ast.Constant) and float(value.value) <= 0.1


def test_servers_use_the_helper_or_poll_for_shutdown_at_least_every_tenth_of_a_second() -> None:
    """monitor.http.server.HttpServer serves the API, the demo, the fake Slack and the tests; only
    the misbehaving feed server of the source tests (it stalls and truncates on purpose) runs a
    raw server, and it too checks for shutdown every 0.05 s."""
    slow = []
    for folder in ("tests", "monitor"):
        for path in python_files(folder):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                    continue
                if node.func.attr == "Thread" and any(
                    isinstance(k.value, ast.Attribute) and k.value.attr == "serve_forever" for k in node.keywords
                ):
                    polls = [k.value for k in node.keywords if k.arg == "kwargs" and isinstance(k.value, ast.Dict)]
                    fast = any(
                        isinstance(key, ast.Constant) and key.value == "poll_interval" and quick(value)
                        for d in polls
                        for key, value in zip(d.keys, d.values, strict=True)
                    )
                    if not fast:
                        slow.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert slow == [], "stop within 0.1 s: use monitor.http.server.HttpServer"


def test_the_sentiment_cache_is_per_test_session() -> None:
    folder = Path(os.environ["CRISISMON_CACHE_DIR"])
    home = Path.home() / ".cache" / "crisismon"
    assert tablecache.cache_dir() == folder != home
    assert folder.name.startswith("crisismon-test-cache")


def test_one_backoff_and_one_retry_after_parser() -> None:
    """Sources, delivery and the database reconnect all use monitor.http.retry's ``exponential`` and
    ``parse_retry_after``: no other module raises 2 to a power or reads a Retry-After itself."""
    found = []
    for path in python_files("monitor"):
        if path.name == "retry.py":
            continue
        text = path.read_text(encoding="utf-8")
        for node in ast.walk(ast.parse(text)):  # a power of 2 by a variable: a hand-made backoff
            power = isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow)
            if power and ast.unparse(node.left) == "2" and not isinstance(node.right, ast.Constant):  # type: ignore[attr-defined]
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: 2 ** {ast.unparse(node.right)}")  # type: ignore[attr-defined]
        for number, line in enumerate(text.splitlines(), 1):
            if "retry-after" in line.lower() and ".get(" in line and "parse_retry_after(" not in line:
                found.append(f"{path.relative_to(ROOT)}:{number}: reads Retry-After")
    assert found == [], "use monitor.http.retry:\n" + "\n".join(found)
