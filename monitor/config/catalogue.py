"""The product catalogue: product names and aliases, to tag posts and news with the
product they mention (``attrs["product"]``), so that ``group_by: [product]`` groups feed
items with the complaints about the same product.

```yaml
products:
  - name: 暖居 X3 电暖器          # the name used in groups (and by the CRM, ideally)
    aliases: [X3电暖器, 暖居X3, WarmHome X3, X3 heater]
```

Names and aliases are compared like rule keywords (any script variant, width or case) and
ignoring spaces ("暖居X3" finds "暖居 X3"); an alias that starts or ends with a letter or a
digit must stand apart from other letters and digits ("X3" does not find "X30"). An item
mentioning several products gets the one mentioned first. A complaint whose ``product``
attribute is an alias gets the canonical name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from pydantic import Field

from monitor.config.validation import Strict, validate
from monitor.config.yamlload import load_yaml
from monitor.errors import ConfigError, Problem
from monitor.text.normalise import for_matching

_SPACES = re.compile(r"\s+")


class Product(Strict):
    name: str = Field(min_length=1, description="The product's name, as groups show it")
    aliases: tuple[str, ...] = Field(default=(), description="Other ways people write it")


class CatalogueFile(Strict):
    products: tuple[Product, ...] = ()


def _form(text: str) -> str:
    return _SPACES.sub("", for_matching(text))


@dataclass(frozen=True)
class Catalogue:
    """Finds the product an item mentions. Empty catalogue: finds nothing."""

    products: tuple[Product, ...] = ()

    def __post_init__(self) -> None:
        names: dict[str, str] = {}
        for product in self.products:
            for alias in (product.name, *product.aliases):
                if _form(alias):
                    names.setdefault(_form(alias), product.name)
        object.__setattr__(self, "_names", names)
        parts = []
        for form in sorted(names, key=len, reverse=True):
            left = r"(?<![0-9a-z])" if form[0].isascii() and form[0].isalnum() else ""
            right = r"(?![0-9a-z])" if form[-1].isascii() and form[-1].isalnum() else ""
            parts.append(left + r"\s*".join(re.escape(ch) for ch in form) + right)
        object.__setattr__(self, "_pattern", re.compile("|".join(parts)) if parts else None)

    def find(self, norm: str) -> str | None:
        """The product first mentioned in a text (``for_matching`` form), or None."""
        pattern: re.Pattern[str] | None = getattr(self, "_pattern")  # noqa: B009
        if pattern is None:
            return None
        hit = pattern.search(norm)
        return None if hit is None else self.canonical(hit.group())

    def canonical(self, value: str) -> str | None:
        """The product's name when ``value`` is its name or an alias, else None."""
        names: dict[str, str] = getattr(self, "_names")  # noqa: B009
        return names.get(_form(value))


def load_catalogue(path: Path | None) -> Catalogue:
    """The catalogue in ``path`` (empty when None); ConfigError with ``path:line`` problems."""
    if path is None:
        return Catalogue()
    located = load_yaml(path)
    parsed, problems = validate(CatalogueFile, located, located.data if located.data is not None else {})
    if parsed is None:
        raise ConfigError(problems)
    seen: dict[str, tuple[str, int]] = {}
    for i, product in enumerate(parsed.products):
        for j, alias in enumerate((product.name, *product.aliases)):
            loc = ("products", i, "name") if j == 0 else ("products", i, "aliases", j - 1)
            line = located.line_of(loc)
            field = ".".join(str(p) for p in loc)
            form = _form(alias)
            if not form:
                problems.append(Problem(str(path), line, field, repr(alias), "a name with letters or characters"))
            elif form in seen and seen[form][0] != product.name:
                other, other_line = seen[form]
                problems.append(
                    Problem(
                        str(path),
                        line,
                        field,
                        repr(alias),
                        f"a name of one product only (also {other!r}, line {other_line})",
                    )
                )
            else:
                seen.setdefault(form, (product.name, line))
    if problems:
        raise ConfigError(problems)
    return Catalogue(parsed.products)
