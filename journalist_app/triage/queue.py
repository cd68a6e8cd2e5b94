"""The triage queue: most urgent first, then oldest, filtered, paged by key, never by offset.

Order is ``(priority, received, id)``, the columns of ``ix_cases_queue`` and of each
``ix_cases_<filter>_queue`` index behind one equality filter (models/case.py). A page
is "the next N rows after this key" (``WHERE (priority, received, id) > (?, ?, ?)``), so
page 10 000 costs what page 1 costs, and a case added or closed while an officer pages
neither repeats nor skips another: each case appears once, in order.

SLA: a case should leave ``new`` within its priority's time (categories.py). The
deadline is a column (``sla_due_at``) so that "overdue" is an index range too.
"""

import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Literal

from sqlalchemy import ColumnElement, and_, func, select, text, tuple_
from sqlalchemy.orm import Session

from journalist_app.models import Case, Officer
from journalist_app.roles import Permission, Principal, requires
from journalist_app.triage import statuses
from journalist_app.triage.territories import REGION_PREFIX

PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
# Shown as "due soon" this long before the deadline.
DUE_SOON = timedelta(hours=1)
STATUS_FILTERS = ("open", "all", *statuses.STATUSES)
ASSIGNEE_ANYONE, ASSIGNEE_ME, ASSIGNEE_NOBODY = "", "me", "none"
_CURSOR = re.compile(r"([1-9])\.(\d{1,18})\.(\d{1,18})")
_EPOCH = datetime(1970, 1, 1)
_MICROSECOND = timedelta(microseconds=1)

SlaState = Literal["overdue", "due_soon", "running", "met", "missed"]


@dataclass(frozen=True)
class QueueFilters:
    """What the officer asked for; each field narrows the queue, empty means "any"."""

    status: str = "open"
    category: str = ""
    territory: str = ""
    assignee: str = ASSIGNEE_ANYONE
    received_from: date | None = None
    received_to: date | None = None
    overdue: bool = False

    def as_args(self) -> dict[str, str]:
        """The query string that asks for these filters again (for paging links)."""
        args = {
            "status": self.status,
            "category": self.category,
            "territory": self.territory,
            "assignee": self.assignee,
            "from": self.received_from.isoformat() if self.received_from else "",
            "to": self.received_to.isoformat() if self.received_to else "",
            "overdue": "1" if self.overdue else "",
        }
        return {name: value for name, value in args.items() if value}


@dataclass(frozen=True, order=True)
class Cursor:
    """A position in the queue: the sort key of a row."""

    priority: int
    received: datetime
    id: int

    def encode(self) -> str:
        return f"{self.priority}.{(self.received - _EPOCH) // _MICROSECOND}.{self.id}"

    @classmethod
    def decode(cls, text: str) -> "Cursor | None":
        match = _CURSOR.fullmatch(text or "")
        if match is None:
            return None
        priority, microseconds, case_id = (int(group) for group in match.groups())
        try:
            received = _EPOCH + microseconds * _MICROSECOND
        except OverflowError:
            return None
        return cls(priority, received, case_id)

    @classmethod
    def of(cls, case: Case) -> "Cursor":
        return cls(case.priority, case.received, case.id)


@dataclass(frozen=True)
class QueueRow:
    case: Case
    assignee: str | None
    sla_state: SlaState
    # Positive: time left; negative: late by that much.
    sla_left: timedelta


@dataclass(frozen=True)
class QueuePage:
    rows: list[QueueRow]
    filters: QueueFilters
    next_cursor: Cursor | None
    previous_cursor: Cursor | None
    overdue_count: int = 0
    unread_count: int = 0
    extra: dict[str, int] = field(default_factory=dict)


def sla_state(case: Case, now: datetime) -> tuple[SlaState, timedelta]:
    """Where a case stands against its deadline."""
    left = case.sla_due_at - now
    if case.triaged_at is not None and case.status != statuses.NEW:
        return ("met" if case.triaged_at <= case.sla_due_at else "missed"), left
    if left < timedelta(0):
        return "overdue", left
    return ("due_soon" if left <= DUE_SOON else "running"), left


