"""The crisis-term layer: counts words that mark harm, disasters, accidents and legal trouble.

SnowNLP, trained on product reviews, reads "电暖器起火，孩子被烫伤送医院了" as positive (0.88):
nothing in a review corpus says that 起火 is bad. The lexicon (``data/crisis_terms.txt``,
written for crisismon from the domain brief's crisis types and complaint categories) gives the
model a feature that it learns to weigh from our own crisis sentences. A text's count is the
number of distinct terms it contains.
"""

from __future__ import annotations

import re
from pathlib import Path

from monitor.sentiment.errors import BadInput
from monitor.text.lazy import once

LEXICON = Path(__file__).resolve().parent / "data" / "crisis_terms.txt"


def read_lexicon(path: Path = LEXICON) -> dict[str, str]:
    """term -> category, from a lexicon file; an error with path:line for a malformed line."""
    terms: dict[str, str] = {}
    category: str | None = None
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"cannot read the crisis lexicon {path}: {exc}") from exc
    for number, raw in enumerate(lines, 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("[") and line.endswith("]") and len(line) > 2:
            category = line[1:-1].strip()
        elif category is None:
            raise BadInput(f"{path}:{number}: found the term {line!r} before any [category] line")
        elif any(ch.isspace() for ch in line):
            raise BadInput(f"{path}:{number}: found {line!r}, expected one term per line (no spaces)")
        else:
            terms.setdefault(line, category)
    if not terms:
        raise BadInput(f"{path}: no terms found, expected [category] lines followed by terms")
    return terms


@once
def _pattern() -> re.Pattern[str]:
    terms = sorted(read_lexicon(), key=lambda t: (-len(t), t))
    return re.compile("|".join(map(re.escape, terms)))


def find_terms(text: str) -> set[str]:
    """The distinct lexicon terms in ``text`` (longest match at each position)."""
    return set(_pattern().findall(text))


def count_terms(text: str) -> int:
    """How many distinct lexicon terms ``text`` contains."""
    return len(find_terms(text))
