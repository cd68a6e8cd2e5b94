"""Report categories as the officer host ranks them: priority, deadline, label.

The officer app cannot import ``source_app`` (the two apps share only ``crypto``), so the
category ids the public form sends are listed again here, with what only the officer
side needs: a priority and the deadline (SLA) that goes with it. It is data: a unit
changes the table, not the code. An id the table does not know (a newer public host) is
ranked ``UNKNOWN_CATEGORY_PRIORITY``; a report not yet read counts as urgent
(``UNREAD_PRIORITY``) until it is, so that nothing urgent waits behind a locked body.

A unit may replace the built-in set with ``IBLAGH_CATEGORIES_FILE`` (docs/categories.md),
the same file the public host reads; :func:`load_categories` is this side's loader. The
app installs its set (:func:`install`); the CLI, with no app, sets the process's.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from flask import Flask, current_app, has_app_context, has_request_context
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString

from crypto.categories import PRIORITY_NAMES as SPEC_PRIORITIES
from crypto.categories import REQUIRED_LANGUAGES as REQUIRED_LANGUAGES
from crypto.categories import load_category_specs
from crypto.contents import FOLLOWUP_CATEGORY
from crypto.errors import CategoriesFileError as CategoriesFileError


@dataclass(frozen=True)
class Priority:
    """A rank in the queue (1 comes first) and the time allowed before a case is triaged."""

    rank: int
    label: LazyString
    sla_hours: int

    @property
    def sla(self) -> timedelta:
        return timedelta(hours=self.sla_hours)


@dataclass(frozen=True)
class Localised:
    """A configured label in every language, shown in the officer's."""

    texts: Mapping[str, str]

    def __str__(self) -> str:
        locale = get_locale() if has_request_context() else None
        language = locale.language if locale is not None else _FALLBACK_LANGUAGE
        return self.texts.get(language) or self.texts[_FALLBACK_LANGUAGE]


@dataclass(frozen=True)
class Category:
    id: str
    priority: int
    label: LazyString | Localised


PRIORITIES: dict[int, Priority] = {
    p.rank: p
    for p in (
        Priority(1, _l("Urgent"), sla_hours=2),
        Priority(2, _l("High"), sla_hours=24),
        Priority(3, _l("Normal"), sla_hours=72),
        Priority(4, _l("Low"), sla_hours=168),
    )
}

CATEGORIES: tuple[Category, ...] = (
    Category("child_abuse", 1, _l("Child sexual abuse or exploitation")),
    Category("terrorism", 1, _l("Terrorism")),
    Category("threat_to_life", 1, _l("Imminent threat to life")),
    Category("sextortion", 2, _l("Sextortion and intimate images shared without consent")),
    Category("incitement", 2, _l("Incitement to violence or crime, threats")),
    Category("hate", 3, _l("Hate and discrimination")),
    Category("fraud", 3, _l("Fraud, scams and extortion")),
    Category("illicit_trade", 3, _l("Illicit trade")),
    Category("endangering", 3, _l("Endangering others")),
    Category("other", 4, _l("Other criminal content")),
)

UNREAD_PRIORITY = 1
UNKNOWN_CATEGORY_PRIORITY = 3
# Categories whose pictures are not loaded until an officer asks (officer welfare).
PICTURES_ON_REQUEST = frozenset({"child_abuse"})


def category_priority(category_id: str | None) -> int:
    """The rank of a report of this category; ``None`` means not read yet."""
    if category_id is None:
        return UNREAD_PRIORITY
    known = next((c for c in active_categories() if c.id == category_id), None)
    return known.priority if known else UNKNOWN_CATEGORY_PRIORITY


def category_order(category_id: str | None) -> tuple[int, int]:
    """Sort key: most urgent first, then the table's order; unknown ids last in their rank."""
    table = active_categories()
    index = next((i for i, c in enumerate(table) if c.id == category_id), len(table))
    return category_priority(category_id), index


def category_label(category_id: str | None) -> str:
    """The label in the officer's language; a retired or unknown category shows its id."""
    if category_id is None:
        return str(_l("Not read yet"))
    if category_id == FOLLOWUP_CATEGORY:
        return str(_l("Follow-up to an earlier report"))
    known = next((c for c in active_categories() if c.id == category_id), None)
    return str(known.label) if known else category_id


def sla_for(priority: int) -> timedelta:
    return PRIORITIES.get(priority, PRIORITIES[max(PRIORITIES)]).sla


# The categories file (docs/categories.md) is read by crypto/categories.py, the one loader
# both hosts share; here its specs become this side's Category.
PRIORITY_NAMES = {name: rank for rank, name in enumerate(SPEC_PRIORITIES, start=1)}
_FALLBACK_LANGUAGE = "fr"
_EXTENSION = "iblagh_categories"
_process_categories: tuple[Category, ...] = CATEGORIES


def load_categories(path: Path) -> tuple[Category, ...]:
    """Read and check a categories file; any problem raises :class:`CategoriesFileError`."""
    return tuple(
        Category(spec.id, spec.priority_rank, Localised(spec.labels))
        for spec in load_category_specs(path)
    )


def install(app: Flask, categories: tuple[Category, ...]) -> None:
    """Make ``categories`` the set this app ranks and labels by."""
    app.extensions[_EXTENSION] = categories


def use_process_categories(categories: tuple[Category, ...]) -> None:
    """The set used outside any app (the CLI's sync and import)."""
    global _process_categories
    _process_categories = categories


def active_categories() -> tuple[Category, ...]:
    """The current app's set, else the process's (built-in unless the CLI set one)."""
    if has_app_context():
        installed: tuple[Category, ...] | None = current_app.extensions.get(_EXTENSION)
        if installed is not None:
            return installed
    return _process_categories
