"""Word-aware keyword matching: real near-misses must not match, real variants must."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from monitor.classify import KeywordClassifier
from monitor.detect.matching import matches
from monitor.ingest import score_items
from monitor.models import Item
from monitor.rules import Match
from monitor.testing import FakeScorer

T0 = datetime(2026, 1, 5, tzinfo=UTC)


def scored(text: str, title: str = ""):
    item = Item(source="weibo", id="1", text=text, title=title, published_at=T0)
    return score_items([item], FakeScorer(), KeywordClassifier.default())[0]


def hit(match: Match, text: str) -> bool:
    return matches(match, scored(text))


@pytest.mark.parametrize(
    ("keyword", "text", "expected"),
    [
        ("被困", "暴雨后员工被困在仓库里，等待救援", True),
        ("被困", "这个问题让我被困扰了很久", False),
        ("被困", "被困人员已全部获救", True),
        ("停电", "小区突然停电了，电梯也停了", True),
        ("停电", "今天不停电，放心", False),
        ("停电", "通知说明天不会停电", False),
        ("火灾", "门店发生火灾事故", True),
        ("火灾", "消防部门排查火灾隐患", True),
        ("爆炸", "仓库突然发生爆炸", True),
        ("爆炸", "这是一条爆炸性新闻", False),
        ("中毒", "多名顾客食物中毒送医", True),
        ("伤亡", "事故造成人员伤亡", True),
        ("伤亡", "所幸并未造成人员伤亡", False),
        ("受伤", "所幸没有人受伤", False),
        ("受伤", "无人员受伤", False),
        ("受伤", "无人死亡，两人受伤", True),
        ("烫伤", "不小心被烫伤了手", True),
        ("起火", "差点起火，吓死了", False),
        ("起火", "注意防止起火", False),
        ("触电", "孩子摸到外壳触电了", True),
        ("质量", "这不是质量问题", False),
    ],
)
def test_chinese_keywords_match_words_not_substrings(keyword: str, text: str, expected: bool) -> None:
    assert hit(Match(keywords_any=(keyword,)), text) is expected


@pytest.mark.parametrize(
    ("keyword", "text"),
    [
        ("冒烟", "電暖器冒煙了，插頭燒焦"),
        ("烧焦", "電暖器冒煙了，插頭燒焦"),
        ("安全隐患", "這種安全隱患必須召回"),
        ("電暖器", "电暖器漏电"),
        ("x3", "暖居Ｘ３電暖器起火"),
        ("Fire", "MY HEATER CAUGHT FIRE"),
    ],
)
def test_script_variant_width_and_case_do_not_matter(keyword: str, text: str) -> None:
    assert hit(Match(keywords_any=(keyword,)), text)


@pytest.mark.parametrize(
    ("keyword", "text", "expected"),
    [
        ("fire", "My heater caught fire last night", True),
        ("fire", "Firefox keeps crashing", False),
        ("caught fire", "The heater caught fire", True),
        ("caught fire", "It caught a cold, no fire", False),
        ("injur*", "Two customers were injured", True),
        ("injur*", "No one was injured", False),
        ("burn*", "It didn't burn anything", False),
        ("electric shock", "My son got an electric shock from it", True),
    ],
)
def test_english_keywords_match_words_and_phrases(keyword: str, text: str, expected: bool) -> None:
    assert hit(Match(keywords_any=(keyword,)), text) is expected


def test_substring_mode_matches_anywhere() -> None:
    match = Match(keywords_any=("被困",), substring=True)
    assert hit(match, "这个问题让我被困扰了很久")


def test_negation_can_be_turned_off() -> None:
    assert hit(Match(keywords_any=("受伤",), negation=False), "所幸没有人受伤")


def test_keywords_all_entries_may_be_alternatives() -> None:
    match = Match(keywords_all=(("召回", "recall*"), ("市场监管", "责令", "regulator*")))
    assert hit(match, "市场监管总局责令暖居召回X3电暖器")
    assert hit(match, "Regulators ordered WarmHome to recall the X3 heater")
    assert not hit(match, "网友呼吁暖居召回X3电暖器")


def test_keywords_none_ignores_negated_mentions() -> None:
    match = Match(keywords_any=("火灾",), keywords_none=("演练",))
    assert not hit(match, "门店开展火灾疏散演练")
    assert hit(match, "门店发生火灾，不是演练")


def test_languages_select_items_by_language() -> None:
    match = Match(languages=("en",))
    assert hit(match, "The heater broke")
    assert not hit(match, "电暖器坏了")


@pytest.mark.parametrize(
    "text",
    [
        "😱😱😱🔥🔥",
        "https://t.cn/abc <b>x</b> &amp;",
        "\udcff\udcfe 锟斤拷烫烫烫 Ã©Ã¨",
        "起火" * 5000,
        "",
        "\x00\x01\x02",
        "مرحبا بالعالم",
    ],
)
def test_any_text_is_matched_without_an_exception(text: str) -> None:
    hit(Match(keywords_any=("起火", "fire")), text)


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("My heater caught fire", "product_quality"),
        ("The parcel arrived crushed, delivery was delayed", "logistics"),
        ("Staff were rude and hung up on me", "service_attitude"),
        ("The elevator stopped again, power outage in the mall", "equipment"),
        ("電暖器冒煙了", "product_quality"),
        ("这不是质量问题，是快递压坏的", "logistics"),
    ],
)
def test_english_and_traditional_texts_get_a_category(text: str, category: str) -> None:
    assert scored(text).category == category
