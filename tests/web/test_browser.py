"""The console in a real browser over the demo scenario: board, incident, tick, timeline, screenshots."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .demo_world import PASSWORD, DemoWorld, start


@pytest.fixture
def world(tmp_path: Path) -> Iterator[DemoWorld]:
    w = start(tmp_path)
    yield w
    w.close()


def test_a_crisis_lead_works_the_demo_incident_in_the_browser(browser: Any, world: DemoWorld, tmp_path: Path) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900}, base_url=world.url)
    try:
        page.goto("/")
        assert page.url.endswith("/login?next=/")
        page.fill("input[name=login]", "wangfang")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(world.url + "/")

        row = page.locator(f"tr[data-incident='{world.incident_id()}']")
        assert "冒烟" in row.inner_text()  # the demo's first report of a smoking heater opens it at once
        assert "open" in row.inner_text() and "0/" in row.inner_text()
        page.screenshot(path=str(tmp_path / "board.png"), full_page=True)

        row.locator("a").first.click()
        page.wait_for_url(f"**/incidents/{world.incident_id()}")
        item = page.locator("tr[data-item='stop-use-advice']")
        item.locator("button.tick").click()
        page.wait_for_url(f"**/incidents/{world.incident_id()}")
        assert "☑" in page.locator("tr[data-item='stop-use-advice'] button.tick").inner_text()
        assert "by 王芳" in page.locator("tr[data-item='stop-use-advice']").inner_text()
        timeline = page.locator("ol.timeline").inner_text()
        assert "王芳 ticked" in timeline
        page.screenshot(path=str(tmp_path / "incident.png"), full_page=True)

        page.goto("/rules")
        fired = world.store.incident(world.incident_id()).rule_id
        assert "firing" in page.locator(f"tr[data-rule='{fired}']").inner_text()
        page.screenshot(path=str(tmp_path / "rules.png"), full_page=True)
        page.goto("/sources")
        assert "ok" in page.locator("tr[data-source='complaints']").inner_text()
        page.screenshot(path=str(tmp_path / "sources.png"), full_page=True)
    finally:
        page.close()
    incident = world.store.incident(world.incident_id())
    entry = next(e for e in incident.checklist if e.item_id == "stop-use-advice")
    assert entry.done_by == "王芳"
    for name in ("board", "incident", "rules", "sources"):
        assert (tmp_path / f"{name}.png").stat().st_size > 10_000
