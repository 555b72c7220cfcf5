"""Move monitor's modules into packages that show the architecture, and rewrite every reference.

    python tools/relayout.py            # move (git mv), rewrite, check
    python tools/relayout.py --check    # only say what is left to do; exit 1 if anything is

Idempotent: run it again at any time (after a merge, say). It

1. refuses to start (exit 2, listing them) when ``monitor/`` holds a top-level module that
   neither ``MOVES`` nor ``KEEP`` names: decide where it belongs, add it, run again;
2. ``git mv``-s each module of ``MOVES`` that still sits at its old path (a module that is
   not there, already moved or never written, is skipped silently) and gives each new
   package an ``__init__.py``;
3. rewrites the references in every text file of the checkout, including files it has never
   seen: ``import`` and ``from ... import`` statements (``from monitor import config`` too),
   dotted names in strings, docs and entry points (``monitor.notify.slack.X``,
   ``monitor.cli:main``), and file paths (``monitor/notify/fakeslack.py``). A name already in
   the new layout is left alone, so a second run changes nothing.
"""

from __future__ import annotations

import argparse
import ast
import re
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "monitor"

# old module -> new module. Paths are dotted; "bench.x" leaves the package for bench/.
MOVES: dict[str, str] = {
    # config/: what an admin edits, its loading, validation and reload
    "monitor.config": "monitor.config.settings",
    "monitor.catalogue": "monitor.config.catalogue",
    "monitor.current": "monitor.config.current",
    "monitor.durations": "monitor.config.durations",
    "monitor.loading": "monitor.config.loading",
    "monitor.paths": "monitor.config.paths",
    "monitor.playbooks": "monitor.config.playbooks",
    "monitor.reload": "monitor.config.reload",
    "monitor.roster": "monitor.config.roster",
    "monitor.roles": "monitor.config.roles",
    "monitor.rules": "monitor.config.rules",
    "monitor.selection": "monitor.config.selection",
    "monitor.validation": "monitor.config.validation",
    "monitor.yamlload": "monitor.config.yamlload",
    # detect/: from items to signals (the pure detectors are already there)
    "monitor.backtest": "monitor.detect.backtest",
    "monitor.evaluator": "monitor.detect.evaluator",
    "monitor.evidence": "monitor.detect.evidence",
    "monitor.hits": "monitor.detect.hits",
    "monitor.ruletest": "monitor.detect.ruletest",
    "monitor.severity": "monitor.detect.severity",
    # text/: reading texts
    "monitor.classify": "monitor.text.classify",
    # incidents/: from signals to incidents, and what people do to them
    "monitor.incident_core": "monitor.incidents.core",
    "monitor.incidents": "monitor.incidents.service",
    "monitor.announce": "monitor.incidents.announce",
    "monitor.ops": "monitor.incidents.ops",
    "monitor.sla": "monitor.incidents.sla",
    "monitor.review": "monitor.incidents.review",
    "monitor.escalation": "monitor.incidents.escalation",
    "monitor.silences": "monitor.incidents.silences",
    "monitor.kit": "monitor.incidents.kit",
    "monitor.statements": "monitor.incidents.statements",
    # runtime/: the daemon's moving parts
    "monitor.engine": "monitor.runtime.engine",
    "monitor.scheduler": "monitor.runtime.scheduler",
    "monitor.leases": "monitor.runtime.leases",
    "monitor.health": "monitor.runtime.health",
    "monitor.ingest": "monitor.runtime.ingest",
    "monitor.outbox": "monitor.runtime.outbox",
    "monitor.metrics": "monitor.runtime.metrics",
    "monitor.live": "monitor.runtime.live",
    "monitor.logs": "monitor.runtime.logs",
    "monitor.readiness": "monitor.runtime.readiness",
    "monitor.overrun": "monitor.runtime.overrun",
    # http/: the server helper, the API, retry arithmetic
    "monitor.httpserver": "monitor.http.server",
    "monitor.api": "monitor.http.api",
    "monitor.silence_api": "monitor.http.silences",
    "monitor.retry": "monitor.http.retry",
    # slack/: everything Slack, out and in
    "monitor.notify.slack": "monitor.slack.client",
    "monitor.notify.blocks": "monitor.slack.blocks",
    "monitor.notify.interactions": "monitor.slack.interactions",
    "monitor.notify.signature": "monitor.slack.signature",
    "monitor.notify.socket_mode": "monitor.slack.socket_mode",
    "monitor.notify.modals": "monitor.slack.modals",
    "monitor.slackapp": "monitor.slack.app",
    # notify/: rendering and the other destinations (render, text, console, routing, webhook, i18n stay)
    "monitor.charts": "monitor.notify.charts",
    "monitor.fonts": "monitor.notify.fonts",
    # cli/: the only code that prints and picks exit codes
    "monitor.cli": "monitor.cli.main",
    "monitor.sources.fetch_cli": "monitor.cli.fetch",
    "monitor.sentiment.cli": "monitor.cli.sentiment",
    "monitor.store.db_cli": "monitor.cli.db",
    "monitor.silence_cli": "monitor.cli.silence",
    # testing/: the fakes we ship
    "monitor.testing": "monitor.testing",  # testing.py becomes testing/__init__.py (same import path)
    "monitor.notify.fakeslack": "monitor.testing.fakeslack",
    # only the benchmarks use the NAB scorer
    "monitor.nab": "bench.nab_score",
}

