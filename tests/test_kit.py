"""The communication kit: every shipped playbook has one, placeholders are checked and filled."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.config.playbooks import load_playbook, load_playbooks
from monitor.incidents.kit import KINDS, PLACEHOLDERS, Facts, draft_text, placeholders_in
from monitor.models import Incident, IncidentStatus
from monitor.notify.i18n import Lang

from .conftest import ROOT


def test_every_shipped_playbook_has_all_five_templates_in_chinese_and_english() -> None:
    books, problems = load_playbooks(ROOT / "playbooks")
    assert problems == [] and books
    for book in books.values():
        assert book.kit is not None, book.id
        for kind in KINDS:
            template = book.kit.template(kind)
            assert any("\u4e00" <= c <= "\u9fff" for c in template.text), (book.id, kind)
            assert template.text_en, (book.id, kind)
            assert set(placeholders_in(template.text)) <= set(PLACEHOLDERS)


def test_an_unknown_placeholder_is_refused_with_file_and_line(tmp_path: Path) -> None:
    source = (ROOT / "playbooks" / "product_quality.yaml").read_text(encoding="utf-8")
    broken = source.replace("已收到约{count}条", "已收到约{complaints}条", 1)
    assert broken != source
    path = tmp_path / "product_quality.yaml"
    path.write_text(broken, encoding="utf-8")
    book, problems = load_playbook(path)
    assert book is None
    (problem,) = problems
    line = next(i for i, text in enumerate(broken.splitlines(), start=1) if "{complaints}" in text)
    assert problem.field == "kit.holding.text" and "{complaints}" in problem.found
    assert abs(problem.line - line) <= 1  # the block scalar starts on the line before its text


@pytest.mark.parametrize(
    ("lang", "expected"), [(Lang("zh-CN", "Asia/Shanghai"), "2026-11-20 16:00 CST"), (Lang(), "2026-11-20 08:00 UTC")]
)
def test_placeholders_are_filled_from_the_incident(lang: Lang, expected: str) -> None:
    books, _ = load_playbooks(ROOT / "playbooks")
    kit = books["product_quality"].kit
    assert kit is not None
    incident = Incident(
        id=7,
        rule_id="r",
        group="product=X1 充电宝",
        playbook="product_quality",
        title="X1 充电宝质量投诉激增",
        status=IncidentStatus.OPEN,
        severity="high",
        opened_at=datetime(2026, 11, 20, 8, 0, tzinfo=UTC),
        updated_at=datetime(2026, 11, 20, 8, 0, tzinfo=UTC),
    )
    text = draft_text(kit, "internal_briefing", incident, Facts("示例电器", "400-800-1234", ("上海",)), lang)
    assert "#7" in text and expected in text and "上海" in text and "{" not in text


@pytest.mark.parametrize(
    ("group", "expected"),
    [("product=X1 充电宝", "X1 充电宝"), ("product=X1,region=上海", "X1"), ("region=上海", "上海"), ("", "标题")],
)
def test_product_comes_from_the_group(group: str, expected: str) -> None:
    from monitor.incidents.kit import product

    incident = Incident(
        id=1,
        rule_id="r",
        group=group,
        playbook="p",
        title="标题",
        status=IncidentStatus.OPEN,
        severity="high",
        opened_at=datetime(2026, 11, 20, tzinfo=UTC),
        updated_at=datetime(2026, 11, 20, tzinfo=UTC),
    )
    assert product(incident) == expected
