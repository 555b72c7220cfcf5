"""`check|test|backtest [PATHS...]`: named files or folders, else ./rules and ./playbooks, else the shipped ones."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from monitor.cli import main

from .conftest import ROOT


def rule_count(name: str) -> int:
    return len(yaml.safe_load((ROOT / "rules" / name).read_text(encoding="utf-8"))["rules"])


def copy_definitions(folder: Path) -> None:
    shutil.copytree(ROOT / "playbooks", folder / "playbooks")
    (folder / "rules" / "tests").mkdir(parents=True)
    shutil.copy(ROOT / "rules" / "product_quality.yaml", folder / "rules")
    shutil.copy(ROOT / "rules" / "tests" / "product_quality_test.yaml", folder / "rules" / "tests")


def test_the_current_folder_comes_before_the_shipped_copies_for_both_entry_points(tmp_path: Path) -> None:
    copy_definitions(tmp_path)
    console_script = Path(sys.executable).parent / "crisismon"
    commands = [[sys.executable, str(ROOT / "daemon.py"), "check"]]
    if console_script.is_file():
        commands.append([str(console_script), "check"])
    outputs = [subprocess.run(c, cwd=tmp_path, capture_output=True, text=True, timeout=120) for c in commands]
    for done in outputs:
        assert done.returncode == 0, done.stderr
        first = done.stdout.splitlines()[0]
        assert first == (
            f"reading rules from {tmp_path}/rules; playbooks from {tmp_path}/playbooks; "
            f"tests from {tmp_path}/rules/tests"
        )
        assert f"ok: {rule_count('product_quality.yaml')} rule(s), 5 playbook(s), 1 rule test file(s)" in done.stdout
    assert len({d.stdout for d in outputs}) == 1


def test_an_edited_rule_in_the_current_folder_is_the_one_tested(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    copy_definitions(tmp_path)
    rule = tmp_path / "rules" / "product_quality.yaml"
    edited = rule.read_text(encoding="utf-8").replace("ratio: 4, min_current: 6", "ratio: 400, min_current: 6", 1)
    rule.write_text(edited, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert main(["test"]) == 1  # the shipped rule passes its tests; the edited one does not
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith(f"reading rules from {tmp_path}/rules;")
    assert "FAIL product_quality_test.yaml" in out


def test_named_files_and_folders_like_promtool(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rule = ROOT / "rules" / "legal_dispute.yaml"
    assert main(["check", str(rule), str(ROOT / "playbooks")]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == f"reading rules from {rule}; playbooks from {ROOT / 'playbooks'}; tests from nowhere"
    assert f"ok: {rule_count('legal_dispute.yaml')} rule(s), 5 playbook(s), 0 rule test file(s)" in out

    lonely = ROOT / "playbooks" / "legal_dispute.yaml"
    assert main(["check", str(ROOT / "rules" / "product_quality.yaml"), str(lonely)]) == 2
    err = capsys.readouterr().err
    assert f"{ROOT / 'rules' / 'product_quality.yaml'}:" in err and "playbook: found 'product_quality'" in err


def test_test_reads_a_named_rules_folder_and_its_tests(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["test", str(ROOT / "rules"), "--run", "surge of quality complaints"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].endswith(f"tests from {ROOT / 'rules' / 'tests'}")
    assert "rules: 1 passed, 0 failed" in out


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("just: a mapping\n", "found neither rules, tests nor a playbook"),
        ("rules: [\n", "yaml: found"),
    ],
)
def test_a_file_that_is_neither_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, expected: str
) -> None:
    path = tmp_path / "x.yaml"
    path.write_text(content, encoding="utf-8")
    assert main(["check", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}:" in err and expected in err
    assert main(["check", str(tmp_path / "missing.yaml")]) == 2
    assert "no such file or folder" in capsys.readouterr().err
