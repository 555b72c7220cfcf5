"""Silences: the text form, bad input, and an incident whose messages are held back."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from monitor.incidents import silences
from monitor.models import Matcher
from monitor.store import SqlStore
from monitor.testing import FakeSlackServer

from .test_slack_pipeline import open_incident, slack_engine

NOW = datetime(2026, 11, 24, 20, 0, tzinfo=UTC)


@pytest.fixture
def slack() -> Iterator[FakeSlackServer]:
    with FakeSlackServer() as server:
        yield server


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("for 2h launch", "at least one matcher"),
        ("rule=x launch", "give the end of the silence"),
        ("rule=x for 2h", "say why in a comment"),
        ("rule=x for soon launch", "expected a duration like"),
        ("rule=x for 2h until 2026-11-25T00:00 launch", "one of them"),
        ("rule=x until yesterday launch", "is not ISO 8601"),
        ("rule=x until 2026-11-24T19:00 launch", "before it starts or before now"),
        ("rule=x for 100d launch", "at most 90 days"),
        ("severity=high for 2h launch", "unknown label 'severity'"),
        ("rule=~( for 2h launch", "not a regular expression"),
        ("rule=~.* for 2h launch", "silence every incident"),
        ('rule="x for 2h launch', "close the quotes"),
        ("rule=x for 1h for 2h launch", "given twice"),
    ],
)
def test_bad_silences_say_what_to_write(store: SqlStore, text: str, message: str) -> None:
    with pytest.raises(silences.SilenceError, match=message):
        silences.create_from_text(store, text, "王芳", NOW)
    assert store.silences() == []


def test_a_silence_needs_an_author(store: SqlStore) -> None:
    with pytest.raises(silences.SilenceError, match="who creates"):
        silences.create_from_text(store, "rule=x for 2h launch", "  ", NOW)


def test_matchers_follow_alertmanager_operators() -> None:
    assert Matcher("source", "=", "weibo").matches(("news", "weibo"))
    assert not Matcher("source", "!=", "weibo").matches(("news", "weibo"))
    assert Matcher("group", "=~", "product=X1.*").matches(("product=X1,region=north",))
    assert not Matcher("group", "=~", "X1").matches(("product=X1",))  # the whole value
    assert Matcher("playbook", "!~", "legal.*").matches(("product_quality",))
    assert Matcher("group", "=", "").matches(())


def test_a_silenced_rule_records_its_incident_but_sends_nothing(store: SqlStore, slack: FakeSlackServer) -> None:
    engine, clock, source = slack_engine(store, slack)
    silence = silences.create_from_text(
        store, "rule=product-quality-complaint-surge for 2h 新品发布会, PR team watching", "王芳", clock.now()
    )
    open_incident(engine, clock, source)
    [incident] = store.incidents()
    assert incident.rule_id == "product-quality-complaint-surge"
    assert slack.calls("chat.postMessage") == []
    statuses = {status for _, status in store.messages(incident.id)}
    assert statuses == {"silenced"}
    [entry] = [e for e in store.timeline(incident.id) if e.kind == "silenced"]
    assert entry.detail["silence"] == silence.id
    assert (entry.detail["author"], entry.detail["comment"]) == ("王芳", "新品发布会, PR team watching")


def test_a_silence_of_another_rule_or_to_come_sends_as_usual(store: SqlStore, slack: FakeSlackServer) -> None:
    engine, clock, source = slack_engine(store, slack)
    silences.create_from_text(store, "rule=other_rule for 2h not this one", "li", clock.now())
    start = (clock.now() + timedelta(hours=3)).isoformat()
    silences.create_from_text(
        store, f"rule=product-quality-complaint-surge from {start} for 2h launch tomorrow", "li", clock.now()
    )
    open_incident(engine, clock, source)
    [incident] = store.incidents()
    assert len(slack.calls("chat.postMessage")) == 2
    assert not [e for e in store.timeline(incident.id) if e.kind == "silenced"]


def test_an_expired_silence_lets_messages_through_again(store: SqlStore, slack: FakeSlackServer) -> None:
    engine, clock, source = slack_engine(store, slack)
    silence = silences.create_from_text(store, "source=complaints for 2h launch", "li", clock.now())
    silences.expire(store, silence.id, clock.now())
    open_incident(engine, clock, source)
    assert len(slack.calls("chat.postMessage")) == 2
