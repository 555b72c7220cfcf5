"""contrib/: the systemd unit passes `systemd-analyze verify`; the environment file names real settings."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT

UNIT = ROOT / "contrib" / "crisismon.service"
ENV = ROOT / "contrib" / "crisismon.env"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_the_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    executable = Path(sys.executable).parent / "crisismon"
    if not executable.is_file():
        pytest.skip("the crisismon console script is not installed in this environment")
    unit = tmp_path / "crisismon.service"
    unit.write_text(UNIT.read_text(encoding="utf-8").replace("/opt/crisismon/bin/crisismon", str(executable)), "utf-8")
    done = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(unit)], capture_output=True, text=True, timeout=60
    )
    problems = [line for line in done.stderr.splitlines() if str(unit) in line or "crisismon.service" in line]
    assert done.returncode == 0 and not problems, done.stderr


def test_the_environment_file_sets_what_the_unit_and_the_docs_use() -> None:
    names = set(re.findall(r"^([A-Z_]+)=", ENV.read_text(encoding="utf-8"), re.MULTILINE))
    used = set(re.findall(r"\$\{([A-Z_]+)\}", UNIT.read_text(encoding="utf-8")))
    assert used <= names
    documented = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert [n for n in names - used if f"`{n}`" not in documented] == []