@requires(Permission.REPORTS_LIST)
def queue_page(
    session: Session,
    actor: Principal,
    filters: QueueFilters,
    *,
    after: Cursor | None = None,
    before: Cursor | None = None,
    limit: int = PAGE_SIZE,
    now: datetime,
    officer_id: int | None = None,
) -> QueuePage:
    """One page of the queue after ``after`` (or before ``before``), in queue order."""
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    query = (
        select(Case, Officer.username)
        .outerjoin(Officer, Officer.id == Case.assignee_id)
        .where(*_conditions(filters, now, officer_id))
    )
    key = tuple_(Case.priority, Case.received, Case.id)
    if before is not None:
        query = query.where(key < tuple_(before.priority, before.received, before.id))
        found = session.execute(
            query.order_by(Case.priority.desc(), Case.received.desc(), Case.id.desc()).limit(
                limit + 1
            )
        ).all()
        more_before, more_after = len(found) > limit, True
        found = list(reversed(found[:limit]))
    else:
        if after is not None:
            query = query.where(key > tuple_(after.priority, after.received, after.id))
        found = session.execute(
            query.order_by(Case.priority, Case.received, Case.id).limit(limit + 1)
        ).all()
        more_before, more_after = after is not None, len(found) > limit
        found = list(found[:limit])
    shown = []
    for case, username in found:
        state, left = sla_state(case, now)
        shown.append(QueueRow(case, username, state, left))
    return QueuePage(
        rows=shown,
        filters=filters,
        next_cursor=Cursor.of(shown[-1].case) if shown and more_after else None,
        previous_cursor=Cursor.of(shown[0].case) if shown and more_before else None,
    )


def with_counts(session: Session, page: QueuePage, now: datetime) -> QueuePage:
    """Add the two numbers the queue's banner shows (each an index range count)."""
    overdue = session.scalar(
        select(func.count())
        .select_from(Case)
        .where(Case.status == statuses.NEW, Case.sla_due_at < now)
    )
    # Any case holding a report nobody read (ix_cases_unread): few, whatever their status.
    unread = session.scalar(select(func.count()).select_from(Case).where(Case.unread_count > 0))
    return replace(page, overdue_count=overdue or 0, unread_count=unread or 0)


def refresh_planner_statistics(session: Session) -> None:
    """Let SQLite's planner know how selective each queue index is. Commits.

    Without statistics, SQLite prefers "open cases" over "this province" even when the
    province holds fewer cases, and scans thousands of rows for one page. ANALYZE with
    a sampling limit takes milliseconds at a million cases; each sync runs it
    (``index_pending``). PostgreSQL keeps its statistics itself (autovacuum).
    """
    if session.get_bind().dialect.name != "sqlite":
        return
    session.execute(text("PRAGMA analysis_limit=1000"))
    session.execute(text("ANALYZE cases"))
    session.commit()


def _conditions(
    filters: QueueFilters, now: datetime, officer_id: int | None
) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if filters.status == "open":
        conditions.append(Case.is_open.is_(True))
    elif filters.status in statuses.STATUSES:
        conditions.append(Case.status == filters.status)
    else:
        conditions.append(Case.status != statuses.MERGED)
    if filters.category:
        conditions.append(Case.category == filters.category)
    if filters.territory.startswith(REGION_PREFIX):
        conditions.append(Case.region_code == filters.territory[len(REGION_PREFIX) :])
    elif filters.territory:
        conditions.append(Case.territory_code == filters.territory)
    if filters.assignee == ASSIGNEE_NOBODY:
        conditions.append(Case.assignee_id.is_(None))
    elif filters.assignee == ASSIGNEE_ME:
        conditions.append(Case.assignee_id == (officer_id if officer_id is not None else -1))
    elif filters.assignee.isdigit():
        conditions.append(Case.assignee_id == int(filters.assignee))
    if filters.received_from:
        conditions.append(Case.received >= _midnight(filters.received_from))
    if filters.received_to and filters.received_to < date.max:  # 9999-12-31: no end
        conditions.append(Case.received < _midnight(filters.received_to) + timedelta(days=1))
    if filters.overdue:
        conditions.append(and_(Case.status == statuses.NEW, Case.sla_due_at < now))
    return conditions


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day)


def parse_filters(args: dict[str, str]) -> QueueFilters:
    """Filters from a query string; anything malformed is ignored rather than an error."""
    status = args.get("status", "open")
    return QueueFilters(
        status=status if status in STATUS_FILTERS else "open",
        category=_bounded(args.get("category", ""), r"[a-z0-9_]{1,32}"),
        territory=_bounded(args.get("territory", ""), r"(region:)?[0-9.]{1,16}"),
        assignee=_bounded(args.get("assignee", ""), r"me|none|[0-9]{1,12}"),
        received_from=_date(args.get("from", "")),
        received_to=_date(args.get("to", "")),
        overdue=args.get("overdue") == "1",
    )


def _bounded(value: str, pattern: str) -> str:
    return value if re.fullmatch(pattern, value) else ""


def _date(value: str) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None
