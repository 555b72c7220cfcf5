"""End to end: `python daemon.py --demo` opens a product-quality incident, offline."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from monitor.models import IncidentStatus
from monitor.store import open_store

from .conftest import ROOT


@pytest.mark.slow
def test_the_demo_opens_a_product_quality_incident_with_its_checklist(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    result = subprocess.run(
        [sys.executable, str(ROOT / "daemon.py"), "--demo", "--db", str(db), "--speed", "480"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    out = result.stdout
    # the first report of a smoking heater is handled at once (product-hazard-immediate)
    assert "=== CRISIS ALERT #1 [SEV2 (high)] 产品起火、冒烟" in out
    assert "--- checklist for incident #1" in out
    assert "demo: incident opened with the product_quality playbook" in out

    store = open_store(str(db))
    incidents = store.incidents()
    pq = [i for i in incidents if i.playbook == "product_quality"]
    assert len(pq) == 1
    incident = pq[0]
    assert incident.status == IncidentStatus.OPEN
    assert incident.rule_id == "product-hazard-immediate"
    assert incident.evidence and incident.evidence[0].kind == "immediate"
    scores = [t.sentiment for t in incident.top_items if t.sentiment is not None]
    assert incident.top_items and scores == sorted(scores)  # matched stories, most negative first
    ids = [e.item_id for e in incident.checklist]
    assert "stop-use-advice" in ids and "first-statement" in ids and len(ids) >= 15
    assert all(e.due_at >= incident.opened_at for e in incident.checklist)
    sent = {(m.destination, m.kind) for m, status in store.messages(incident.id) if status == "sent"}
    assert {("console", "alert"), ("console", "checklist")} <= sent
    store.close()
