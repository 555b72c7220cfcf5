"""`crisismon test`: the shipped rule tests pass; failures show a readable diff; JUnit output."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from monitor.cli import main
from monitor.detect.ruletest import expand_series

FAILING = """
tests:
  - name: expects the wrong state
    input_series:
      - {source: complaints, category: product_quality, attrs: {product: X}, values: "0x299 2x11"}
    signals:
      - {at: 25h20m, rule: product-quality-complaint-surge, group: product=X, state: inactive}
  - name: passes
    input_series:
      - {source: complaints, category: product_quality, attrs: {product: X}, values: "0x5"}
    incidents:
      - {at: 30m, count: 0}
"""


def test_expand_series_follows_promtool() -> None:
    assert expand_series("1+2x3 _ 5x1 10-1x2 _x1") == [1, 3, 5, 7, None, 5, 5, 10, 9, 8, None, None]
    with pytest.raises(ValueError, match="a series term like"):
        expand_series("3y")


@pytest.mark.slow
def test_the_shipped_rule_tests_pass(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["test"]) == 0
    out = capsys.readouterr().out
    assert "FAIL" not in out and out.strip().splitlines()[-1].endswith(" passed, 0 failed")


def test_a_failing_test_exits_1_with_a_diff_and_junit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(FAILING, encoding="utf-8")
    junit = tmp_path / "junit.xml"
    assert main(["test", str(path), "--junit", str(junit)]) == 1
    out = capsys.readouterr().out
    assert "FAIL t.yaml: expects the wrong state" in out
    assert "- expected: inactive" in out and "+ got:      firing" in out
    assert "rules: 1 passed, 1 failed" in out
    suite = ET.parse(junit).getroot()
    assert suite.get("tests") == "2" and suite.get("failures") == "1"
    assert [c.get("name") for c in suite if c.find("failure") is not None] == ["expects the wrong state"]

    assert main(["test", str(path), "--run", "^passes$"]) == 0
    assert "rules: 1 passed, 0 failed" in capsys.readouterr().out


def test_an_invalid_test_file_exits_2_naming_the_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("tests:\n  - name: x\n    input_series:\n      - {source: s, values: '3y'}\n", encoding="utf-8")
    assert main(["test", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}:" in err and "a series term like" in err
