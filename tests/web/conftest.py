"""A headless Chromium for the console's browser tests: Debian's package, driven by Playwright.

One browser for the whole session. The tests skip, saying why, when chromium or Playwright is
missing (`.ci/run` installs both). The browser finds the CJK font shipped by the
noto-cjk-sans-otc package through a fontconfig file (monitor.notify.fonts), so Chinese renders on a
machine without system CJK fonts.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("CRISISMON_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    if not Path(CHROMIUM).is_file():
        pytest.skip("no chromium: apt-get install chromium (.ci/run does)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (the test extra)")
    from monitor.notify.fonts import fontconfig_file

    env = dict(os.environ)
    conf = fontconfig_file(tmp_path_factory.mktemp("fonts"))
    if conf is not None:
        env["FONTCONFIG_FILE"] = str(conf)
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, env=env, timeout=60_000)
        yield chromium
        chromium.close()
