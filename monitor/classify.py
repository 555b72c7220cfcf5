"""Keyword classifier for the complaint categories of the domain brief (§1)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

CATEGORIES_FILE = Path(__file__).resolve().parent / "data" / "categories.yaml"


@dataclass(frozen=True, slots=True)
class Category:
    key: str
    name: str
    name_en: str
    keywords: tuple[str, ...]


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
        best, best_hits = None, 0
        for category in self.categories:
            hits = sum(text.count(k) for k in category.keywords)
            if hits > best_hits:
                best, best_hits = category.key, hits
        return best


def load_categories(path: Path) -> list[Category]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [Category(c["key"], c["name"], c["name_en"], tuple(c["keywords"])) for c in data["categories"]]
