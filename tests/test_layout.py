"""The layout shows the architecture (tools/relayout.py made it): nothing left at the top of
monitor/ but the shared core, every package says what it holds, only the CLI prints and picks
exit codes. (No import cycles: tests/test_imports.py.)"""

from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from .conftest import ROOT

PACKAGE = ROOT / "monitor"
PACKAGES = ("cli", "config", "detect", "http", "incidents", "notify", "runtime", "slack", "testing")
# who else may print: the console destination writes its stream, the demo narrates
PRINTS_ALLOWED = ("monitor/cli/", "monitor/notify/console.py", "monitor/demo/")


def relayout() -> ModuleType:
    spec = importlib.util.spec_from_file_location("relayout", ROOT / "tools" / "relayout.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("relayout", module)
    spec.loader.exec_module(module)
    return module


def test_only_the_shared_core_is_left_at_the_top_of_the_package() -> None:
    tool = relayout()
    assert tool.unknown_modules() == []
    assert [old for old, new in tool.MOVES.items() if tool.needs_move(old, new)] == []
    assert set(tool.top_level()) <= tool.KEEP


def test_every_package_says_what_it_holds() -> None:
    for name in PACKAGES:
        init = PACKAGE / name / "__init__.py"
        assert ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))), f"{init} needs a docstring"


def calls(path: Path, names: set[str]) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            func = node.func
            name = (
                func.id if isinstance(func, ast.Name) else ast.unparse(func) if isinstance(func, ast.Attribute) else ""
            )
            if name in names or (name == "sys.exit" and "exit" in names):
                found.append(f"{path.relative_to(ROOT).as_posix()}:{node.lineno}: {name}")
        if isinstance(node, ast.Raise) and node.exc is not None and "SystemExit" in ast.unparse(node.exc):
            found.append(f"{path.relative_to(ROOT).as_posix()}:{node.lineno}: SystemExit")
    return found


def test_only_the_cli_prints_and_picks_exit_codes() -> None:
    prints, exits = [], []
    for path in sorted(PACKAGE.rglob("*.py")):
        where = path.relative_to(ROOT).as_posix()
        if not where.startswith(PRINTS_ALLOWED):
            prints += calls(path, {"print"})
        if not where.startswith("monitor/cli/"):
            exits += calls(path, {"exit"})  # sys.exit(...) and raise SystemExit (a worker's os._exit is no exit code)
    assert prints == [], "print from monitor/cli/ (library code returns or raises):\n" + "\n".join(prints)
    assert exits == [], "exit codes are the CLI's:\n" + "\n".join(exits)
