"""Every consumer states the store methods it uses as a Protocol; the SQL store implements each
one, on SQLite and on PostgreSQL, and a store protocol nobody lists here fails the suite."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

from monitor.detect.evaluator import ItemReader, RuleStateStore, StoredItems
from monitor.detect.hits import HitStore
from monitor.detect.running import DetectorStore
from monitor.http.api import ApiStore
from monitor.incidents.announce import Enqueuer, OutboxWriter
from monitor.incidents.ops import OpsStore
from monitor.incidents.service import IncidentStore
from monitor.incidents.silences import SilenceStore
from monitor.incidents.sla import SlaStore
from monitor.notify.routing import RoutingStore
from monitor.runtime.health import HealthStore
from monitor.runtime.ingest import IngestStore
from monitor.runtime.leases import LeaseStore
from monitor.runtime.outbox import OutboxStore
from monitor.store import SqlStore

ROOT = Path(__file__).resolve().parents[2]

PROTOCOLS: list[type] = [
    ApiStore,
    DetectorStore,
    Enqueuer,
    HealthStore,
    HitStore,
    IncidentStore,
    IngestStore,
    ItemReader,
    LeaseStore,
    OpsStore,
    OutboxStore,
    OutboxWriter,
    RoutingStore,
    RuleStateStore,
    SilenceStore,
    SlaStore,
    StoredItems,
]


def protocol_methods(protocol: type) -> list[str]:
    return [n for n, v in vars(protocol).items() if callable(v) and not n.startswith("_")]


def store_shaped_protocols() -> set[str]:
    """Names of the Protocols in monitor/ (outside the store itself, whose mixins state what
    they need of their host) whose methods are all store methods."""
    store_methods = {n for n in dir(SqlStore) if not n.startswith("_")}
    found = set()
    for path in (ROOT / "monitor").rglob("*.py"):
        if path.parent.name == "store":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ClassDef):
                continue
            if not any(isinstance(b, ast.Name) and b.id == "Protocol" for b in node.bases):
                continue
            methods = {f.name for f in node.body if isinstance(f, ast.FunctionDef) and not f.name.startswith("_")}
            if methods and methods <= store_methods:
                found.add(node.name)
    return found


def test_every_store_protocol_is_run_against_the_stores() -> None:
    assert store_shaped_protocols() == {p.__name__ for p in PROTOCOLS}


@pytest.mark.parametrize("protocol", PROTOCOLS, ids=lambda p: p.__name__)
def test_the_store_implements_the_protocol(store: SqlStore, protocol: type) -> None:
    for name in protocol_methods(protocol):
        wanted = inspect.signature(getattr(protocol, name))
        have = inspect.signature(getattr(type(store), name))
        assert [(p.name, p.kind, p.default) for p in wanted.parameters.values()] == [
            (p.name, p.kind, p.default) for p in have.parameters.values()
        ], f"{protocol.__name__}.{name}"
        assert wanted.return_annotation == have.return_annotation or name == "transaction"
        assert callable(getattr(store, name))
    with store.transaction():  # the one method every writer shares, on this backend
        assert store.schema_version() > 0
