"""YAML that cannot hurt (issue 13, point 5).

Billion laughs, a recursive alias, 5,000-deep nesting, a NUL byte, a 5,000-digit number, a
duration of 10^29 weeks and an oversized file, dropped into a rule, playbook, roster or
config file: each becomes one ``path:line`` problem within a second, ``crisismon check``
exits 2 with one line per problem, and hot reload refuses the set and keeps the old one.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from monitor.config.loading import load_definitions
from monitor.config.playbooks import load_playbooks
from monitor.config.reload import Reloader
from monitor.config.roster import load_roster
from monitor.config.rules import load_rules
from monitor.config.settings import AppConfig, ScoringConfig, load_config
from monitor.config.yamlload import MAX_BYTES
from monitor.errors import ConfigError
from monitor.notify.render import TextRenderer
from monitor.store import SqlStore
from monitor.testing import FakeClock, FakeSource, RecordingNotifier

from ..conftest import ROOT
from ..test_engine import make_engine

LAUGHS = "".join(
    f"{chr(97 + i)}: &{chr(97 + i)} [" + ",".join([f"*{chr(96 + i)}"] * 9 if i else ['"lol"'] * 9) + "]\n"
    for i in range(9)
)
HOSTILE = {
    "billion-laughs": (LAUGHS, 5, "aliases expanding to more than"),
    "recursive-alias": ("rules: &r\n  - *r\n", 2, "inside its own anchor"),
    "deep-nesting": ("rules: " + "[" * 5000 + "]" * 5000 + "\n", 1, "nesting deeper than 64"),
    "nul-byte": ("rules:\n  - id: a\x00b\n", 2, "NUL byte"),
    "huge-number": ("rules:\n  - id: x\n    max: " + "9" * 5000 + "\n", 3, "4300 digits"),
    "oversized": ("# " + "x" * MAX_BYTES + "\n", 1, f"at most {MAX_BYTES} bytes"),
}


def loaders(tmp_path: Path) -> dict[str, tuple[Path, object]]:
    """Where each kind of admin file lives, and how crisismon loads it (raising or returning problems)."""
    rules, books = tmp_path / "rules", tmp_path / "playbooks"
    rules.mkdir()
    books.mkdir()
    return {
        "rule": (rules / "hostile.yaml", lambda: load_rules(rules, playbooks={}, sources=None, categories=set())),
        "playbook": (books / "hostile.yaml", lambda: load_playbooks(books)),
        "roster": (tmp_path / "roster.yaml", lambda: load_roster(tmp_path / "roster.yaml")),
        "config": (tmp_path / "crisismon.yaml", lambda: load_config(tmp_path / "crisismon.yaml")),
    }


def problems_of(load: object) -> list[str]:
    try:
        result = load()  # type: ignore[operator]
    except ConfigError as exc:
        return [str(p) for p in exc.problems]
    if isinstance(result, tuple):
        return [str(p) for p in result[1]]
    return []


@pytest.mark.parametrize("kind", ["rule", "playbook", "roster", "config"])
@pytest.mark.parametrize("case", list(HOSTILE))
def test_a_hostile_file_is_one_path_line_problem_within_a_second(tmp_path: Path, kind: str, case: str) -> None:
    text, line, says = HOSTILE[case]
    path, load = loaders(tmp_path)[kind]
    path.write_text(text, encoding="utf-8")
    started = time.monotonic()
    problems = problems_of(load)
    elapsed = time.monotonic() - started
    assert elapsed < 1.0, elapsed
    if case == "huge-number" and kind != "rule":
        assert problems and all(str(path) in p for p in problems), problems  # found by the parser, like for rules
    assert any(p.startswith(f"{path}:{line}:") and says in p for p in problems), problems


ABSURD = "100000000000000000000000000000w"  # 10^29 weeks


@pytest.mark.parametrize(
    ("kind", "text", "line"),
    [
        ("rule", f"rules:\n  - id: x\n    description: d\n    window: {ABSURD}\n", 4),
        (
            "playbook",
            "id: p\ntitle: t\nphases:\n  - id: a\n    title: a\n    items:\n"
            f"      - {{id: i, text: t, due: {ABSURD}}}\n",
            7,
        ),
        ("config", f"evaluate_every: {ABSURD}\n", 1),
    ],
)
def test_an_absurd_duration_is_a_path_line_problem(tmp_path: Path, kind: str, text: str, line: int) -> None:
    path, load = loaders(tmp_path)[kind]
    path.write_text(text, encoding="utf-8")
    problems = problems_of(load)
    assert any(p.startswith(f"{path}:{line}:") and "at most 100 years" in p for p in problems), problems


def test_a_folder_given_as_config_is_a_problem_not_a_traceback(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path)
    assert str(caught.value) == f"{tmp_path}:1: file: found a folder, expected a YAML file"


def test_check_exits_2_with_one_line_on_a_billion_laughs_config(tmp_path: Path) -> None:
    path = tmp_path / "crisismon.yaml"
    path.write_text(LAUGHS, encoding="utf-8")
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, str(ROOT / "daemon.py"), "check", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and time.monotonic() - started < 15
    assert done.stderr.splitlines() == [
        f"{path}:5: yaml: found aliases expanding to more than 10000 values (*d), "
        "expected a file without alias bombs (use fewer or smaller aliases)",
        "1 problem(s) found",
    ]


@pytest.mark.parametrize("case", ["billion-laughs", "deep-nesting", "oversized"])
def test_hot_reload_refuses_a_bomb_and_keeps_the_old_set(store: SqlStore, tmp_path: Path, case: str) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", rules)
    config = AppConfig(
        rules_dir=str(rules), playbooks_dir=str(ROOT / "playbooks"), scoring=ScoringConfig(negative_below=0.3)
    )
    clock, notifier = FakeClock(), RecordingNotifier()
    engine = make_engine(store, clock, FakeSource("complaints"), notifier)
    engine.swap_definitions(load_definitions(config, check_sources=False))
    reloader = Reloader(
        engine,
        config,
        store,
        {"console": TextRenderer()},
        clock,
        load=lambda c: load_definitions(c, check_sources=False),
    )
    before = engine.definitions
    (rules / "bomb.yaml").write_text(HOSTILE[case][0], encoding="utf-8")
    started = time.monotonic()
    assert reloader.check_files() is False
    assert time.monotonic() - started < 1.0
    assert engine.definitions is before
    engine.deliver()
    ((message, _, _),) = notifier.delivered
    assert "reload refused" in message.payload["text"] and f"bomb.yaml:{HOSTILE[case][1]}:" in message.payload["text"]
