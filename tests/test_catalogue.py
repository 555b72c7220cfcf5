"""The product catalogue tags posts and news, so group_by product spans complaints and feeds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.cli import main
from monitor.config.catalogue import Catalogue, Product, load_catalogue
from monitor.detect.matching import group_key
from monitor.errors import ConfigError
from monitor.models import Item
from monitor.runtime.ingest import score_items
from monitor.testing import FakeScorer
from monitor.text.classify import KeywordClassifier

from .conftest import ROOT

T0 = datetime(2026, 3, 1, tzinfo=UTC)
CATALOGUE = Catalogue(
    (
        Product(name="暖居 X3 电暖器", aliases=("X3电暖器", "暖居X3", "WarmHome X3")),
        Product(name="暖居 K2 电热水壶", aliases=("K2电热水壶", "暖居K2")),
    )
)


def product_of(text: str, attrs: dict[str, str] | None = None, kind: str = "post") -> str | None:
    item = Item(source="weibo", id="1", text=text, published_at=T0, attrs=attrs or {}, kind=kind)  # type: ignore[arg-type]
    (scored,) = score_items([item], FakeScorer(), KeywordClassifier.default(), CATALOGUE)
    return scored.item.attrs.get("product")


@pytest.mark.parametrize(
    ("text", "product"),
    [
        ("暖居 X3 电暖器冒烟了", "暖居 X3 电暖器"),
        ("我的暖居X3昨晚起火了", "暖居 X3 电暖器"),
        ("暖居Ｘ３電暖器冒煙", "暖居 X3 电暖器"),
        ("My WarmHome x3 caught fire", "暖居 X3 电暖器"),
        ("暖居K2电热水壶漏电，顺便说一句暖居X3还行", "暖居 K2 电热水壶"),
        ("暖居X30是另一款", None),
        ("今天天气不错", None),
    ],
)
def test_posts_are_tagged_with_the_product_they_mention_first(text: str, product: str | None) -> None:
    assert product_of(text) == product


def test_a_complaint_alias_becomes_the_canonical_name_and_unknown_names_are_kept() -> None:
    assert product_of("坏了", {"product": "暖居X3"}, "complaint") == "暖居 X3 电暖器"
    assert product_of("坏了", {"product": "暖居 T9"}, "complaint") == "暖居 T9"


def test_group_by_product_puts_complaints_and_posts_together() -> None:
    items = [
        Item(
            source="complaints", id="c", text="冒烟", published_at=T0, kind="complaint", attrs={"product": "X3电暖器"}
        ),
        Item(source="weibo", id="w", text="暖居X3电暖器冒烟了", published_at=T0 + timedelta(minutes=1)),
    ]
    scored = score_items(items, FakeScorer(), KeywordClassifier.default(), CATALOGUE)
    assert {group_key(("product",), s) for s in scored} == {"product=暖居 X3 电暖器"}


def test_catalogue_errors_name_file_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "products.yaml"
    path.write_text(
        "products:\n  - name: 暖居 X3\n    aliases: [X3]\n  - name: 暖居 K2\n    aliases: [' ', x3]\n  - nam: typo\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        load_catalogue(path)
    lines = [str(p) for p in caught.value.problems]
    assert any(line.startswith(f"{path}:6: products.2.nam: found unknown field 'nam'") for line in lines), lines
    path.write_text(
        "products:\n  - name: 暖居 X3\n    aliases: [X3]\n  - name: 暖居 K2\n    aliases: [' ', x3]\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        load_catalogue(path)
    assert [str(p) for p in caught.value.problems] == [
        f"{path}:5: products.1.aliases.0: found ' ', expected a name with letters or characters",
        f"{path}:5: products.1.aliases.1: found 'x3', expected a name of one product only (also '暖居 X3', line 3)",
    ]


def test_check_reports_a_broken_catalogue(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "products.yaml").write_text("products:\n  - aliases: [x]\n", encoding="utf-8")
    config = tmp_path / "c.yaml"
    config.write_text(
        f"rules_dir: {ROOT / 'rules'}\nplaybooks_dir: {ROOT / 'playbooks'}\nproducts: products.yaml\n"
        "sources:\n  - {name: complaints, type: rss, url: 'http://x'}\n  - {name: news, type: rss, url: 'http://x'}\n"
        "  - {name: weibo, type: rss, url: 'http://x'}\n",
        encoding="utf-8",
    )
    assert main(["check", "--config", str(config)]) != 0
    assert f"{tmp_path / 'products.yaml'}:2: products.0.name: found nothing" in capsys.readouterr().err


def test_the_example_catalogue_is_valid() -> None:
    assert len(load_catalogue(ROOT / "examples" / "products.yaml").products) == 3