# Top-level modules that stay where they are: the composition root and what every layer shares.
KEEP = {"__init__", "__main__", "app", "clock", "errors", "models", "protocols"}

PACKAGE_DOCS = {
    "config": "What an admin edits: settings, rules, playbooks, roster; loading, validation, reload, "
    "and the one view of the current definitions.",
    "runtime": "The running daemon: engine, scheduler, leases, source health, ingest, outbox, metrics, logs.",
    "incidents": "From signals to incidents: the pure core (decisions, lifecycle), the service that applies "
    "them, what people do (ops), SLA timers, reviews, and the one announcer.",
    "http": "The one HTTP server helper, the HTTP API, and the retry arithmetic shared by sources and delivery.",
    "slack": "Slack: the Web API client, Block Kit, signed inbound requests, interactions, Socket Mode.",
    "cli": "The command line: the only code that prints and picks exit codes.",
}

# the console script of an existing install names monitor.cli:main: keep it working
PACKAGE_CODE = {"cli": '\nfrom monitor.cli.main import main\n\n__all__ = ["main"]\n'}

TEXT_SUFFIXES = {
    ".py",
    ".md",
    ".toml",
    ".yaml",
    ".yml",
    ".cfg",
    ".ini",
    ".txt",
    ".sh",
    ".rst",
    ".service",
    ".j2",
    ".html",
}
SKIP_PARTS = {".git", ".venv", "node_modules", "__pycache__", "build", "dist"}
SELF = Path(__file__).resolve()

CHAIN = re.compile(r"(?<![\w.])monitor(?:\.[A-Za-z_]\w*)+")
PATH = re.compile(r"(?<![\w/.])monitor/[\w/]*\w\.py\b")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if anything is left to do")
    args = parser.parse_args(argv)
    unknown = unknown_modules()
    if unknown:
        print("relayout: these top-level modules are in neither MOVES nor KEEP of tools/relayout.py:", file=sys.stderr)
        for name in unknown:
            print(f"  monitor/{name}.py", file=sys.stderr)
        print("add each to MOVES (where it belongs) or KEEP, then run again; nothing was changed", file=sys.stderr)
        return 2
    pending = [(old, new) for old, new in MOVES.items() if needs_move(old, new)]
    if args.check:
        for old, new in pending:
            print(f"would move {source_path(old).relative_to(ROOT)} -> {target_path(new).relative_to(ROOT)}")
        return 1 if pending else 0
    for old, new in pending:
        move(old, new)
    made = make_packages()
    modules = current_modules()
    changed = [path for path in text_files() if rewrite_file(path, modules)]
    for path in changed:
        print(f"rewrote {path.relative_to(ROOT)}")
    tidy([p for p in changed if p.suffix == ".py"] + made)
    left = unknown_modules() + [m for m in top_level() if m not in KEEP]
    if left:
        print(f"relayout: still at the top of monitor/: {', '.join(left)}", file=sys.stderr)
        return 1
    print(f"relayout: {len(pending)} module(s) moved, {len(changed)} file(s) rewritten")
    return 0


# -- what is where ---------------------------------------------------------------------------


def top_level() -> list[str]:
    return sorted(p.stem for p in PACKAGE.glob("*.py"))


def unknown_modules() -> list[str]:
    known = KEEP | {old.split(".", 1)[1] for old in MOVES if old.count(".") == 1}
    return [name for name in top_level() if name not in known]


def source_path(module: str) -> Path:
    return ROOT.joinpath(*module.split(".")).with_suffix(".py")


def target_path(module: str) -> Path:
    """Where ``module`` lives in the new layout (a module that is also a package: its __init__)."""
    if module == "monitor.testing":
        return PACKAGE / "testing" / "__init__.py"
    return ROOT.joinpath(*module.split(".")).with_suffix(".py")


def needs_move(old: str, new: str) -> bool:
    source = source_path(old)
    return source.is_file() and source != target_path(new) and not target_path(new).exists()


def move(old: str, new: str) -> None:
    source, target = source_path(old), target_path(new)
    target.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "mv", str(source), str(target)], cwd=ROOT, check=True)


def make_packages() -> list[Path]:
    """An ``__init__.py`` with a docstring in each package the moves made; the new files."""
    made = []
    for new in MOVES.values():
        folder = target_path(new).parent
        if not folder.is_relative_to(PACKAGE) or folder == PACKAGE:
            continue
        init = folder / "__init__.py"
        if not init.exists():
            doc = PACKAGE_DOCS.get(folder.name, f"monitor.{folder.name}.")
            text = textwrap.fill(doc, width=96)
            init.write_text(f'"""{text}\n"""\n' + PACKAGE_CODE.get(folder.name, ""), encoding="utf-8")
            subprocess.run(["git", "add", str(init)], cwd=ROOT, check=True)
            made.append(init)
    return made


