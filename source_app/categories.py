"""The report categories (docs/categories.md): ids on the wire, translated labels on the page.

The built-in set below is translated through the catalogs; a unit may replace it with
its own, in every language, named by ``IBLAGH_CATEGORIES_FILE`` (docs/categories.md).
"""

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from flask import has_request_context
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString

from crypto.contents import FOLLOWUP_CATEGORY


@dataclass(frozen=True)
class Category:
    """A category id, its label and one plain sentence with examples."""

    id: str
    label: "LazyString | Localised"
    explanation: "LazyString | Localised"
    urgent: bool = False


DEFAULT_CATEGORIES: tuple[Category, ...] = (
    Category(
        "child_abuse",
        _l("Child sexual abuse or exploitation"),
        _l("Images, videos or messages that sexualise or exploit children, or grooming."),
        urgent=True,
    ),
    Category(
        "terrorism",
        _l("Terrorism"),
        _l("Glorification of or incitement to terrorism, propaganda, recruitment."),
        urgent=True,
    ),
    Category(
        "threat_to_life",
        _l("Imminent threat to life"),
        _l("Someone announces they will kill or hurt someone, or themselves, soon."),
        urgent=True,
    ),
    Category(
        "sextortion",
        _l("Sextortion and intimate images shared without consent"),
        _l("Threats to publish intimate images, or such images published."),
    ),
    Category(
        "incitement",
        _l("Incitement to violence or crime, threats"),
        _l("Calls to attack people or groups, threats against a person."),
    ),
    Category(
        "hate",
        _l("Hate and discrimination"),
        _l("Content that attacks people for their origin, religion, sex or disability."),
    ),
    Category(
        "fraud",
        _l("Fraud, scams and extortion"),
        _l("Fake shops, phishing, investment scams, blackmail for money."),
    ),
    Category(
        "illicit_trade",
        _l("Illicit trade"),
        _l("Sale of drugs, counterfeit medicines, weapons or human organs."),
    ),
    Category(
        "endangering",
        _l("Endangering others"),
        _l("Dangerous challenges, instructions to harm, content that puts people at risk."),
    ),
    Category(
        "other",
        _l("Other criminal content"),
        _l("Anything else you believe breaks the law."),
    ),
)

CATEGORY_IDS = frozenset(category.id for category in DEFAULT_CATEGORIES)

# The format of IBLAGH_CATEGORIES_FILE (docs/categories.md); the officer host reads the
# same file with its own loader (journalist_app/triage/categories.py).
PRIORITY_NAMES = ("urgent", "high", "normal", "low")
REQUIRED_LANGUAGES = ("ar", "fr", "en", "es")
_ID = re.compile(r"[a-z0-9_]{1,32}")
_RESERVED_IDS = frozenset({FOLLOWUP_CATEGORY})
_KEYS = frozenset({"id", "priority", "languages"})


class CategoriesFileError(ValueError):
    """The categories file cannot be used; the message names the piece to fix."""


@dataclass(frozen=True)
class Localised:
    """Configured text in every language, shown in the page's language."""

    texts: Mapping[str, str]

    def __str__(self) -> str:
        locale = get_locale() if has_request_context() else None
        language = locale.language if locale is not None else REQUIRED_LANGUAGES[0]
        return self.texts.get(language) or self.texts[REQUIRED_LANGUAGES[0]]


def load_categories(path: Path) -> tuple[Category, ...]:
    """Read and check a categories file; any problem raises :class:`CategoriesFileError`."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CategoriesFileError(f"cannot read it as UTF-8 JSON: {exc}") from None
    entries = data.get("categories") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        raise CategoriesFileError('it must be an object with a non-empty "categories" list')
    categories: list[Category] = []
    for position, entry in enumerate(entries, start=1):
        where = f"category {position}"
        if not isinstance(entry, dict):
            raise CategoriesFileError(f"{where} is not an object")
        category_id = entry.get("id")
        if not isinstance(category_id, str) or not _ID.fullmatch(category_id):
            raise CategoriesFileError(f'{where}: "id" must be 1 to 32 of a-z, 0-9 and _')
        where = f'category "{category_id}"'
        if category_id in _RESERVED_IDS:
            raise CategoriesFileError(f"{where}: this id is reserved")
        if any(c.id == category_id for c in categories):
            raise CategoriesFileError(f"{where} appears twice")
        if unknown := sorted(set(entry) - _KEYS):
            raise CategoriesFileError(f"{where}: unknown key {unknown[0]!r}")
        if entry.get("priority") not in PRIORITY_NAMES:
            raise CategoriesFileError(
                f'{where}: "priority" must be one of {", ".join(PRIORITY_NAMES)}'
            )
        languages = entry.get("languages")
        if not isinstance(languages, dict):
            raise CategoriesFileError(f'{where}: "languages" must be an object')
        labels: dict[str, str] = {}
        explanations: dict[str, str] = {}
        for language in sorted(set(REQUIRED_LANGUAGES) | set(languages)):
            text = languages.get(language)
            if text is None:
                raise CategoriesFileError(f'{where}: the "{language}" language is missing')
            for key, out in (("label", labels), ("explanation", explanations)):
                value = text.get(key) if isinstance(text, dict) else None
                if not isinstance(value, str) or not value.strip():
                    raise CategoriesFileError(f'{where}: "{language}" has no "{key}"')
                out[language] = value.strip()
        categories.append(
            Category(
                category_id,
                Localised(labels),
                Localised(explanations),
                urgent=entry["priority"] == "urgent",
            )
        )
    return tuple(categories)
