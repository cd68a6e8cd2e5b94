"""The categories file (docs/categories.md): one loader for the file both hosts read.

A unit names the same file in ``IBLAGH_CATEGORIES_FILE`` on both hosts; if each host
parsed it its own way, one could accept a file the other refuses. Both read it here into
neutral :class:`CategorySpec` values, and each app maps them to its own category type
(the public form's labels and explanations, the officer queue's priorities).
"""

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from crypto.contents import FOLLOWUP_CATEGORY
from crypto.errors import CategoriesFileError

# In queue order: urgent first.
PRIORITY_NAMES: Final = ("urgent", "high", "normal", "low")
REQUIRED_LANGUAGES: Final = ("ar", "fr", "en", "es")
# What a report body may carry as its category (crypto/contents.py reads it back).
CATEGORY_ID: Final = re.compile(r"[a-z0-9_]{1,32}")
RESERVED_IDS: Final = frozenset({FOLLOWUP_CATEGORY})
_KEYS: Final = frozenset({"id", "priority", "languages"})
_TEXT_KEYS: Final = ("label", "explanation")


@dataclass(frozen=True)
class CategorySpec:
    """One category as the file defines it, in every language it gives."""

    id: str
    priority: str
    labels: Mapping[str, str]
    explanations: Mapping[str, str]

    @property
    def urgent(self) -> bool:
        """Whether the category goes to the top of the queue."""
        return self.priority == "urgent"

    @property
    def priority_rank(self) -> int:
        """1 for urgent … 4 for low, the officer queue's ranks."""
        return PRIORITY_NAMES.index(self.priority) + 1


def load_category_specs(path: Path) -> tuple[CategorySpec, ...]:
    """Read and check a categories file; any problem raises :class:`CategoriesFileError`."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise CategoriesFileError(f"cannot read it as UTF-8 JSON: {exc}") from None
    return parse_category_specs(data)


def parse_category_specs(data: object) -> tuple[CategorySpec, ...]:
    """Check a parsed categories document; the error message names the piece to fix."""
    entries = data.get("categories") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        raise CategoriesFileError('it must be an object with a non-empty "categories" list')
    specs: list[CategorySpec] = []
    for position, entry in enumerate(entries, start=1):
        spec = _parse_entry(entry, f"category {position}")
        if any(known.id == spec.id for known in specs):
            raise CategoriesFileError(f'category "{spec.id}" appears twice')
        specs.append(spec)
    return tuple(specs)


def _parse_entry(entry: object, where: str) -> CategorySpec:
    if not isinstance(entry, dict):
        raise CategoriesFileError(f"{where} is not an object")
    category_id = entry.get("id")
    if not isinstance(category_id, str) or not CATEGORY_ID.fullmatch(category_id):
        raise CategoriesFileError(f'{where}: "id" must be 1 to 32 of a-z, 0-9 and _')
    where = f'category "{category_id}"'
    if category_id in RESERVED_IDS:
        raise CategoriesFileError(f"{where}: this id is reserved")
    if unknown := sorted(set(entry) - _KEYS):
        raise CategoriesFileError(f"{where}: unknown key {unknown[0]!r}")
    priority = entry.get("priority")
    if not isinstance(priority, str) or priority not in PRIORITY_NAMES:
        raise CategoriesFileError(f'{where}: "priority" must be one of {", ".join(PRIORITY_NAMES)}')
    languages = entry.get("languages")
    if not isinstance(languages, dict):
        raise CategoriesFileError(f'{where}: "languages" must be an object')
    texts: dict[str, dict[str, str]] = {key: {} for key in _TEXT_KEYS}
    for language in sorted(set(REQUIRED_LANGUAGES) | set(languages)):
        text = languages.get(language)
        if text is None:
            raise CategoriesFileError(f'{where}: the "{language}" language is missing')
        for key in _TEXT_KEYS:
            value = text.get(key) if isinstance(text, dict) else None
            if not isinstance(value, str) or not value.strip():
                raise CategoriesFileError(f'{where}: "{language}" has no "{key}"')
            texts[key][language] = value.strip()
    return CategorySpec(
        id=category_id,
        priority=priority,
        labels=texts["label"],
        explanations=texts["explanation"],
    )
