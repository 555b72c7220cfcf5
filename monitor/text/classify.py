"""Keyword classifier for the complaint categories of the domain brief (§1).

Keywords (Chinese and English, in ``data/categories.yaml``) are matched as words against
the prepared text, like rule keywords (``monitor.text.terms``): in any script variant,
and not where the text negates them ("不是质量问题").
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

import monitor
from monitor.text import prepare_cached
from monitor.text.terms import Keyword, TextIndex, compile_keywords, index_of

CATEGORIES_FILE = Path(monitor.__file__).resolve().parent / "data" / "categories.yaml"


@dataclass(frozen=True, slots=True)
class Category:
    key: str
    name: str
    name_en: str
    keywords: tuple[str, ...]

    def compiled(self) -> tuple[Keyword, ...]:
        return compile_keywords(self.keywords)


class KeywordClassifier:
    """The category whose keywords occur most often in a text; ties go to the earlier one."""

    def __init__(self, categories: list[Category]) -> None:
        self.categories = categories

    @classmethod
    def default(cls) -> KeywordClassifier:
        return cls(load_categories(CATEGORIES_FILE))

    def keys(self) -> list[str]:
        return [c.key for c in self.categories]

    def classify(self, text: str) -> str | None:
        """The category of a raw text (prepared here)."""
        return self.classify_tokens(prepare_cached("", text).tokens)

    def classify_tokens(self, tokens: str) -> str | None:
        """The category of a prepared text (``TextView.tokens``)."""
        return self.classify_index(index_of(tokens))

    def classify_index(self, index: TextIndex) -> str | None:
        best, best_hits = None, 0
        for category in self.categories:
            hits = sum(index.count(k) for k in category.compiled())
            if hits > best_hits:
                best, best_hits = category.key, hits
        return best


def load_categories(path: Path) -> list[Category]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [Category(c["key"], c["name"], c["name_en"], tuple(c["keywords"])) for c in data["categories"]]
