"""Stories in the store, on every backend: near-duplicates grouped at ingest, prepared text kept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from monitor.models import FetchResult, Item
from monitor.runtime.ingest import Ingestor
from monitor.runtime.metrics import Metrics
from monitor.store import SqlStore
from monitor.testing import FakeScorer
from monitor.text.classify import KeywordClassifier

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
ORIGINAL = "暖居X3电暖器用了不到一周就冒烟了，插头都烧黑了，这种产品怎么敢卖？"


def post(source: str, n: int, text: str, minutes: int = 0, kind: str = "post") -> Item:
    return Item(source=source, id=f"{source}-{n}", text=text, published_at=T0 + timedelta(minutes=minutes), kind=kind)  # type: ignore[arg-type]


def ingest(store: SqlStore, source: str, *items: Item) -> None:
    Ingestor(store, FakeScorer(), KeywordClassifier.default(), Metrics()).ingest(source, FetchResult(list(items)), T0)


def stories(store: SqlStore) -> dict[str, int | None]:
    return {s.item.id: s.story for s in store.items_between(None, T0 - timedelta(days=1), T0 + timedelta(days=9))}


def test_reposts_and_copies_from_two_sources_are_one_story(store: SqlStore) -> None:
    ingest(store, "weibo", post("weibo", 1, ORIGINAL), post("weibo", 2, f"太吓人了//@小王:{ORIGINAL}", 5))
    ingest(store, "news", post("news", 3, ORIGINAL.replace("电暖器", "電暖器").replace("冒烟", "冒煙"), 9))
    found = stories(store)
    assert found["weibo-1"] is not None
    assert found["weibo-1"] == found["weibo-2"] == found["news-3"]
    assert store.story_sources([found["weibo-1"]]) == {found["weibo-1"]: {"weibo": 2, "news": 1}}


def test_different_people_complaining_about_the_same_defect_are_different_stories(store: SqlStore) -> None:
    texts = [
        "我家的暖居X3电暖器昨晚冒烟了，吓得我赶紧拔了插头，插头那里都黑了",
        "暖居X3电暖器才用了三天，今天一开机就冒烟，还有一股烧焦味，退货！",
        "我的暖居X3电暖器也冒烟了，插头烧黑，和网上说的一模一样",
        "质量太差了",
        "质量太差了",
    ]
    ingest(store, "weibo", *(post("weibo", i, t, i) for i, t in enumerate(texts)))
    assert len(set(stories(store).values())) == len(texts)


def test_identical_complaint_records_join_only_as_a_double_submission(store: SqlStore) -> None:
    long = "暖居X3电暖器用了两天就坏了，打客服电话一直没人接，要求退货退款"
    ingest(
        store,
        "complaints",
        post("complaints", 1, long, 0, "complaint"),
        post("complaints", 2, long, 1, "complaint"),
        post("complaints", 3, "电暖器坏了要退货", 2, "complaint"),
        post("complaints", 4, "电暖器坏了要退货", 3, "complaint"),
    )
    found = stories(store)
    assert found["complaints-1"] == found["complaints-2"]
    assert found["complaints-3"] != found["complaints-4"]


def test_a_story_older_than_the_horizon_is_not_joined(store: SqlStore) -> None:
    ingest(store, "weibo", post("weibo", 1, ORIGINAL))
    ingest(store, "weibo", post("weibo", 2, ORIGINAL, 8 * 24 * 60))
    found = stories(store)
    assert found["weibo-1"] != found["weibo-2"]


def test_prepared_text_is_kept_with_the_item(store: SqlStore) -> None:
    ingest(store, "weibo", post("weibo", 1, "電暖器冒煙了！"))
    (item,) = store.items_between(None, T0 - timedelta(days=1), T0 + timedelta(days=1))
    assert item.item.text == "電暖器冒煙了！"  # the original, for display
    assert item.norm == "电暖器冒烟了!"
    assert item.tokens == "电暖器 冒烟 了"
    assert item.lang == "zh"
