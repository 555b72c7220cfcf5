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
    assert "=== CRISIS ALERT #1 [SEV2 (high)] 产品质量投诉激增" in out
    assert "--- checklist for incident #1" in out
    assert "demo: incident opened with the product_quality playbook" in out

    store = open_store(str(db))
    incidents = store.incidents()
    pq = [i for i in incidents if i.playbook == "product_quality"]
    assert len(pq) == 1
    incident = pq[0]
    assert incident.status == IncidentStatus.OPEN
    assert incident.group == "product=暖居 X3 电暖器"
    assert incident.evidence and incident.evidence[0].kind == "spike"
    assert incident.top_items and all(t.sentiment is not None and t.sentiment < 0.43 for t in incident.top_items)
    ids = [e.item_id for e in incident.checklist]
    assert "stop-use-advice" in ids and "first-statement" in ids and len(ids) >= 15
    assert all(e.due_at >= incident.opened_at for e in incident.checklist)
    sent = {(m.destination, m.kind) for m, status in store.messages(incident.id) if status == "sent"}
    assert {("console", "alert"), ("console", "checklist")} <= sent
    store.close()