def current_modules() -> set[str]:
    """Every module and package as it is now (after the moves), dotted."""
    names = set()
    for base in (PACKAGE, ROOT / "bench"):
        for path in base.rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            names.add(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
            if base == PACKAGE:
                names.add(".".join(parts[:-1]))  # its package
    return names


def text_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.splitlines()
    files = []
    for name in sorted(set(listed)):
        path = ROOT / name
        if path.resolve() == SELF or not path.is_file() or SKIP_PARTS & set(path.parts):
            continue
        if path.suffix in TEXT_SUFFIXES or path.name in ("Dockerfile", "Makefile", "daemon.py"):
            files.append(path)
    return files


def tidy(paths: list[Path]) -> None:
    """Sort the rewritten imports and format (ruff, when installed)."""
    ruff = next(
        (str(p) for p in (ROOT / ".venv" / "bin" / "ruff", Path(sys.executable).parent / "ruff") if p.exists()), None
    )
    if ruff is None or not paths:
        return
    names = [str(p) for p in paths]
    subprocess.run([ruff, "check", "--select", "I", "--fix", "--quiet", *names], cwd=ROOT, check=False)
    subprocess.run([ruff, "format", "--quiet", *names], cwd=ROOT, check=False)


# -- rewriting -------------------------------------------------------------------------------

MOVED = {old: new for old, new in MOVES.items() if old != new}


def resolve(chain: str, modules: set[str]) -> str:
    """A dotted name in the new layout: its longest prefix that names a moved module is replaced,
    unless a longer prefix already names a module of the new layout."""
    parts = chain.split(".")
    old_len = next((n for n in range(len(parts), 1, -1) if ".".join(parts[:n]) in MOVED), 0)
    if not old_len:
        return chain
    new_len = next((n for n in range(len(parts), 0, -1) if ".".join(parts[:n]) in modules), 0)
    if new_len > old_len:
        return chain
    return ".".join([MOVED[".".join(parts[:old_len])], *parts[old_len:]])


def resolve_path(text: str) -> str:
    dotted = text.removesuffix(".py").replace("/", ".")
    new = MOVES.get(dotted)
    return text if new is None else target_path(new).relative_to(ROOT).as_posix()


def rewrite_text(text: str, modules: set[str]) -> str:
    text = CHAIN.sub(lambda m: resolve(m.group(0), modules), text)
    return PATH.sub(lambda m: resolve_path(m.group(0)), text)


def rewrite_file(path: Path, modules: set[str]) -> bool:
    try:
        text = path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        return False
    if "monitor" not in text:
        return False
    new = rewrite_python(text, modules) if path.suffix == ".py" else rewrite_text(text, modules)
    if new == text:
        return False
    path.write_text(new, encoding="utf-8")
    return True


def rewrite_python(text: str, modules: set[str]) -> str:
    """Import statements through the AST (exact spans); everything else as text."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return rewrite_text(text, modules)
    lines = text.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))

    def position(lineno: int, col: int) -> int:  # the AST counts columns in UTF-8 bytes
        return starts[lineno - 1] + len(lines[lineno - 1].encode("utf-8")[:col].decode("utf-8"))

    spans = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom) and mentions_monitor(node):
            start = position(node.lineno, node.col_offset)
            end = position(node.end_lineno or node.lineno, node.end_col_offset or 0)
            spans.append((start, end, import_text(node, text[start:end], modules)))
    out, at = [], 0
    for start, end, replacement in sorted(spans):
        out.append(rewrite_text(text[at:start], modules))
        out.append(replacement)
        at = end
    out.append(rewrite_text(text[at:], modules))
    return "".join(out)


def mentions_monitor(node: ast.Import | ast.ImportFrom) -> bool:
    if isinstance(node, ast.Import):
        return any(a.name == "monitor" or a.name.startswith("monitor.") for a in node.names)
    return node.level == 0 and node.module is not None and (node.module + ".").startswith("monitor.")


def import_text(node: ast.Import | ast.ImportFrom, original: str, modules: set[str]) -> str:
    if isinstance(node, ast.Import):
        names = [(resolve(a.name, modules), a.asname) for a in node.names]
        if all(new == a.name for (new, _), a in zip(names, node.names, strict=True)):
            return original
        return "import " + ", ".join(n + (f" as {a}" if a else "") for n, a in names)
    assert node.module is not None
    groups: dict[str, list[str]] = {}
    for alias in node.names:
        full = f"{node.module}.{alias.name}"
        local = alias.asname or alias.name
        if full in MOVED:  # the module itself: from monitor import config -> from monitor.config import settings
            new = MOVED[full]
            parent, leaf = new.rsplit(".", 1)
            groups.setdefault(parent, []).append(leaf if leaf == local else f"{leaf} as {local}")
            continue
        module = node.module if full in modules else resolve(node.module, modules)
        groups.setdefault(module, []).append(alias.name + (f" as {alias.asname}" if alias.asname else ""))
    if list(groups) == [node.module]:
        return original
    indent = "\n" + " " * node.col_offset
    return indent.join(f"from {module} import {', '.join(names)}" for module, names in groups.items())


if __name__ == "__main__":
    sys.exit(main())
