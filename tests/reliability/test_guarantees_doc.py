"""docs/operations.md lists each guarantee with its tests: every test it names exists."""

from __future__ import annotations

import re

from ..conftest import ROOT


def test_every_test_named_in_the_guarantees_table_exists() -> None:
    text = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    table = text.split("## Guarantees and how they are tested", 1)[1].split("\n## ", 1)[0]
    named = re.findall(r"`((?:tests/)?[\w/]*test_\w+\.py)(?:::(\w+))?", table)
    assert len(named) >= 12
    for path, function in named:
        file = ROOT / path if path.startswith("tests/") else ROOT / "tests" / "reliability" / path
        assert file.is_file(), path
        if function:
            assert re.search(rf"^def {function}\(", file.read_text(encoding="utf-8"), re.M), f"{path}::{function}"
