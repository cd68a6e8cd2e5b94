"""Report categories as the officer host ranks them: priority, deadline, label.

The officer app cannot import ``source_app`` (the two apps share only ``crypto``), so the
category ids the public form sends are listed again here, with what only the officer
side needs: a priority and the deadline (SLA) that goes with it. It is data: a unit
changes the table, not the code. An id the table does not know (a newer public host) is
ranked ``UNKNOWN_CATEGORY_PRIORITY``; a report not yet read counts as urgent
(``UNREAD_PRIORITY``) until it is, so that nothing urgent waits behind a locked body.
"""

from dataclasses import dataclass
from datetime import timedelta

from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString

from crypto.contents import FOLLOWUP_CATEGORY


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
class Category:
    id: str
    priority: int
    label: LazyString


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
CATEGORY_BY_ID: dict[str, Category] = {category.id: category for category in CATEGORIES}

UNREAD_PRIORITY = 1
UNKNOWN_CATEGORY_PRIORITY = 3
# Categories whose pictures are not loaded until an officer asks (officer welfare).
PICTURES_ON_REQUEST = frozenset({"child_abuse"})


def category_priority(category_id: str | None) -> int:
    """The rank of a report of this category; ``None`` means not read yet."""
    if category_id is None:
        return UNREAD_PRIORITY
    known = CATEGORY_BY_ID.get(category_id)
    return known.priority if known else UNKNOWN_CATEGORY_PRIORITY


def category_order(category_id: str | None) -> tuple[int, int]:
    """Sort key: most urgent first, then the table's order; unknown ids last in their rank."""
    index = next((i for i, c in enumerate(CATEGORIES) if c.id == category_id), len(CATEGORIES))
    return category_priority(category_id), index


def category_label(category_id: str | None) -> str:
    if category_id is None:
        return str(_l("Not read yet"))
    if category_id == FOLLOWUP_CATEGORY:
        return str(_l("Follow-up to an earlier report"))
    known = CATEGORY_BY_ID.get(category_id)
    return str(known.label) if known else category_id


def sla_for(priority: int) -> timedelta:
    return PRIORITIES.get(priority, PRIORITIES[max(PRIORITIES)]).sla
