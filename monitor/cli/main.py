"""`crisismon` command line. The only place that turns errors into messages and exit codes."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from monitor import __version__
from monitor.errors import ConfigError, InvalidOperation, NotFound
from monitor.store import open_existing
from monitor.store.sql import DatabaseUnavailable

EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2
PATHS_HELP = (
    "rule and playbook files or folders (default: the config's folders, else ./rules and ./playbooks, "
    "else the shipped ones)"
)
Handler = Callable[[argparse.Namespace], int]


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if "--demo" in args:  # `python daemon.py --demo` is the quick start
        args.remove("--demo")
        args.insert(0, "demo")
    parser = build_parser()
    ns = parser.parse_args(args)
    from monitor.runtime.logs import configure

    configure(ns.log_level, ns.log_format)
    if ns.log_level != "debug":  # one line per HTTP request or job run is noise, not news
        for noisy in ("httpx", "apscheduler"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    if not hasattr(ns, "func"):
        parser.print_help()
        return EXIT_INVALID
    try:
        code: int = ns.func(ns)
    except DatabaseUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        print(f"{len(exc.problems)} problem(s) found", file=sys.stderr)
        return EXIT_INVALID
    except (NotFound, InvalidOperation) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except ImportError as exc:  # an optional extra that is not installed
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return EXIT_FAILED
    except Exception as exc:
        if _is_database_error(exc):
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            print(f"error: the database cannot be used: {first}", file=sys.stderr)
            return EXIT_FAILED
        # a bug: one line for the user, the traceback in the debug log
        logging.getLogger("crisismon").debug("unexpected error", exc_info=True)
        print(
            f"error: unexpected {type(exc).__name__}: {' '.join(str(exc).split())[:300]} "
            "(run with --log-level debug for the details, and report it)",
            file=sys.stderr,
        )
        return EXIT_FAILED
    return code


def _is_database_error(exc: BaseException) -> bool:
    """sqlite3's and psycopg's errors (a database that is unreachable, locked, or not ours)."""
    return type(exc).__module__.split(".")[0] in ("sqlite3", "psycopg")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="crisismon", description="Crisis monitoring and alerting daemon.")
    parser.add_argument("--version", action="version", version=f"crisismon {__version__}")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    parser.add_argument(
        "--log-format", default="text", choices=["text", "json"], help="json: one object per line (for log shippers)"
    )
    sub = parser.add_subparsers(metavar="COMMAND")

    run = sub.add_parser("run", help="run the daemon")
    _config_args(run)
    run.add_argument("--once", action="store_true", help="poll every source once, evaluate, deliver, and exit")
    run.set_defaults(func=cmd_run)

    demo = sub.add_parser("demo", help="replay a bundled product-quality crisis against a local server")
    demo.add_argument("--keep-running", action="store_true", help="stay up after the incident opens")
    demo.add_argument("--db", help="database path (default: a temporary file)")
    demo.add_argument("--speed", type=float, default=240.0, help="simulated seconds per real second")
    demo.add_argument("--timeout", type=float, default=60.0, help="give up after this many real seconds")
    demo.add_argument("--console", metavar="HOST:PORT", help="serve the web console there (with --keep-running)")
    demo.add_argument(
        "--wait", type=float, default=60.0, help="seconds to wait for the alert and checklist to reach Slack"
    )
    demo.set_defaults(func=cmd_demo)

    check = sub.add_parser("check", help="validate config, rules and playbooks; exit 2 on any problem")
    check.add_argument("paths", nargs="*", type=Path, help=PATHS_HELP)
    check.add_argument("--config", type=Path, help="config file (default: embedded defaults)")
    check.set_defaults(func=cmd_check)

    schema = sub.add_parser("schema", help="print the JSON Schema of rule and playbook files (for editors)")
    schema.add_argument("kind", choices=["rules", "playbook", "all"], nargs="?", default="all")
    schema.set_defaults(func=cmd_schema)

    test = sub.add_parser("test", help="run rule unit tests (default: the rules folder's tests/)")
    test.add_argument("paths", nargs="*", type=Path, help=PATHS_HELP + "; rule test files too")
    test.add_argument("--config", type=Path, help="config file (default: embedded defaults)")
    test.add_argument("--run", metavar="PATTERN", help="only tests whose name matches this regular expression")
    test.add_argument("--junit", type=Path, metavar="FILE", help="also write JUnit XML here")
    test.set_defaults(func=cmd_test)

    backtest = sub.add_parser("backtest", help="replay history through the current rules")
    backtest.add_argument("paths", nargs="*", type=Path, help=PATHS_HELP)
    backtest.add_argument("--config", type=Path, help="config file (default: embedded defaults)")
    backtest.add_argument("--db", help="replay the items stored in this database (default: the config's)")
    backtest.add_argument("--items", type=Path, help="replay items from this JSON Lines file instead")
    backtest.add_argument("--from", dest="start", help="ISO time to start at (default: the first item)")
    backtest.add_argument("--to", dest="end", help="ISO time to stop at (default: the last item plus the rules' for:)")
    backtest.add_argument("--step", default="5m", help="evaluation step (default 5m)")
    backtest.add_argument("--rule", action="append", help="only this rule (repeatable)")
    backtest.add_argument("--out", type=Path, help="write a PNG chart per rule and results.json here")
    backtest.set_defaults(func=cmd_backtest)

    incidents = sub.add_parser("incidents", help="list incidents")
    _db_args(incidents)
    incidents.add_argument("--json", action="store_true")
    incidents.add_argument("--active", action="store_true", help="only open, acknowledged or stable ones")
    incidents.set_defaults(func=cmd_incidents)

    incident = sub.add_parser("incident", help="one incident")
    isub = incident.add_subparsers(metavar="ACTION")
    show = isub.add_parser("show", help="show an incident with its checklist and timeline")
    show.add_argument("id", type=int)
    _db_args(show)
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=cmd_incident_show)

    _incident_ops(isub)

    sources = sub.add_parser("sources", help="the health of every source")
    _db_args(sources)
    sources.add_argument("--json", action="store_true")
    sources.set_defaults(func=cmd_sources)

    passwd = sub.add_parser("passwd", help="print the password hash of a console login (for http.auth.users)")
    passwd.set_defaults(func=cmd_passwd)

    _register_optional(sub)
    return parser


def _incident_ops(isub: Any) -> None:
    def op(name: str, help_: str, func: Handler) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = isub.add_parser(name, help=help_)
        p.add_argument("id", type=int)
        _db_args(p)
        p.add_argument("--by", default=os.environ.get("USER") or "cli", help="who does it (default: $USER)")
        p.set_defaults(func=func, func_name=name)
        return p

    op("ack", "acknowledge: someone is on it", cmd_incident_op)
    op("stable", "mark stable: the situation is under control", cmd_incident_op)
    op("resolve", "resolve: the crisis is over", cmd_incident_op)
    op("close", "close a resolved incident (after its review)", cmd_incident_op).add_argument(
        "--force", action="store_true", help="close even if never acknowledged or resolved"
    )
    for name, help_ in (("tick", "tick a checklist item"), ("untick", "untick a checklist item")):
        op(name, help_, cmd_incident_op).add_argument("item", help="the checklist item id")
    op("note", "add a note to the timeline and the thread", cmd_incident_op).add_argument("text")
    review = op("review", "write the post-incident review (Markdown)", cmd_incident_review)
    review.add_argument("--json", action="store_true")
    review.add_argument("--out", type=Path, help="write to this file (and a chart PNG beside it)")


def _register_optional(sub: Any) -> None:
    from monitor.cli.db import register as register_db
    from monitor.cli.fetch import register as register_fetch
    from monitor.cli.sentiment import register as register_sentiment
    from monitor.cli.silence import register as register_silence

    register_silence(sub)
    register_fetch(sub)
    register_sentiment(sub)
    register_db(sub)


def _config_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=Path, help="config file (default: embedded defaults)")
    p.add_argument("--db", help="database path or URL (overrides the config and CRISISMON_DB)")


def _db_args(p: argparse.ArgumentParser) -> None:
    _config_args(p)


# -- commands --------------------------------------------------------------------------


def _definitions(ns: argparse.Namespace, *, with_tests: bool = False) -> tuple[Any, Any, Any]:
    """(config, definitions, selection) for check, test and backtest; the first line says what is read."""
    from monitor.config.selection import definitions_for
    from monitor.config.settings import load_config

    config = load_config(ns.config)
    definitions, chosen = definitions_for(
        ns.paths,
        config,
        config_given=ns.config is not None,
        announce=lambda c: print(c.header(with_tests=with_tests), flush=True),
    )
    return config, definitions, chosen


def cmd_check(ns: argparse.Namespace) -> int:
    from monitor.detect.ruletest import load_test_file
    from monitor.text.checks import rule_warnings

    config, definitions, chosen = _definitions(ns, with_tests=True)
    problems = []
    for path in chosen.tests:
        try:
            load_test_file(path)
        except ConfigError as exc:
            problems.extend(exc.problems)
    if problems:
        raise ConfigError(problems)
    rules = definitions.rules.rules
    for warning in rule_warnings(definitions.rules.entries):
        print(f"warning: {warning}", file=sys.stderr)
    print(
        f"ok: {len(rules)} rule(s), {len(definitions.playbooks)} playbook(s), {len(chosen.tests)} rule test file(s), "
        f"{len(config.sources)} source(s)"
    )
    return EXIT_OK


def cmd_passwd(ns: argparse.Namespace) -> int:
    """Read a password (twice on a terminal; one line from a pipe) and print its scrypt hash."""
    import getpass

    from monitor.web.auth import hash_password

    if sys.stdin.isatty():
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            print("error: the two passwords differ", file=sys.stderr)
            return EXIT_INVALID
    else:
        password = sys.stdin.readline().rstrip("\n")
    if len(password) < 8:
        print("error: use a password of at least 8 characters", file=sys.stderr)
        return EXIT_INVALID
    print(hash_password(password))
    return EXIT_OK


def cmd_schema(ns: argparse.Namespace) -> int:
    from monitor.config.playbooks import Playbook
    from monitor.config.rules import RuleFile

    schemas = {
        "rules": RuleFile.model_json_schema(by_alias=True),
        "playbook": Playbook.model_json_schema(by_alias=True),
    }
    chosen = schemas if ns.kind == "all" else schemas[ns.kind]
    print(json.dumps(chosen, ensure_ascii=False, indent=2))
    return EXIT_OK


def cmd_test(ns: argparse.Namespace) -> int:
    import re

    from monitor.app import build_scorer, negative_cut
    from monitor.clock import monotonic
    from monitor.detect.ruletest import LazyScorer, RuleTester, junit_xml, load_test_file
    from monitor.errors import ConfigError as Invalid

    config, definitions, chosen = _definitions(ns, with_tests=True)
    logging.getLogger("monitor.incidents.service").setLevel(logging.ERROR)  # the tests' own incidents are not news
    tester = RuleTester(
        definitions,
        LazyScorer(
            lambda: build_scorer(
                config.model_copy(update={"scoring": config.scoring.model_copy(update={"workers": 0})})
            )
        ),
        negative_cut(config),
    )
    files = chosen.tests
    if not files:
        where = ", ".join(f"{f}/tests" for f in chosen.rules_from)
        print(f"no rule test files: name some, or put them in {where}", file=sys.stderr)
        return EXIT_INVALID
    outcomes = []
    problems = []
    for path in files:
        try:
            parsed = load_test_file(path)
        except Invalid as exc:
            problems.extend(exc.problems)
            continue
        for test in parsed.tests:
            if ns.run and not re.search(ns.run, test.name):
                continue
            started = monotonic()
            outcome = tester.run(str(path), test)
            outcome.seconds = monotonic() - started
            outcomes.append(outcome)
            print(f"{'PASS' if outcome.passed else 'FAIL'} {path.name}: {test.name}")
            for failure in outcome.failures:
                print("  " + failure.replace("\n", "\n  "))
    if problems:
        raise Invalid(problems)
    if ns.junit:
        ns.junit.write_text(junit_xml(outcomes), encoding="utf-8")
    failed = sum(1 for o in outcomes if not o.passed)
    print(f"rules: {len(outcomes) - failed} passed, {failed} failed")
    return EXIT_FAILED if failed else EXIT_OK


def cmd_backtest(ns: argparse.Namespace) -> int:
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from monitor.app import build_scorer, negative_cut
    from monitor.config.catalogue import load_catalogue
    from monitor.config.durations import parse_duration
    from monitor.config.settings import database_url
    from monitor.detect import backtest
    from monitor.models import ScoredItem
    from monitor.runtime.ingest import Ingestor
    from monitor.runtime.metrics import Metrics
    from monitor.store import open_store
    from monitor.text.classify import KeywordClassifier

    def when(text: str | None) -> datetime | None:
        if text is None:
            return None
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise InvalidOperation(f"--from/--to: found {text!r}, expected an ISO time like 2026-11-01T00:00") from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)

    config, definitions, _ = _definitions(ns)
    rules = [r for r in definitions.rules.rules if not ns.rule or r.id in ns.rule]
    if not rules:
        raise InvalidOperation(f"no rule matches {ns.rule}; `crisismon check` lists the rules")
    try:
        step_every = parse_duration(ns.step)
    except ValueError as exc:
        raise InvalidOperation(f"--step: found {ns.step!r}, expected {exc}") from None
    scored: list[ScoredItem]
    if ns.items:
        loaded, problems = backtest.load_items_jsonl(ns.items)
        for problem in problems:
            print(problem, file=sys.stderr)
        scorer = build_scorer(config.model_copy(update={"scoring": config.scoring.model_copy(update={"workers": 0})}))
        memory = open_store(":memory:")
        ingestor = Ingestor(
            memory,
            scorer,
            KeywordClassifier.default(),
            Metrics(),
            catalogue=load_catalogue(Path(config.products) if config.products else None),
            negative_cut=negative_cut(config),
        )
        scored = backtest.ingest_items(loaded, ingestor)
        memory.close()
    else:
        store = open_existing(database_url(config, ns.db))
        scored = store.items_between(None, datetime(1970, 1, 2, tzinfo=UTC), datetime(9999, 1, 1, tzinfo=UTC))
        store.close()
    if not scored:
        print("no items to replay", file=sys.stderr)
        return EXIT_INVALID
    times = sorted(s.item.published_at for s in scored)
    settle = max(r.for_ for r in rules) + step_every  # so that a rule pending at the end can still fire
    start, end = when(ns.start) or times[0], when(ns.end) or times[-1] + settle

    def progress(done: float) -> None:
        bar = "#" * int(done * 30)
        print(f"\rreplaying [{bar:<30}] {done:4.0%}", end="", file=sys.stderr, flush=True)

    results = backtest.replay(
        rules, scored, start, end, step_every=step_every, default_cut=negative_cut(config), progress=progress
    )
    print(file=sys.stderr)
    print(f"replayed {len(scored)} item(s) from {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC")
    print("\n".join(backtest.report_lines(results)))
    if ns.out:
        _write_backtest(ns.out, results, end, ZoneInfo(config.timezone))
    return EXIT_OK


def _write_backtest(out: Path, results: Any, end: Any, zone: Any) -> None:
    from monitor.detect import backtest
    from monitor.notify.charts import ChartSeries, ChartsUnavailable, render_png

    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(backtest.as_json(results), ensure_ascii=False, indent=2), "utf-8")
    for r in results:
        series = ChartSeries(
            title=f"{r.rule.id} {r.chart_group}".strip(),
            timestamps=r.times,
            values=r.values,
            baseline=r.baseline if any(b == b for b in r.baseline) else None,
            threshold=r.threshold,
            spans=backtest.spans(r, end),
            metric=r.metric,
        )
        try:
            (out / f"{r.rule.id}.png").write_bytes(render_png(series, zone=zone))
        except ChartsUnavailable as exc:
            print(f"no charts: {exc}", file=sys.stderr)
            break
    print(f"wrote {out}")


def cmd_run(ns: argparse.Namespace) -> int:
    from monitor.app import build_api, build_engine
    from monitor.clock import SystemClock
    from monitor.config.loading import load_all
    from monitor.config.reload import RELOAD_CHECK, Reloader
    from monitor.config.settings import database_url
    from monitor.runtime.health import HEALTH_CHECK
    from monitor.runtime.scheduler import Running, build_scheduler, run_until_stopped
    from monitor.store import is_postgres_url, open_store
    from monitor.store.prune import PRUNE_EVERY, daemon_pruner

    config, definitions = load_all(ns.config)
    url = database_url(config, ns.db)
    store = open_store(url)
    # PostgreSQL: polls and the intake store on a connection of their own (see build_engine)
    intake = open_store(url, upgrade=False) if is_postgres_url(url) else None
    clock = SystemClock()
    wiring = build_engine(config, definitions, store, clock, intake_store=intake)
    engine = wiring.engine
    clean = True
    try:
        server = build_api(config, wiring, store, clock, os.environ)
        if ns.once:
            engine.cycle()
            return EXIT_OK
        live = _live_daemon(wiring, server, os.environ)
        reloader = Reloader(engine, config, store, wiring.renderers, clock, config_path=ns.config, live=live)
        pruner = daemon_pruner(engine, config, store, clock)
        running = Running()
        scheduler = build_scheduler(
            engine,
            poll_intervals={s.name: s.interval for s in config.sources},
            evaluate_every=config.evaluate_every,
            deliver_every=config.deliver_every,
            sla_every=config.incidents.check_every,
            extra_jobs={
                "reload": (reloader.check_files, RELOAD_CHECK),
                "prune": (pruner.run, PRUNE_EVERY),
                **({"source_health": (wiring.health.check_now, HEALTH_CHECK)} if wiring.health else {}),
            },
            running=running,
        )
        live.scheduler, live.running = scheduler, running
        if server is not None and server.api.readiness is not None:
            server.api.readiness.scheduler_running = lambda: bool(scheduler.running)
        log = logging.getLogger("crisismon")
        log.info("running: %d source(s), %d rule(s)", len(config.sources), len(definitions.rules.rules))
        stopped = run_until_stopped(
            scheduler,
            threading.Event(),
            first_poll=engine.cycle,
            on_hangup=reloader.reload,
            on_stop=wiring.abort,
            give_up=store.outage_check(config.database_outage_limit.total_seconds()),
            running=running,
        )
        code = EXIT_FAILED if stopped.failure else EXIT_OK
        if not stopped.clean:  # a job stuck on a peer must not keep the process alive
            clean = False
            log.error("still running after the stop: %s; exiting without them", ", ".join(stopped.still_running))
            logging.shutdown()
            sys.stderr.flush()
            os._exit(code)
        if stopped.failure:
            print(f"error: {stopped.failure}", file=sys.stderr)
        return code
    finally:
        if clean:
            wiring.close()
            store.close()
            if intake is not None:
                intake.close()


def _live_daemon(wiring: Any, server: Any, env: Any) -> Any:
    """What a reload changes in the running daemon (new sources get clients from the daemon's
    outbound pool: total deadline and address policy, aborted on stop)."""
    from monitor.app import build_sources
    from monitor.runtime.live import LiveDaemon

    return LiveDaemon(
        engine=wiring.engine,
        build_sources=lambda configs: build_sources(configs, outbound=wiring.outbound),
        health=wiring.health,
        renderers=[wiring.renderers],
        console=server.api.console if server is not None else None,
        env=env,
    )


def cmd_demo(ns: argparse.Namespace) -> int:
    from monitor.demo.runner import run_demo

    return run_demo(
        keep_running=ns.keep_running, db=ns.db, speed=ns.speed, timeout=ns.timeout, console=ns.console, wait=ns.wait
    )


def _store(ns: argparse.Namespace) -> Any:
    from monitor.config.settings import database_url, load_config

    return open_existing(database_url(load_config(ns.config), ns.db))


def _lang(ns: argparse.Namespace) -> Any:
    """The configured locale and time zone (monitor.notify.i18n.Lang) for what the CLI prints."""
    from monitor.config.settings import load_config

    return load_config(ns.config).lang()


def cmd_incidents(ns: argparse.Namespace) -> int:
    store = _store(ns)
    lang = _lang(ns)
    incidents = store.incidents(active_only=ns.active)
    if ns.json:
        for inc in incidents:
            print(json.dumps(_incident_json(inc), ensure_ascii=False))
        return EXIT_OK
    if not incidents:
        print("no incidents")
    for inc in incidents:
        done = sum(1 for e in inc.checklist if e.done_at)
        print(
            f"#{inc.id:<4} {lang.word(inc.status.value):<12} {inc.severity:<8} {lang.time(inc.opened_at)} "
            f"{done}/{len(inc.checklist)} done  {inc.title}"
        )
    return EXIT_OK


def cmd_incident_show(ns: argparse.Namespace) -> int:
    from monitor.clock import SystemClock
    from monitor.notify.text import render_alert, render_checklist

    store = _store(ns)
    incident = store.incident(ns.id)
    if ns.json:
        data = _incident_json(incident)
        data["timeline"] = [{**asdict(t), "at": t.at.isoformat()} for t in store.timeline(incident.id)]
        print(json.dumps(data, ensure_ascii=False, indent=2, default=str))
        return EXIT_OK
    now, lang = SystemClock().now(), _lang(ns)
    title = incident.playbook
    print(render_alert(incident, rule_description=incident.title, playbook_title=title, now=now, lang=lang)["text"])
    print(render_checklist(incident, playbook_title=title, now=now, lang=lang)["text"])
    print("--- timeline ---")
    for entry in store.timeline(incident.id):
        print(
            f"{lang.time(entry.at)} {entry.actor:<12} {entry.kind:<16} {json.dumps(entry.detail, ensure_ascii=False)}"
        )
    return EXIT_OK


def cmd_incident_op(ns: argparse.Namespace) -> int:
    from monitor.app import all_renderers
    from monitor.clock import SystemClock
    from monitor.config.playbooks import load_playbooks
    from monitor.config.roster import load_roster
    from monitor.config.settings import database_url, load_config
    from monitor.incidents.ops import IncidentOps

    config = load_config(ns.config)
    playbooks, _ = load_playbooks(Path(config.playbooks_dir))
    roster = load_roster(Path(config.roster) if config.roster else None)
    store = open_existing(database_url(config, ns.db))
    ops = IncidentOps(store, all_renderers(roster, config.lang()), playbooks, lang=config.lang())
    now = SystemClock().now()
    action: str = ns.func_name
    try:
        if action == "ack":
            incident = ops.acknowledge(ns.id, ns.by, now)
        elif action == "stable":
            incident = ops.mark_stable(ns.id, ns.by, now)
        elif action == "resolve":
            incident = ops.resolve(ns.id, ns.by, now)
        elif action == "close":
            incident = ops.close(ns.id, ns.by, now, force=ns.force)
        elif action in ("tick", "untick"):
            incident = ops.tick(ns.id, ns.item, ns.by, now, done=action == "tick")
        else:
            incident = ops.note(ns.id, ns.text, ns.by, now)
    finally:
        store.close()
    done = sum(1 for e in incident.checklist if e.done_at)
    print(f"incident #{incident.id}: {incident.status.value}, {done}/{len(incident.checklist)} items done")
    return EXIT_OK


def cmd_incident_review(ns: argparse.Namespace) -> int:
    from monitor.incidents.review import review_data, review_markdown

    store = _store(ns)
    incident = store.incident(ns.id)
    timeline = store.timeline(incident.id)
    chart = _review_chart(ns, store, incident) if ns.out and not ns.json else None
    if ns.json:
        text = json.dumps(review_data(incident, timeline), ensure_ascii=False, indent=2)
    else:
        text = review_markdown(incident, timeline, chart)
    if ns.out:
        ns.out.write_text(text + "\n", encoding="utf-8")
        print(f"wrote {ns.out}")
    else:
        print(text)
    return EXIT_OK


def _review_chart(ns: argparse.Namespace, store: Any, incident: Any) -> str | None:
    """Write the metric chart beside the review; its file name, or None when it cannot be drawn."""
    from monitor.app import negative_cut
    from monitor.clock import SystemClock
    from monitor.config.loading import load_all
    from monitor.incidents.review import metric_chart
    from monitor.notify.charts import ChartsUnavailable

    config, definitions = load_all(ns.config)
    rule = definitions.rules.by_id(incident.rule_id)
    if rule is None:
        print(f"no chart: rule {incident.rule_id} is no longer defined", file=sys.stderr)
        return None
    try:
        png = metric_chart(store, rule, incident, negative_cut(config), SystemClock().now(), config.timezone)
    except ChartsUnavailable as exc:
        print(f"no chart: {exc}", file=sys.stderr)
        return None
    path: Path = ns.out.with_suffix(".png")
    path.write_bytes(png)
    return path.name


def _incident_json(incident: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(json.dumps(asdict(incident), default=str))
    return data


def cmd_sources(ns: argparse.Namespace) -> int:
    from monitor.clock import SystemClock
    from monitor.config.settings import database_url, load_config
    from monitor.runtime.health import source_lines

    config = load_config(ns.config)
    store = open_existing(database_url(config, ns.db))
    try:
        configured = {s.name: (s.type, s.expected_silence) for s in config.sources}
        lines = source_lines(store, configured, SystemClock().now())
    finally:
        store.close()
    if ns.json:
        for line in lines:
            print(json.dumps(line.to_json(), ensure_ascii=False))
        return EXIT_OK
    if not lines:
        print("no sources: none configured and none polled yet")
        return EXIT_OK
    print(_SOURCES_ROW.format(*_SOURCES_HEADER).rstrip())
    for line in lines:
        print(_SOURCES_ROW.format(*_source_cells(line)).rstrip())
    return EXIT_OK


_SOURCES_HEADER = ("NAME", "TYPE", "STATE", "LAST SUCCESS", "FAILS", "ITEMS/24H", "BACKOFF UNTIL", "LAST ERROR")
_SOURCES_ROW = "{:<20} {:<14} {:<8} {:<16} {:>5} {:>9}  {:<16} {}"


def _source_cells(line: Any) -> tuple[str, ...]:
    status, h = line.status, line.status.health

    def when(moment: Any) -> str:
        return f"{moment:%Y-%m-%d %H:%M}" if moment else "-"

    error = f"{when(h.last_error_at)} {h.last_error}" if h and h.last_error else "-"
    if status.state == "silent":  # nothing failed: say what is missing instead
        error = status.reason
    return (
        status.name,
        line.type,
        status.state,
        when(h.last_success) if h and h.last_success else "never",
        str(h.consecutive_failures if h else 0),
        str(line.items_24h),
        when(status.backoff_until),
        error,
    )


if __name__ == "__main__":
    sys.exit(main())
