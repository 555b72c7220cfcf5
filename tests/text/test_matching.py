"""Word-aware keyword matching: real near-misses must not match, real variants must."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from monitor.config.rules import Match
from monitor.detect.matching import matches
from monitor.models import Item
from monitor.runtime.ingest import score_items
from monitor.testing import FakeScorer
from monitor.text.classify import KeywordClassifier

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
        ("火灾", "消防部门排查火灾隐患", False),  # a fire hazard is no fire (a word of risk after it)
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
    assert hit(Match(keywords_any=("起火", "fire")), text) in (True, False)


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


@pytest.mark.parametrize(
    ("keyword", "text", "expected"),
    [
        # asked about, not reported
        ("触电", "小孩摸了电暖器外壳会触电吗？", False),
        ("烫伤", "电热毯开一夜容易烫伤吗", False),
        ("起火", "买电暖器最怕的就是起火，这款有保护吗？", False),
        ("冒烟", "暖居电暖器插头发烫冒烟，插座都熏黑了，这正常吗？", True),
        ("冒烟", "插头冒烟了，正常吗？", True),
        ("冒烟", "电暖器为什么会冒烟啊？", True),
        ("catch fire", "Can this heater catch fire if it tips over?", False),
        ("caught fire", "Why did my heater catch fire? It caught fire twice", True),
        ("smoking", "My heater is smoking, is this normal?", True),
        # only possible
        ("火灾", "专家提醒：取暖器使用不当容易引发火灾", False),
        ("烫伤", "长时间高温可能导致低温烫伤", False),
        ("起火", "这种插线板会起火", False),
        ("火花", "还会看到电火花", True),
        ("冒烟", "电暖器怎么会冒烟", True),
        ("burns", "Touching the grille may cause burns", False),
        # denied as a rumour
        ("爆炸", "网传暖居电暖器爆炸是谣言，官方已辟谣", False),
        ("起火", "暖居回应：网传门店起火消息不实", False),
        ("caught fire", "Rumors that a store caught fire are false", False),
        ("起火", "网传门店起火消息不实。今天仓库真的起火了", True),
    ],
)
def test_questions_modals_and_rumours_do_not_count(keyword: str, text: str, expected: bool) -> None:
    assert hit(Match(keywords_any=(keyword,)), text) is expected


@pytest.mark.parametrize(
    ("keyword", "text", "expected"),
    [
        # a negation or a modal before a verb of happening or causing reaches what it governs
        ("起火", "用了一冬天，从来没有出现过冒烟起火的情况", False),
        ("受伤", "此次停电未造成人员受伤和财产损失", False),
        ("烫伤", "专家提醒：取暖器使用不当容易引发火灾和烫伤事故", False),
        ("火灾", "消协提醒：谨防劣质产品引发火灾", False),
        ("火灾", "电热毯短路引发火灾", True),
        ("fire", "Never had it overheat or catch fire in three winters", False),
        # a word of risk right after it
        ("起火", "暖居T1暖风机存在起火风险", False),
        ("漏电", "存在漏电的隐患", False),
        ("fire", "This heater is a fire hazard", False),
        ("起火", "起火了，风险太大了", True),
        # a mention joined by "or" to a negated one; an English modal in a contraction
        ("sparked", "Never once smoked or sparked, great heater", False),
        ("起火", "没有冒烟或起火", False),
        ("catch fire", "I swear she'll catch fire one day", False),
        ("sparked", "It smoked and then sparked", True),
    ],
)
def test_what_is_caused_or_risked_follows_its_verb(keyword: str, text: str, expected: bool) -> None:
    assert hit(Match(keywords_any=(keyword,)), text) is expected


def test_a_statement_before_a_question_is_a_report() -> None:
    assert hit(Match(keywords_any=("烫伤",)), "家里老人被电热毯烫成二度烫伤，你们怎么赔？")
    assert not hit(Match(keywords_any=("烫伤",)), "孩子摸了，会烫伤吗")  # a yes-no particle, no question mark


def test_the_classifier_still_counts_what_a_question_is_about() -> None:
    assert scored("这个电暖器会漏电吗？").category == "product_quality"


def test_an_english_keyword_matches_its_possessive() -> None:
    assert hit(Match(keywords_any=("kettle",)), "The kettle's base was smoking")
    assert not hit(Match(keywords_any=("kettle",)), "The kettles were fine")


def test_a_keyword_may_start_inside_a_word_jieba_only_guessed() -> None:
    # jieba cuts 发热片烧红了 as 发热/片烧/红/了 ("片烧" is not in its dictionary)
    assert hit(Match(keywords_any=("烧红",)), "电暖器的发热片烧红了")
    assert not hit(Match(keywords_any=("被困",)), "这个问题让我被困扰了很久")  # 困扰 is a dictionary word


def sensed(**fields: object) -> Match:
    return Match.model_validate(fields)


def test_a_sense_without_words_excludes_only_its_sentence() -> None:
    match = sensed(keywords_any=["爆炸"], senses=[{"keywords": ["爆炸"], "without": ["销量", "价格"]}])
    assert not hit(match, "暖居电暖器销量爆炸，双十一卖断货")
    assert not hit(match, "这次双十一价格杀疯了，简直爆炸")
    assert hit(match, "销量再高也没用。昨晚电暖器突然爆炸了")
    assert hit(match, "不是价格的问题，电暖器爆炸了")  # a negated exclusion does not exclude


def test_a_sense_with_words_needs_them_near() -> None:
    match = sensed(keywords_any=["住院", "烫伤"], senses=[{"keywords": ["住院"], "with": ["烫", "漏电", "起火"]}])
    assert not hit(match, "我妈住院了，电暖器能不能晚点送")
    assert hit(match, "电暖器漏电，我爸被电晕住院了")
    assert hit(match, "孩子烫伤了")  # the sense is about 住院 only
    clause = sensed(keywords_any=["短路"], senses=[{"keywords": ["短路"], "with": ["插座"], "within": "clause"}])
    assert hit(clause, "插座短路跳闸了")
    assert not hit(clause, "插座没问题，脑子短路了")


def test_a_sense_without_keywords_covers_every_keyword() -> None:
    match = sensed(keywords_any=["起火", "fire"], senses=[{"without": ["演练", "drill"]}])
    assert not hit(match, "门店今天组织了消防演练，模拟电器起火")
    assert not hit(match, "Fire drill at the store this morning")
    assert hit(match, "上周刚演练过。今天门店真的起火了")


def test_senses_apply_to_keywords_all_entries_and_in_substring_mode() -> None:
    match = sensed(keywords_all=[["受伤"], ["电暖器"]], senses=[{"keywords": ["受伤"], "without": ["心"]}])
    assert not hit(match, "买了电暖器，心受伤了")
    assert hit(match, "电暖器倒了，孩子受伤了")
    plain = sensed(keywords_any=["爆炸"], substring=True, senses=[{"without": ["销量"]}])
    assert not hit(plain, "暖居电暖器销量爆炸")
    assert hit(plain, "电暖器爆炸了")


def test_sense_lists_may_hold_lists_from_yaml_aliases() -> None:
    match = sensed(keywords_any=["hurt"], senses=[{"with": [["son", "daughter"], "hand"]}])
    assert match.senses[0].with_ == ("son", "daughter", "hand")
    assert hit(match, "My son got hurt by the heater")
    assert not hit(match, "I was hurt by how rude the agent was")


def test_a_sense_must_name_keywords_of_the_match_and_say_something() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="keywords of keywords_any or keywords_all"):
        sensed(keywords_any=["起火"], senses=[{"keywords": ["爆炸"], "without": ["销量"]}])
    with pytest.raises(ValidationError, match="with:, without: or both"):
        sensed(keywords_any=["起火"], senses=[{"keywords": ["起火"]}])
