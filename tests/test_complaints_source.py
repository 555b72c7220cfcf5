from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from monitor.config.settings import AppConfig
from monitor.config.settings import ComplaintsApiSource as ComplaintsConfig
from monitor.http.server import HttpServer, Reply, Request
from monitor.runtime.engine import Engine
from monitor.sources.complaints import ComplaintsApiSource, ComplaintsMapping, parse_record
from monitor.store import SqlStore
from monitor.testing import FakeClock, FakeScorer

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


class CrmServer:
    """A CRM endpoint answering from a script: (status, body) per request, paged by `next`."""

    def __init__(self) -> None:
        self.answers: list[tuple[int, bytes]] = []
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.httpd = HttpServer(self._serve, "127.0.0.1", 0, name="crm").start()
        self.url = f"{self.httpd.url}/complaints"

    def _serve(self, request: Request) -> Reply:
        self.requests.append((request.path, dict(request.headers)))
        status, body = self.answers.pop(0) if self.answers else (200, b"[]")
        return Reply(status, body, "application/json")

    def answer(self, status: int, body: Any) -> None:
        raw = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
        self.answers.append((status, raw))


@pytest.fixture
def crm() -> Iterator[CrmServer]:
    server = CrmServer()
    yield server
    server.httpd.close()


def record(i: int, **extra: Any) -> dict[str, Any]:
    return {
        "id": f"C-{i}",
        "time": "2026-11-20T08:15:00+08:00",
        "category": "product_quality",
        "text": "暖气片漏水",
        "product": "暖居 X3 电暖器",
        "region": "杭州",
        **extra,
    }


def test_pages_are_followed_and_records_become_complaint_items(crm: CrmServer) -> None:
    crm.answer(200, {"complaints": [record(1)], "next": crm.url + "?page=2"})
    crm.answer(200, {"complaints": [record(2)], "next": None})
    with httpx.Client() as client:
        source = ComplaintsApiSource("crm", crm.url, client, token="s3cret")
        result = source.fetch(NOW)
    assert [i.id for i in result.items] == ["C-1", "C-2"]
    item = result.items[0]
    assert item.kind == "complaint" and item.category == "product_quality"
    assert item.published_at == datetime(2026, 11, 20, 0, 15, tzinfo=UTC)
    assert dict(item.attrs) == {"product": "暖居 X3 电暖器", "region": "杭州"}
    assert crm.requests[0][1]["Authorization"] == "Bearer s3cret"
    assert result.errors == []


def test_the_next_poll_asks_only_for_records_since_the_newest_stored(crm: CrmServer) -> None:
    crm.answer(200, [record(1)])
    crm.answer(200, [record(1)])
    crm.answer(200, [])
    with httpx.Client() as client:
        source = ComplaintsApiSource("crm", crm.url, client)
        source.fetch(NOW)
        source.fetch(NOW)  # the first poll's items were never stored: ask again from the start
        source.stored(NOW)
        source.fetch(NOW)
    assert crm.requests[1][0] == "/complaints"
    assert "since=2026-11-20T00%3A15%3A00%2B00%3A00" in crm.requests[2][0]


def test_bad_records_are_reported_and_good_ones_kept(crm: CrmServer) -> None:
    crm.answer(200, [record(1), {"id": "C-2", "text": "缺时间"}, record(3, time="昨天"), "junk"])
    with httpx.Client() as client:
        result = ComplaintsApiSource("crm", crm.url, client).fetch(NOW)
    assert [i.id for i in result.items] == ["C-1"]
    assert result.errors == [
        "record 1: id 'C-2': missing field(s) time",
        "record 2: id 'C-3': time '昨天' is not ISO 8601 (e.g. 2026-11-20T08:15:00+08:00)",
        "record 3: expected an object, found str",
    ]


