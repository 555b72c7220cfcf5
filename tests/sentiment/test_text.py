"""Normalisation, language detection, traditional characters and emoticon codes."""

from __future__ import annotations

import pytest

from monitor.sentiment import is_chinese, normalise
from monitor.sentiment.emoticons import codes_as_words, strip_codes
from monitor.sentiment.hans import parse_table, to_simplified


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("<p>太差了&amp;</p>", "太差了&"),
        ("看看 http://t.cn/A6xYz 这个", "看看 这个"),
        ("链接https://weibo.com/u/123?x=1看", "链接 看"),
        ("//@张三:转发微博", "转发微博"),
        ("回复@李四：真的假的", "真的假的"),
        ("#食品安全# 太可怕", "食品安全 太可怕"),
        ("#凉了 今天", "凉了 今天"),
        ("  很   好 \n\n 吃 ", "很 好 吃"),
        ("今天天氣很好，我們去吃飯", "今天天气很好，我们去吃饭"),
        ("余额不足", "余额不足"),
        ("[怒][泪]", "[怒][泪]"),
    ],
)
def test_normalise(raw: str, clean: str) -> None:
    assert normalise(raw) == clean


@pytest.mark.parametrize(
    ("text", "chinese"),
    [
        ("这个app太烂了", True),
        ("外卖", True),
        ("今天天氣很好", True),
        ("I love 北京 so much", False),
        ("このラーメンは美味しい", False),
        ("서울 맛집 최고", False),
        ("Это плохо", False),
        ("good", False),
        ("", False),
        ("!!! 😀", False),
    ],
)
def test_is_chinese(text: str, chinese: bool) -> None:
    assert is_chinese(text) is chinese


def test_conversion_table_keeps_first_mapping_of_repeated_keys() -> None:
    table = parse_table('zh2hans = {"余": "余", "余": "馀", "畫": "划", "印表機": "打印机"}')
    assert table["余"] == "余"
    assert table["畫"] == "画"
    assert to_simplified("印表機壞了") == "打印机坏了"


def test_emoticon_codes() -> None:
    assert strip_codes("太慢了[怒][泪]") == "太慢了"
    assert codes_as_words("太慢了[怒]") == "太慢了 失望"
    assert codes_as_words("好吃[哈哈]") == "好吃 开心"
    assert codes_as_words("嗯[不存在的表情]") == "嗯"


def _snownlp_loop(text: str) -> str:
    """SnowNLP's conversion loop (``normal/zh.py``), the reference for ``to_simplified``."""
    from monitor.sentiment.hans import _table

    table, longest, starts = _table()
    out, pos, n = [], 0, len(text)
    while pos < n:
        if text[pos] in starts:
            for size in range(min(longest, n - pos), 1, -1):
                hit = table.get(text[pos : pos + size])
                if hit is not None:
                    out.append(hit)
                    pos += size
                    break
            else:
                out.append(table.get(text[pos], text[pos]))
                pos += 1
        else:
            out.append(table.get(text[pos], text[pos]))
            pos += 1
    return "".join(out)


def test_fast_conversion_equals_snownlps_loop() -> None:
    import random

    from monitor.sentiment.hans import _table, to_simplified

    table = _table()[0]
    keys = sorted(table)
    pieces = [*keys, *table.values(), "的", "是", "，", "a", " ", "😀", "乾", "著", "畫"]
    rng = random.Random(3)
    texts = ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 30))) for _ in range(3000)]
    texts += [k + k[:1] for k in keys if len(k) > 1] + [k[:-1] for k in keys if len(k) > 2]
    assert [to_simplified(t) for t in texts] == [_snownlp_loop(t) for t in texts]
