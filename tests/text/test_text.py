"""Text prepared at ingest: normalisation, language, English sentiment."""

from __future__ import annotations

import pytest

from monitor.testing import FakeScorer
from monitor.text import prepare
from monitor.text.english import VADER_NEGATIVE, EnglishScorer, LanguageScorer, to_unit
from monitor.text.lang import detect
from monitor.text.normalise import for_matching, for_scoring


def test_traditional_full_width_and_markup_are_normalised() -> None:
    assert for_matching("<p>電暖器冒煙！ＡＢＣ &amp; 隱患</p> https://x.cn/1") == "电暖器冒烟!abc & 隐患"
    assert for_scoring("", "電暖器燒焦了") == "电暖器烧焦了"


def test_bad_input_is_cleaned_not_raised() -> None:
    assert for_matching("\udcff坏了\x00") == "?坏了"
    assert len(for_matching("长" * 50_000)) == 20_000


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("电暖器起火，孩子被烫伤送医院了", "zh"),
        ("電暖器起火，孩子被燙傷送醫院了", "zh"),
        ("我的X3 heater起火了", "zh"),
        ("My WarmHome heater caught fire and burned my son", "en"),
        ("lol wtf", "en"),
        ("El calentador se incendió anoche", "other"),
        ("Der Heizlüfter hat Feuer gefangen", "other"),
        ("このヒーターは壊れた", "other"),
        ("히터가 고장났어요", "other"),
        ("😱🔥", "other"),
        ("", "other"),
    ],
)
def test_language_is_chinese_english_or_other(text: str, lang: str) -> None:
    assert detect(for_scoring("", text)) == lang


def test_vader_negative_cut_lands_on_the_daemon_cut() -> None:
    assert to_unit(VADER_NEGATIVE, 0.43) == pytest.approx(0.43)
    assert to_unit(-1.0, 0.43) == 0.0
    assert to_unit(1.0, 0.43) == 1.0


def test_english_crisis_text_scores_negative_and_praise_positive() -> None:
    scorer = EnglishScorer(0.43)
    assert scorer.score_one("My heater caught fire and burned my son, he is in hospital") < 0.43
    assert scorer.score_one("The heater exploded in our living room") < 0.43
    assert scorer.score_one("Love this heater, warm and quiet!") > 0.7
    assert scorer.score_one("   ") is None


def test_language_scorer_routes_by_language() -> None:
    chinese = FakeScorer(low=0.1, high=0.8)
    scorer = LanguageScorer(chinese, EnglishScorer(0.43))
    zh, en, other = scorer.score(["電暖器冒煙了", "This heater is terrible and dangerous", "Le radiateur est cassé"])
    assert zh == 0.1
    assert chinese.calls == [["电暖器冒烟了"]]  # simplified before it reaches the Chinese model
    assert en is not None and en < 0.43
    assert other is None


def test_prepare_keeps_words_and_clause_breaks() -> None:
    view = prepare("标题", "电暖器起火，孩子被烫伤")  # the title is a sentence of its own
    assert view.tokens.split(" ") == ["标题", ".", "电暖器", "起火", "|", "孩子", "被", "烫伤"]


def test_sentences_and_questions_are_marked() -> None:
    view = prepare("", "冒烟了！！吓死。会漏电吗？好的，谢谢... ok")
    assert view.tokens.split(" ") == [
        "冒烟",
        "了",
        ".",
        "吓死",
        ".",
        "会",
        "漏电",
        "吗",
        "?",
        "好",
        "的",
        "|",
        "谢谢",
        "|",
        "ok",
    ]
