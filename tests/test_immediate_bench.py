"""The keyword-driven rules on the labelled development texts (tests/fixtures/immediate/):
precise and complete enough that a regression in a rule or in matching is caught here.
(The held-out part is for the reported figure only: no test reads it.)"""

from __future__ import annotations

import importlib.util
import sys
from collections import Counter
from types import ModuleType

import pytest

from .conftest import ROOT

FLOOR = {
    "product-harm-immediate": (0.95, 0.95),
    "product-hazard-immediate": (0.95, 0.95),
    "premises-emergency-immediate": (0.9, 0.95),
    "regulator-recall-immediate": (0.9, 0.95),
    "public-body-action-immediate": (0.95, 0.95),
    "disaster-reports": (0.9, 0.95),
}


def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_immediate", ROOT / "bench" / "immediate.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_immediate"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def counts() -> dict[str, Counter[str]]:
    b = bench()
    found: dict[str, Counter[str]] = b.score_part(b.load_shipped(ROOT / "rules"), b.load_part("dev"))[0]
    return found


@pytest.mark.parametrize("rule", sorted(FLOOR))
def test_shipped_rules_are_precise_and_complete_on_the_dev_texts(counts: dict[str, Counter[str]], rule: str) -> None:
    c = counts[rule]
    precision = c["tp"] / (c["tp"] + c["fp"])
    recall = c["tp"] / (c["tp"] + c["fn"])
    low_p, low_r = FLOOR[rule]
    assert precision >= low_p and recall >= low_r, f"{rule}: precision {precision:.3f}, recall {recall:.3f}"
