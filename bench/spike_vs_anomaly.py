"""Should the shipped rules use ``anomaly`` where they use a fixed ``spike`` ratio?

    python bench/spike_vs_anomaly.py --data DIR [--windows FILE] [--rules DIR]

Replays NAB-format count series (NAB's realTweets are mention counts per 5 minutes, the
closest public stand-in for complaint and post volumes) through the rule engine's own
condition evaluation and signal state machine (``conditions.evaluate`` then
``state.step``), bucket by bucket, for every shipped rule whose condition is a ``count``
spike: once as shipped, once with the condition line replaced by ``anomaly: {metric:
count}`` (the rule defaults), keeping the rule's window, bucket, ``for`` and
``keep_firing_for``, and once more with ``for: 0s`` as well. A detection is the bucket
where the rule starts firing (an incident would open). It prints each variant's NAB
standard score and how many incidents it would have opened. Nothing here is tuned: the
spike settings are the shipped ones and the anomaly settings the defaults.
"""

from __future__ import annotations

import argparse
import bisect
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from nab_data import Scored, load_corpus, load_windows, score_facts

from bench import nab_score as nab
from monitor.config.durations import format_duration
from monitor.config.rules import Rule, SpikeCondition, load_rule_file
from monitor.detect.conditions import evaluate
from monitor.detect.running import DetectorMemo
from monitor.detect.state import RuleState, step
from monitor.detect.window import Observation
from monitor.models import SignalState

EPOCH = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday, on a bucket boundary
ANOMALY: dict[str, Any] = {"anomaly": {"metric": "count"}}


def count_spike_rules(rules_dir: Path) -> list[Rule]:
    """Shipped rules whose whole condition is a spike on ``count``."""
    out = []
    for path in sorted(rules_dir.glob("*.yaml")):
        entries, _ = load_rule_file(path)
        for rule, _, _ in entries:
            if isinstance(rule.condition, SpikeCondition) and rule.condition.spike.metric == "count":
                out.append(rule)
    return out


def with_anomaly(rule: Rule, **changes: object) -> Rule:
    data = rule.model_dump(by_alias=True, exclude={"condition"})
    return Rule.model_validate({**data, "condition": ANOMALY, "sources": (), "match": {}, **changes})


def replay(rule: Rule, values: Sequence[float]) -> list[bool]:
    """Rows where the rule would start firing (row i is the bucket ending at EPOCH + (i+1)·bucket)."""
    bucket = rule.bucket
    observations = [Observation(EPOCH + bucket * i + bucket / 2, int(v), None) for i, v in enumerate(values)]
    times = [o.at for o in observations]
    lookback = rule.lookback() + bucket
    memo = DetectorMemo()
    state = RuleState()
    out = []
    for i in range(len(values)):
        now = EPOCH + bucket * (i + 1)
        # a running anomaly detector only reads the new bucket (the same verdicts, faster)
        since = now - 2 * bucket if len(memo) else now - lookback
        recent = observations[bisect.bisect_left(times, since) : i + 1]
        verdict = evaluate(rule.condition, recent, now, rule, 0.3, EPOCH, memo, "series")
        before = state.state
        state = step(state, verdict.holds, now, rule.for_, rule.keep_firing_for)
        out.append(state.state == SignalState.FIRING and before != SignalState.FIRING)
    return out


def score(corpus: Sequence[Scored], rule: Rule) -> tuple[float, int, int]:
    raw = 0.0
    alerts = found = 0
    for s in corpus:
        values = [0.0 if v != v else max(v, 0.0) for v in s.series.values]  # NaN -> 0
        fired = replay(rule, values)
        r, f, _ = nab.alert_score(fired, s.rows)
        raw, found, alerts = raw + r, found + f, alerts + sum(fired)
    return raw, found, alerts


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--windows", type=Path, default=None)
    parser.add_argument("--rules", type=Path, default=Path(__file__).resolve().parents[1] / "rules")
    args = parser.parse_args(argv)
    windows, problems = load_windows(args.windows or args.data / "combined_windows.json")
    series, more = load_corpus(args.data)
    corpus, unscored = score_facts(series, windows)
    for p in problems + more + unscored:
        print(p, file=sys.stderr)
    n_windows = sum(s.n_windows for s in corpus)
    print(f"{len(corpus)} series, {n_windows} windows; NAB standard profile; a detection = the rule starts firing")
    print(f"  {'rule':<34} {'condition':<56} {'NAB':>6} {'found':>7} {'incidents':>9}")
    for rule in count_spike_rules(args.rules):
        spike = rule.condition.spike  # type: ignore[union-attr]
        shipped = (
            f"spike x{spike.ratio:g} vs {format_duration(spike.baseline)}, min {spike.min_current:g}, "
            f"window {format_duration(rule.window)}"
        )
        variants = (
            (shipped, rule),
            ("anomaly (rule defaults), the rule's own for", with_anomaly(rule)),
            ("anomaly (rule defaults), for: 0s", with_anomaly(rule, **{"for": "0s"})),
        )
        for label, variant in variants:
            raw, found, alerts = score(corpus, variant)
            nab_score = nab.normalise(raw, n_windows) if n_windows else raw
            print(f"  {rule.id:<34} {label:<56} {nab_score:>6.1f} {found:>3}/{n_windows:<3} {alerts:>9}")
    return 1 if problems or more or unscored else 0


if __name__ == "__main__":
    raise SystemExit(main())
