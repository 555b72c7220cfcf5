"""``crisismon db upgrade``, ``status`` and ``prune``: the schema and retention of the store.

The database is ``--db``, else ``CRISISMON_DB``, else the config file's ``database``: a
SQLite path or a ``postgresql://`` URL. ``upgrade`` applies the pending migrations in one
transaction (safe to run from several hosts at once, and again: a second run applies
nothing) and prints the version before and after. ``status`` changes nothing. Exit 0 on
success, 1 when the database cannot be opened or upgraded, 2 when it needs an upgrade
(``status``) or for a usage error. ``prune [--dry-run]`` removes (or only counts) what is
older than the retention (``monitor.store.prune``), as the daemon does every hour.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from monitor.config.durations import format_duration
from monitor.config.settings import database_url, load_config
from monitor.errors import ConfigError
from monitor.store import SqlStore, open_store, redact_url
from monitor.store.schema import LATEST
from monitor.store.sql import DatabaseUnavailable

EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2


def register(subparsers: Any) -> None:
    """Add the ``db`` command to a CLI's subparsers (``args.func(args)`` runs it)."""
    db = subparsers.add_parser(
        "db",
        help="database schema and retention: upgrade, status, prune",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = db.add_subparsers(metavar="ACTION", required=True)
    upgrade = actions.add_parser("upgrade", help="apply pending schema migrations; print the versions")
    _add_arguments(upgrade)
    upgrade.set_defaults(func=cmd_upgrade)
    status = actions.add_parser("status", help="print the schema version; exit 2 when an upgrade is pending")
    _add_arguments(status)
    status.set_defaults(func=cmd_status)
    prune = actions.add_parser(
        "prune", help="remove items (and their hits, stories, finished outbox rows) older than the retention"
    )
    _add_arguments(prune)
    prune.add_argument("--dry-run", action="store_true", help="only print what would be removed")
    prune.set_defaults(func=cmd_prune)


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="config file (default: embedded defaults)")
    parser.add_argument("--db", help="database path or URL (overrides the config and CRISISMON_DB)")


def cmd_upgrade(args: argparse.Namespace) -> int:
    opened = _open(args)
    if isinstance(opened, int):
        return opened
    store, shown = opened
    try:
        before = store.schema_version()
        applied = store.upgrade()
        after = store.schema_version()
    except Exception as exc:  # the driver's error: report it, never a traceback
        print(f"error: upgrading {shown} failed: {exc}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        store.close()
    print(f"{shown}: schema version {before} -> {after} ({applied} migration(s) applied)")
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    opened = _open(args)
    if isinstance(opened, int):
        return opened
    store, shown = opened
    try:
        version = store.schema_version()
    finally:
        store.close()
    if version > LATEST:
        newer = f"newer than this crisismon knows ({LATEST})"
        print(f"{shown}: schema version {version} is {newer}: upgrade crisismon")
        return EXIT_INVALID
    if version < LATEST:
        print(f"{shown}: schema version {version}, latest {LATEST}: run `crisismon db upgrade`")
        return EXIT_INVALID
    print(f"{shown}: schema version {version} (up to date)")
    return EXIT_OK


def cmd_prune(args: argparse.Namespace) -> int:
    """Prune now as the daemon does hourly; ``--dry-run`` prints what would go and changes nothing."""
    from monitor.clock import SystemClock
    from monitor.config.loading import load_all
    from monitor.store.prune import cutoff_for, plan, prune, retention_for

    try:
        config, definitions = load_all(args.config)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return EXIT_INVALID
    opened = _open(args)
    if isinstance(opened, int):
        return opened
    store, shown = opened
    rules = definitions.rules.rules
    try:
        if store.schema_version() < LATEST:
            print(f"{shown}: schema version is behind {LATEST}: run `crisismon db upgrade` first", file=sys.stderr)
            return EXIT_INVALID
        retention = retention_for(config.retention, rules)
        cutoff = cutoff_for(store, retention, rules, SystemClock().now())
        done = plan(store, cutoff) if args.dry_run else prune(store, cutoff)
    except DatabaseUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        store.close()
    given = "retention:" if config.retention is not None else "the default retention"
    print(f"{shown}: {done.line(dry_run=args.dry_run)} ({given} {format_duration(retention)})")
    return EXIT_OK


def _open(args: argparse.Namespace) -> tuple[SqlStore, str] | int:
    try:
        url = database_url(load_config(args.config), args.db)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return EXIT_INVALID
    shown = redact_url(url)
    try:
        return open_store(url, upgrade=False), shown
    except (ImportError, DatabaseUnavailable) as exc:  # these name the database and what to do
        print(f"error: {exc}", file=sys.stderr)
    except Exception as exc:  # connection refused, bad credentials, unreadable file...
        print(f"error: cannot open {shown}: {exc}", file=sys.stderr)
    return EXIT_FAILED


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m monitor.cli.db upgrade|status [--db URL] [--config FILE]``."""
    parser = argparse.ArgumentParser(prog="crisismon", description="Crisis monitoring and alerting daemon.")
    register(parser.add_subparsers(metavar="COMMAND", required=True))
    args = parser.parse_args(["db", *(sys.argv[1:] if argv is None else argv)])
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