@pytest.mark.parametrize(
    ("status", "body", "reason"),
    [(500, b"oops", "HTTP 500"), (200, b"{not json", "invalid JSON"), (200, b'{"x": 1}', "found dict")],
)
def test_http_and_format_errors_are_reported_not_raised(crm: CrmServer, status: int, body: bytes, reason: str) -> None:
    crm.answer(status, body)
    with httpx.Client() as client:
        result = ComplaintsApiSource("crm", crm.url, client).fetch(NOW)
    assert result.items == [] and len(result.errors) == 1 and reason in result.errors[0]


def test_unreachable_endpoint_is_an_error_not_an_exception() -> None:
    with httpx.Client(timeout=2) as client:
        result = ComplaintsApiSource("crm", "http://127.0.0.1:9/none", client).fetch(NOW)
    assert result.items == [] and "ConnectError" in result.errors[0]


def test_record_without_category_is_left_to_the_classifier() -> None:
    item, problem = parse_record("crm", record(1, category=None))
    assert problem is None and item is not None and item.category is None


# -- counts, mapping, cursor across a restart --------------------------------------------------


def test_counts_become_count_items_with_stable_ids(crm: CrmServer) -> None:
    counts = [
        {
            "category": "after_sales",
            "count": 17,
            "start": "2026-11-20T08:00:00+08:00",
            "end": "2026-11-20T08:05:00+08:00",
        },
        {"category": "logistics", "count": "3", "start": "2026-11-20T00:00:00Z", "end": "2026-11-20T00:05:00Z"},
        {"category": "logistics", "count": -1, "start": "2026-11-20T00:00:00Z", "end": "2026-11-20T00:05:00Z"},
        {"category": "logistics", "count": 2, "start": "2026-11-20T00:05:00Z", "end": "2026-11-20T00:00:00Z"},
        {"count": 2, "start": "2026-11-20T00:05:00Z", "end": "2026-11-20T00:10:00Z"},
    ]
    crm.answer(200, {"counts": counts})
    crm.answer(200, {"counts": counts[:1]})
    with httpx.Client() as client:
        source = ComplaintsApiSource("crm", crm.url, client, mode="counts")
        first = source.fetch(NOW)
        second = source.fetch(NOW)
    item = first.items[0]
    assert (item.kind, item.count, item.category, item.text) == ("count", 17, "after_sales", "")
    assert item.published_at == datetime(2026, 11, 20, 0, 5, tzinfo=UTC)
    assert first.items[1].count == 3
    assert second.items[0].id == item.id  # same interval, same id: never counted twice
    assert len({i.id for i in first.items}) == 2
    assert first.errors == [
        "record 2: count 'logistics': count -1 is not a whole number >= 0",
        "record 3: count 'logistics': end 2026-11-20T00:00:00+00:00 is not after start 2026-11-20T00:05:00+00:00",
        "record 4: count None: missing field(s) category",
    ]


def test_a_mapping_reads_another_crm_and_its_paging(crm: CrmServer) -> None:
    def page(ticket: str, nxt: str | None) -> dict[str, Any]:
        return {
            "data": {
                "rows": [
                    {
                        "ticketNo": ticket,
                        "createdAt": "2026-11-20 16:15:00",
                        "content": {"body": "客服态度很差"},
                        "type": "service_attitude",
                        "goods": {"name": "暖居 X3"},
                    }
                ]
            },
            "paging": {"next": nxt},
        }

    crm.answer(200, page("T-1", "/complaints?page=2"))
    crm.answer(200, page("T-2", None))
    mapping = ComplaintsMapping(
        items_path="data.rows",
        next="paging.next",
        id="ticketNo",
        time="createdAt",
        time_format="%Y-%m-%d %H:%M:%S",
        timezone="Asia/Shanghai",
        text="content.body",
        category="type",
        attrs={"product": "goods.name"},
    )
    with httpx.Client() as client:
        source = ComplaintsApiSource("crm", crm.url, client, mapping=mapping, since_param="updated_after")
        result = source.fetch(NOW)
        source.stored(NOW)
        source.fetch(NOW)
    assert result.errors == []
    assert [i.id for i in result.items] == ["T-1", "T-2"]
    item = result.items[0]
    assert item.published_at == datetime(2026, 11, 20, 8, 15, tzinfo=UTC)
    assert (item.text, item.category, dict(item.attrs)) == ("客服态度很差", "service_attitude", {"product": "暖居 X3"})
    assert crm.requests[1][0] == "/complaints?page=2"
    assert "updated_after=2026-11-20T08%3A15%3A00%2B00%3A00" in crm.requests[2][0]


