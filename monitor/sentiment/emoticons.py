"""Weibo emoticon codes (``[怒]``, ``[泪]``, ``[哈哈]``...) and what to do with them.

SnowNLP sees ``[哈哈]`` as the tokens ``[``, ``哈哈``, ``]``, so a code counts as whatever
its name happens to weigh in SnowNLP's review-trained model: ``[泪]`` ("tears") alone
scores 0.92, strongly positive, ``[哈哈]`` 0.53, ``[怒]`` 0.36. With ``use_emoticons`` each known
code is replaced by a word that SnowNLP's model reads with the code's polarity, and
unknown codes are dropped; without it every code is dropped. ``docs/sentiment.md`` has
the measurements behind the default.
"""

from __future__ import annotations

import re

CODE = re.compile(r"\[([^\[\]\s]{1,8})\]")

POSITIVE = frozenset(
    [
        "哈哈",
        "嘻嘻",
        "爱你",
        "心",
        "赞",
        "good",
        "鼓掌",
        "太开心",
        "开心",
        "笑cry",
        "偷笑",
        "可爱",
        "亲亲",
        "耶",
        "威武",
        "给力",
        "好喜欢",
        "害羞",
        "酷",
        "兔子",
        "礼物",
        "花心",
        "微笑",
        "愛你",
        "ok",
        "好爱哦",
        "馋嘴",
        "憧憬",
        "飞吻",
        "色",
        "鲜花",
        "抱抱",
        "互粉",
        "围观",
        "得意地笑",
        "挤眼",
        "太阳",
        "赞啊",
        "哇",
        "喜",
    ]
)
NEGATIVE = frozenset(
    [
        "怒",
        "泪",
        "抓狂",
        "衰",
        "鄙视",
        "怒骂",
        "生病",
        "失望",
        "伤心",
        "委屈",
        "晕",
        "吐",
        "弱",
        "心碎",
        "悲伤",
        "哼",
        "汗",
        "可怜",
        "拜拜",
        "闭嘴",
        "打脸",
        "费解",
        "黑线",
        "哈欠",
        "困",
        "左哼哼",
        "右哼哼",
        "囧",
        "蜡烛",
        "最差",
        "疑问",
        "生气",
        "崩溃",
        "哭",
        "泪流满面",
        "吃惊",
        "惊恐",
        "怒火",
        "no",
        "不要",
        "傻眼",
        "允悲",
        "并不简单",
        "跪了",
        "摊手",
        "二哈",
        "浮云",
        "阴险",
    ]
)
# Words SnowNLP's own model reads clearly one way or the other (0.74 and 0.15 alone;
# 难过 "sad" would not do: it scores 0.75).
POSITIVE_WORD = "开心"
NEGATIVE_WORD = "失望"


def strip_codes(text: str) -> str:
    """``text`` without any emoticon code."""
    return CODE.sub(" ", text).strip()


def codes_as_words(text: str) -> str:
    """Known codes replaced by a word of the same polarity; unknown codes dropped."""
    return CODE.sub(_word, text).strip()


def polarity_counts(text: str) -> tuple[int, int]:
    """How many known positive and known negative codes ``text`` contains."""
    pos = neg = 0
    for name in CODE.findall(text):
        pos += name in POSITIVE
        neg += name in NEGATIVE
    return pos, neg


def _word(match: re.Match[str]) -> str:
    name = match.group(1)
    if name in POSITIVE:
        return f" {POSITIVE_WORD} "
    if name in NEGATIVE:
        return f" {NEGATIVE_WORD} "
    return " "
