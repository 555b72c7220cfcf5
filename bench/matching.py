"""What word-aware matching costs, against plain substrings, in the same run.

    python bench/matching.py [--items 5000]

Builds items from a set of complaint and post texts (Chinese, traditional, English),
prepares them once as ingest does, then times every shipped rule's selection over all of
them three ways: word-aware on the stored words (what evaluation does), the same keywords
as plain substrings (``substring: true``: the old behaviour, the baseline), and word-aware
on items that were not prepared at ingest (segmenting at every evaluation, for contrast).
Prints items per second and the ratios to the baseline.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.config.playbooks import load_playbooks
from monitor.config.rules import Rule, load_rules
from monitor.detect.matching import selected_by_any
from monitor.models import Item, ScoredItem
from monitor.runtime.ingest import score_items
from monitor.testing import FakeScorer
from monitor.text import prepare_cached
from monitor.text.classify import KeywordClassifier

ROOT = Path(__file__).resolve().parents[1]
TEXTS = [
    "暖居X3电暖器用了三天就不制热了，客服一直推脱，要求退货",
    "電暖器冒煙了，插頭都燒焦了，太嚇人",
    "这个问题让我被困扰了很久，物流也慢",
    "暴雨导致门店被淹，员工被困，等待救援",
    "快递送到的时候外箱整个压扁了，机器外壳磕掉一块漆",
    "My WarmHome heater caught fire and my son was burned",
    "The delivery was late again and support never answered",
    "今天不停电，门店正常营业，欢迎光临",
    "客服态度太差了，电话打了五次都说等通知，一个月没人上门",
    "市场监管总局责令暖居召回X3电暖器",
]


def build(n: int) -> list[ScoredItem]:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    items = [
        Item(
            source=["weibo", "news", "complaints"][i % 3],
            id=str(i),
            text=f"{TEXTS[i % len(TEXTS)]} #{i}",
            published_at=t0 + timedelta(seconds=i),
        )
        for i in range(n)
    ]
    return score_items(items, FakeScorer(), KeywordClassifier.default())


def timed(rules: list[Rule], items: list[ScoredItem]) -> float:
    start = time.perf_counter()
    for rule in rules:
        for s in items:
            selected_by_any(rule, s)
    return time.perf_counter() - start


def as_substring(rule: Rule) -> Rule:
    match = rule.match.model_copy(update={"substring": True})
    return rule.model_copy(update={"match": match})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=5000)
    ns = parser.parse_args()
    playbooks, _ = load_playbooks(ROOT / "playbooks")
    ruleset, problems = load_rules(
        ROOT / "rules", playbooks=playbooks, sources=None, categories=KeywordClassifier.default().keys()
    )
    assert not problems, problems
    rules = ruleset.rules
    items = build(ns.items)
    timed(rules, items[:200])  # warm-up: jieba, compiled keywords
    baseline = timed([as_substring(r) for r in rules], items)
    words = timed(rules, items)
    prepare_cached.cache_clear()
    raw = [replace(s, tokens=None) for s in items]
    unprepared = timed(rules, raw)
    n = len(items) * len(rules)
    print(f"{len(items)} items x {len(rules)} rules = {n} selections")
    print(f"substring (baseline):        {n / baseline:12,.0f} selections/s")
    print(
        f"words, prepared at ingest:   {n / words:12,.0f} selections/s  ({words / baseline:.2f}x the baseline's time)"
    )
    print(f"words, segmented each time:  {n / unprepared:12,.0f} selections/s  ({unprepared / baseline:.2f}x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