def test_a_bad_mapping_is_a_config_error() -> None:
    from pydantic import ValidationError

    from monitor.config.settings import ComplaintsApiSource as ComplaintsConfig

    # one model: what check validates is what the source reads
    assert ComplaintsConfig.model_fields["mapping"].annotation == ComplaintsMapping | None
    with pytest.raises(ValidationError, match=r"timezone\n  an IANA name .*input_value='Mars/Base'"):
        ComplaintsMapping(timezone="Mars/Base")
    with pytest.raises(ValueError, match="time_format"):
        ComplaintsMapping(time_format="yesterday")


def test_retry_after_of_a_429_is_kept_for_the_backoff() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(429, headers={"Retry-After": "120"}, text="slow down")

    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        source = ComplaintsApiSource("crm", "https://crm.example.com/c", client)
        result = source.fetch(NOW)
    assert "HTTP 429" in result.errors[0] and source.retry_after == 120.0


def test_the_cursor_survives_a_restart(crm: CrmServer, store: SqlStore) -> None:
    """Polled through the engine: the cursor is saved once the items are stored, and restored."""
    clock = FakeClock(NOW)
    crm.answer(200, {"complaints": [record(1), record(2, time="2026-11-20T09:00:00+08:00")], "next": None})
    with httpx.Client() as client:
        config = AppConfig(sources=(ComplaintsConfig(type="complaints_api", name="crm", url=crm.url),))
        engine = _engine(config, store, clock, {"crm": ComplaintsApiSource("crm", crm.url, client)})
        assert engine.poll("crm") == 2
        assert store.source_data("crm")["source"] == {"cursor": "2026-11-20T01:00:00+00:00"}
        # a restart: a new source object, a new engine, the same store
        crm.answer(200, [record(3, time="2026-11-20T10:00:00+08:00")])
        clock.advance(minutes=1)
        engine = _engine(config, store, clock, {"crm": ComplaintsApiSource("crm", crm.url, client)})
        assert engine.poll("crm") == 1
    assert "since=2026-11-20T01%3A00%3A00%2B00%3A00" in crm.requests[1][0]
    assert store.source_data("crm")["source"] == {"cursor": "2026-11-20T02:00:00+00:00"}


def test_config_builds_a_mapped_counts_source() -> None:
    from monitor.app import build_sources

    cfg = ComplaintsConfig.model_validate(
        {
            "type": "complaints_api",
            "name": "crm",
            "url": "https://crm.example.com/counts",
            "mode": "counts",
            "since_param": "from",
            "mapping": {"items_path": "data", "start": "window.from", "end": "window.to"},
        }
    )
    with httpx.Client() as client:
        source = build_sources((cfg,), client)["crm"]
    assert isinstance(source, ComplaintsApiSource)
    assert (source.mode, source.since_param, source.mapping.start) == ("counts", "from", "window.from")


def _engine(config: AppConfig, store: SqlStore, clock: FakeClock, sources: dict[str, Any]) -> Engine:
    from monitor.app import build_engine
    from monitor.config.loading import Definitions
    from monitor.config.rules import RuleSet

    wiring = build_engine(
        config,
        Definitions(RuleSet([]), {}),
        store,
        clock,
        scorer=FakeScorer(),
        sources=sources,
        notifiers={},
        renderers={},
    )
    return wiring.engine
