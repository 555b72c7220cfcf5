"""Console logins in the config: `crisismon passwd`, http.auth validated with path:line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from monitor.config.settings import load_config
from monitor.errors import ConfigError
from monitor.web.auth import hash_password, verify_password

from ..conftest import ROOT

ROSTER = "people:\n  - {name: 王芳, roles: [crisis_lead]}\n"


def test_passwd_prints_a_hash_the_console_accepts(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "daemon.py"), "passwd"],
        input="s3cret-enough\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    encoded = done.stdout.strip()
    assert verify_password("s3cret-enough", encoded)
    assert not verify_password("s3cret-enougH", encoded)
    (tmp_path / "roster.yaml").write_text(ROSTER, encoding="utf-8")
    config = tmp_path / "crisismon.yaml"
    config.write_text(
        f"roster: roster.yaml\nhttp:\n  listen: 127.0.0.1:8080\n  auth:\n    users:\n"
        f"      - {{login: wangfang, password_hash: '{encoded}', person: 王芳}}\n",
        encoding="utf-8",
    )
    assert load_config(config).http.auth is not None


@pytest.mark.parametrize(
    ("users", "roster", "message"),
    [
        ("[{login: x, password_hash: HASH, person: 张三}]", True, "http.auth.users.0.person: found '张三'"),
        ("[{login: x, password_hash: HASH, person: 王芳}]", False, "http.auth: found no roster"),
        ("[{login: x, password_hash: plain, person: 王芳}]", True, "http.auth.users.0.password_hash: found 'plain'"),
        ("[{login: 'a b', password_hash: HASH, person: 王芳}]", True, "http.auth.users.0.login"),
        ("[]", True, "http.auth.users: found []"),
    ],
)
def test_bad_logins_are_config_errors_with_their_line(tmp_path: Path, users: str, roster: bool, message: str) -> None:
    (tmp_path / "roster.yaml").write_text(ROSTER, encoding="utf-8")
    config = tmp_path / "crisismon.yaml"
    head = "roster: roster.yaml\n" if roster else ""
    text = head + "http:\n  auth:\n    users: " + users.replace("HASH", f"'{hash_password('x' * 8)}'") + "\n"
    config.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(config)
    lines = [str(p) for p in caught.value.problems]
    assert any(message in line and line.startswith(f"{config}:") for line in lines), lines
    assert all(":1:" not in line for line in lines if "users" in line), lines
