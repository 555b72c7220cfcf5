"""``crisismon silence add|list|expire``: silences from the command line (``monitor.incidents.silences``).

``add`` takes matchers (``rule=…``, ``group=~…``, ``source!=…``, ``playbook=…``) and either
``--for 2h`` or ``--until TIME``, optionally ``--from TIME`` (a planned launch, silenced in
advance), ``--comment`` and ``--by`` (default: $USER). ``list`` shows the active silences and
those still to come (``--all``: the ended ones too). ``expire ID`` ends a silence now.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from monitor.incidents import silences

EXIT_OK = 0


def register(subparsers: Any) -> None:
    silence = subparsers.add_parser("silence", help="silence incidents' messages by rule, group, source or playbook")
    actions = silence.add_subparsers(metavar="ACTION", required=True)
    add = actions.add_parser("add", help="create a silence (now or in advance)")
    add.add_argument("matchers", nargs="+", help="label=value, label!=value, label=~regex or label!~regex")
    span = add.add_mutually_exclusive_group(required=True)
    span.add_argument("--for", dest="duration", help="how long, e.g. 2h or 1d")
    span.add_argument("--until", help="ISO end time, e.g. 2026-11-25T18:00+08:00")
    add.add_argument("--from", dest="start", help="ISO start time (default: now)")
    add.add_argument("--comment", required=True, help="why (shown on the incident's timeline)")
    _common(add)
    add.set_defaults(func=cmd_add)
    listing = actions.add_parser("list", help="active silences and those to come")
    listing.add_argument("--all", action="store_true", help="the ended ones too")
    listing.add_argument("--json", action="store_true")
    _common(listing)
    listing.set_defaults(func=cmd_list)
    end = actions.add_parser("expire", help="end a silence now")
    end.add_argument("id", type=int)
    _common(end)
    end.set_defaults(func=cmd_expire)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=Path, help="config file (default: embedded defaults)")
    p.add_argument("--db", help="database path or URL (overrides the config and CRISISMON_DB)")
    p.add_argument("--by", default=os.environ.get("USER") or "cli", help="who does it (default: $USER)")


def _store(ns: argparse.Namespace) -> Any:
    from monitor.config.settings import database_url, load_config
    from monitor.store import open_existing

    return open_existing(database_url(load_config(ns.config), ns.db))


def _now() -> Any:
    from monitor.clock import SystemClock

    return SystemClock().now()


def cmd_add(ns: argparse.Namespace) -> int:
    from monitor.config.durations import parse_duration

    now = _now()
    try:
        duration = parse_duration(ns.duration) if ns.duration else None
    except ValueError as exc:
        raise silences.SilenceError(f"--for {ns.duration!r}: expected {exc}") from None
    store = _store(ns)
    try:
        made = silences.create(
            store,
            silences.parse_matchers(ns.matchers),
            author=ns.by,
            comment=ns.comment,
            now=now,
            starts_at=silences.parse_time(ns.start, now) if ns.start else None,
            ends_at=silences.parse_time(ns.until, now) if ns.until else None,
            duration=duration,
        )
    finally:
        store.close()
    print(silences.describe(made, now))
    return EXIT_OK


def cmd_list(ns: argparse.Namespace) -> int:
    now = _now()
    store = _store(ns)
    try:
        found = silences.list_silences(store, now, include_ended=ns.all)
    finally:
        store.close()
    for silence in found:
        print(
            json.dumps(silences.as_json(silence, now), ensure_ascii=False)
            if ns.json
            else silences.describe(silence, now)
        )
    if not found and not ns.json:
        print("no silences")
    return EXIT_OK


def cmd_expire(ns: argparse.Namespace) -> int:
    now = _now()
    store = _store(ns)
    try:
        ended = silences.expire(store, ns.id, now, by=ns.by)
    finally:
        store.close()
    print(silences.describe(ended, now))
    return EXIT_OK
