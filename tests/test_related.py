"""Related rules join the open incident of the same group; a severity rise adds playbook items."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from monitor.app import build_engine
from monitor.config.loading import load_definitions
from monitor.config.settings import AppConfig, ScoringConfig
from monitor.models import Item
from monitor.notify.render import TextRenderer
from monitor.store import SqlStore
from monitor.testing import FakeClock, FakeScorer, FakeSource, RecordingNotifier

from .conftest import ROOT

RULES = """
rules:
  - id: complaints-up
    description: 投诉激增
    playbook: product_quality
    sources: [complaints]
    group_by: [product]
    condition: {threshold: {metric: count, op: ">=", value: 5}}
    severity:
      default: high
      escalate: [{level: critical, metric: count, op: ">=", value: 30}]
  - id: media-negative
    description: 负面报道
    playbook: public_relations
    related: [complaints-up]
    sources: [news]
    group_by: [product]
    condition: {threshold: {metric: negative_count, op: ">=", value: 3}}
    severity: {default: critical}
"""


def item(source: str, n: int, clock: FakeClock, text: str) -> Item:
    return Item(
        source=source,
        id=f"{source}-{n}",
        text=text,
        published_at=clock.now() - timedelta(minutes=1),
        attrs={"product": "暖居 X3 电暖器"},
    )


def test_a_related_rule_joins_the_open_incident_and_raises_it(store: SqlStore, tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "r.yaml").write_text(RULES, encoding="utf-8")
    config = AppConfig(
        rules_dir=str(tmp_path / "rules"),
        playbooks_dir=str(ROOT / "playbooks"),
        scoring=ScoringConfig(negative_below=0.3),
    )
    clock, notifier = FakeClock(), RecordingNotifier()
    complaints, news = FakeSource("complaints"), FakeSource("news")
    engine = build_engine(
        config,
        load_definitions(config, check_sources=False),
        store,
        clock,
        scorer=FakeScorer(),
        sources={"complaints": complaints, "news": news},
        notifiers={"console": notifier},
        renderers={"console": TextRenderer()},
    ).engine
    complaints.add(*(item("complaints", i, clock, "暖气片漏水") for i in range(5)))
    engine.cycle()
    (incident,) = store.incidents()
    before = {e.item_id for e in incident.checklist}

    news.add(*(item("news", i, clock, "暖居电暖器冒烟起火，消费者愤怒") for i in range(3)))
    engine.cycle()
    engine.cycle()  # a second evaluation must not repeat the message
    (joined,) = store.incidents()  # no second incident
    assert joined.id == incident.id and joined.severity == "critical"
    kinds = [e.kind for e in store.timeline(incident.id)]
    assert kinds.count("related_signal") == 1
    added = {e.item_id for e in joined.checklist} - before
    assert added, "items with min_severity critical now apply"
    assert all(e.due_at >= clock.now() for e in joined.checklist if e.item_id in added)
    texts = [m.payload["text"] for m, _, _ in notifier.delivered]
    assert sum("related rule media-negative" in t for t in texts) == 1


def test_a_severity_rise_adds_the_items_of_the_new_severity(store: SqlStore) -> None:
    from .test_engine import make_engine, open_incident, surge

    clock, source = FakeClock(), FakeSource("complaints")
    engine = make_engine(store, clock, source, RecordingNotifier())
    open_incident(engine, clock, source)
    incident = store.incidents()[0]
    surge(clock, source, 100, 40)
    engine.poll("complaints")
    engine.evaluate()
    raised = store.incident(incident.id)
    assert raised.severity == "critical"
    new = [e for e in raised.checklist if e.item_id not in {c.item_id for c in incident.checklist}]
    entry = next(e for e in store.timeline(incident.id) if e.kind == "severity_raised")
    assert [e.item_id for e in new] == entry.detail["items_added"]
