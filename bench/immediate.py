"""Precision and recall of the keyword-driven rules on labelled texts, and the false alarms
of a calm-days replay.

    python bench/immediate.py [--part dev|heldout|heldout2|all] [--errors] [--no-replay]
                              [--reviews waimai_10k.csv] [--rules DIR]

1. **Selection.** Every text of ``tests/fixtures/immediate/{dev,heldout,heldout2}.jsonl`` goes
   through the daemon's ingest path (normalised, language, words, category, as
   ``crisismon backtest --items`` does) and each evaluated rule is asked whether it selects
   it (for an immediate rule: whether that text alone opens an incident). A text that names
   the rule in ``rules`` is a positive; selecting a text that names it in neither ``rules``
   nor ``may`` is a false positive. Per rule and part: TP, FP, FN, precision, recall.
   ``--errors`` lists the wrong texts, except for a part in ``UNSEEN`` (a held-out part
   nobody has read the errors of: it is for a reported figure, not for tuning; see the
   fixtures' README).
2. **Calm replay.** Eight calm days built from the part's negative texts (each three times,
   at random hours, seed 17; with ``--reviews``, also 800 real delivery reviews from that
   CSV as complaints: ``label,review``, e.g. ``zh-sentiment-dev/waimai_10k.csv``) are
   replayed through ``crisismon backtest --items`` with the shipped rules and the default
   config; every firing episode of an immediate rule is a false alarm.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import re
import subprocess
import sys
import tempfile
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.config.playbooks import load_playbooks
from monitor.config.rules import Immediate, Rule, leaves, load_rules
from monitor.detect.matching import selected_by_any
from monitor.models import Item, ScoredItem
from monitor.runtime.ingest import Ingestor
from monitor.runtime.metrics import Metrics
from monitor.store import open_store
from monitor.testing import FakeScorer
from monitor.text.classify import KeywordClassifier

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "immediate"
EVALUATED = (
    "product-harm-immediate",
    "product-hazard-immediate",
    "premises-emergency-immediate",
    "regulator-recall-immediate",
    "public-body-action-immediate",
    "disaster-reports",
    "sudden-event-complaints",
)
T0 = datetime(2026, 11, 1, tzinfo=UTC)
UNSEEN: tuple[str, ...] = ()
"""Held-out parts whose errors nobody has read (both rounds so far have been read: see README)."""


def load_part(name: str) -> list[dict[str, Any]]:
    path = FIXTURES / f"{name}.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def load_shipped(rules_dir: Path) -> list[Rule]:
    playbooks, _ = load_playbooks(ROOT / "playbooks")
    rules, problems = load_rules(
        rules_dir, playbooks=playbooks, sources=None, categories=KeywordClassifier.default().keys()
    )
    if problems:
        raise SystemExit("\n".join(str(p) for p in problems))
    return list(rules.rules)


def ingest(records: list[dict[str, Any]]) -> list[ScoredItem]:
    """The records through the ingest path (sentiment does not matter for selection)."""
    ingestor = Ingestor(open_store(":memory:"), FakeScorer(), KeywordClassifier.default(), Metrics())
    items: list[tuple[Item, float | None]] = [
        (Item(source=r["source"], id=r["id"], text=r["text"], published_at=T0, kind=_kind(r["source"])), 0.5)
        for r in records
    ]
    by_id = {s.item.id: s for s in ingestor.replay(items, T0)}
    return [by_id[r["id"]] for r in records]


def _kind(source: str) -> Any:
    return "complaint" if source == "complaints" else "post"


def score_part(
    rules: list[Rule], records: list[dict[str, Any]]
) -> tuple[dict[str, Counter[str]], dict[str, list[tuple[str, str]]]]:
    scored = ingest(records)
    counts: dict[str, Counter[str]] = {r: Counter() for r in EVALUATED}
    errors: dict[str, list[tuple[str, str]]] = {r: [] for r in EVALUATED}
    by_id = {r.id: r for r in rules}
    for record, item in zip(records, scored, strict=True):
        for rule_id in EVALUATED:
            rule = by_id[rule_id]
            if rule.sources and record["source"] not in rule.sources:
                continue
            chosen = selected_by_any(rule, item)
            wanted = rule_id in record["rules"]
            tolerated = rule_id in record.get("may", ())
            if chosen and wanted:
                counts[rule_id]["tp"] += 1
            elif chosen and not tolerated:
                counts[rule_id]["fp"] += 1
                errors[rule_id].append(("FP", f"[{record['kind']}] {record['text']}"))
            elif wanted:
                counts[rule_id]["fn"] += 1
                errors[rule_id].append(("FN", record["text"]))
    return counts, errors


def ratio(num: int, den: int) -> str:
    return f"{num / den:.3f}" if den else "  -  "


def table(name: str, counts: dict[str, Counter[str]]) -> list[str]:
    lines = [f"{name}:", f"  {'rule':<30} {'TP':>4} {'FP':>4} {'FN':>4}  {'precision':>9}  {'recall':>6}"]
    for rule_id, c in counts.items():
        tp, fp, fn = c["tp"], c["fp"], c["fn"]
        lines.append(f"  {rule_id:<30} {tp:>4} {fp:>4} {fn:>4}  {ratio(tp, tp + fp):>9}  {ratio(tp, tp + fn):>6}")
    return lines


def calm_days(records: list[dict[str, Any]], reviews: Path | None, seed: int = 17) -> list[dict[str, Any]]:
    """Eight days of calm traffic: the negatives three times each, plus real reviews."""
    rng = random.Random(seed)
    negatives = [r for r in records if not r["rules"]]
    out = []
    for copy in range(3):
        for r in negatives:
            at = T0 + timedelta(seconds=rng.randrange(8 * 86400))
            out.append({"id": f"{r['id']}-{copy}", "source": r["source"], "text": r["text"], "time": at.isoformat()})
    if reviews is not None:
        with reviews.open(encoding="utf-8") as handle:
            rows = [row["review"] for row in csv.DictReader(handle) if row.get("review")]
        for n, text in enumerate(rng.sample(rows, min(800, len(rows)))):
            at = T0 + timedelta(seconds=rng.randrange(8 * 86400))
            out.append({"id": f"review-{n}", "source": "complaints", "text": text, "time": at.isoformat()})
    out.sort(key=lambda r: r["time"])
    return out


def replay_false_alarms(records: list[dict[str, Any]], immediate: set[str]) -> tuple[int, Counter[str], int]:
    """Firing episodes per rule of ``crisismon backtest --items`` over the records."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "calm.jsonl"
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
        done = subprocess.run(
            [sys.executable, "-m", "monitor.cli.main", "backtest", "--items", str(path)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
    if done.returncode != 0:
        raise SystemExit(f"backtest failed ({done.returncode}): {done.stderr[-2000:]}")
    episodes: Counter[str] = Counter(
        {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\S+): (\d+) firing episode", done.stdout, re.M)}
    )
    return sum(n for r, n in episodes.items() if r in immediate), episodes, len(records)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", default="all", help="dev, heldout, heldout2 or all")
    parser.add_argument("--errors", action="store_true", help="list the wrong texts (dev only)")
    parser.add_argument("--no-replay", action="store_true", help="skip the calm-days replay")
    parser.add_argument("--reviews", type=Path, help="a label,review CSV of real reviews to add to the calm days")
    parser.add_argument("--rules", type=Path, default=ROOT / "rules", help="rules folder (default: the shipped rules)")
    ns = parser.parse_args()
    if ns.errors and (ns.part in UNSEEN or (ns.part == "all" and UNSEEN)):
        parser.error(f"--errors not on {', '.join(UNSEEN)}: a held-out part is not for tuning")
    rules = load_shipped(ns.rules)
    immediate = {r.id for r in rules if any(isinstance(leaf, Immediate) for leaf in leaves(r.condition))}
    parts = ["dev", "heldout", "heldout2"] if ns.part == "all" else [ns.part]
    for part in parts:
        records = load_part(part)
        counts, errors = score_part(rules, records)
        positives = sum(1 for r in records if r["rules"])
        print("\n".join(table(f"{part} ({len(records)} texts, {positives} positive)", counts)))
        if ns.errors:
            for rule_id, wrong in errors.items():
                for kind, text in wrong:
                    print(f"    {rule_id:<30} {kind} {text}")
        if not ns.no_replay:
            calm = calm_days(records, ns.reviews)
            alarms, episodes, n = replay_false_alarms(calm, immediate)
            shown = ", ".join(f"{r} {c}" for r, c in sorted(episodes.items()) if c) or "none"
            print(f"  calm replay, 8 days, {n} items: {alarms} immediate incident(s); episodes per rule: {shown}")
        print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
