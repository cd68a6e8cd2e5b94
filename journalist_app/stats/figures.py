"""Dashboard figures: counts and delays over a period, by category and territory.

Each figure is computed in the database (grouped counts) or from one narrow column pair,
never by opening an envelope. Days are UTC days of the reception hour the public host
gives (it keeps hours only); weeks are ISO weeks (Monday first).
"""

import statistics
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, Subquery, and_, case, func, or_, select
from sqlalchemy.orm import Session

from journalist_app.clock import utc_now
from journalist_app.models import Case, CaseEvent, Officer, Report, ReportTriage
from journalist_app.triage import statuses
from journalist_app.triage.events import TriageAction
from journalist_app.triage.territories import REGION_PREFIX, territories

# The clear fields each figure reads (shown on the page, and in the CSV's first lines).
SOURCES: dict[str, tuple[str, ...]] = {
    "reports_by_day": ("reports.received_hour", "report_triage.case_id"),
    "cases_by_day": ("cases.received",),
    "by_category": ("cases.category",),
    "by_territory": ("cases.territory_code", "cases.region_code"),
    "by_kind": ("reports.kind",),
    "delays": (
        "cases.received",
        "cases.triaged_at",
        "case_events.at / action / details.to (first referral)",
        "case_events.at / action (first reply or status notice to the reporter)",
    ),
    "deadlines": ("cases.sla_due_at", "cases.triaged_at", "cases.status"),
    "open_per_officer": ("cases.is_open", "cases.assignee_id", "officers.username"),
    "hash_matches": ("cases.hash_label",),
    "outcomes": ("cases.status", "cases.close_reason"),
}
# Not kept on the officer host: the public host does not tell which door (web, onion) a
# report came through, so no figure is "by channel" (docs/retention.md says why).
CHANNEL_KNOWN = False
UNASSIGNED = ""
NO_CATEGORY = ""
NO_TERRITORY = ""


@dataclass(frozen=True)
class StatsFilter:
    """The period (UTC days, both ends included), and optionally one category and territory."""

    start: date
    end: date
    category: str | None = None
    # A prefecture or province code, or "region:<code>" for a whole region.
    territory: str | None = None

    @classmethod
    def last_days(cls, days: int, today: date | None = None, **kwargs: Any) -> "StatsFilter":
        today = today or utc_now().date()
        return cls(start=today - timedelta(days=days - 1), end=today, **kwargs)

    @property
    def since(self) -> datetime:
        return datetime.combine(self.start, time.min)

    @property
    def until(self) -> datetime:
        """The first instant after the period."""
        return datetime.combine(self.end + timedelta(days=1), time.min)

    def case_conditions(self) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = [Case.status != statuses.MERGED]
        if self.category:
            conditions.append(Case.category == self.category)
        if self.territory:
            if self.territory.startswith(REGION_PREFIX):
                conditions.append(Case.region_code == self.territory[len(REGION_PREFIX) :])
            else:
                conditions.append(Case.territory_code == self.territory)
        return conditions

    def query_args(self) -> dict[str, str]:
        args = {"start": self.start.isoformat(), "end": self.end.isoformat()}
        if self.category:
            args["category"] = self.category
        if self.territory:
            args["territory"] = self.territory
        return args


@dataclass(frozen=True)
class Delay:
    """How long something took, over the cases it happened to (hours)."""

    count: int
    median_hours: float | None
    p90_hours: float | None

    @classmethod
    def of(cls, hours: list[float]) -> "Delay":
        if not hours:
            return cls(0, None, None)
        ordered = sorted(hours)
        p90 = ordered[min(len(ordered) - 1, max(0, -(-len(ordered) * 9 // 10) - 1))]
        return cls(len(ordered), round(statistics.median(ordered), 2), round(p90, 2))


@dataclass(frozen=True)
class Deadlines:
    met: int
    missed: int
    # Still new and not yet due.
    running: int


@dataclass
class Figures:
    filter: StatsFilter
    reports_by_day: dict[date, int] = field(default_factory=dict)
    cases_by_day: dict[date, int] = field(default_factory=dict)
    by_category: dict[str, int] = field(default_factory=dict)
    by_territory: dict[str, int] = field(default_factory=dict)
    by_kind: dict[str, int] = field(default_factory=dict)
    outcomes: dict[str, int] = field(default_factory=dict)
    to_triage: Delay = Delay(0, None, None)
    to_referral: Delay = Delay(0, None, None)
    to_acknowledgement: Delay = Delay(0, None, None)
    deadlines: Deadlines = Deadlines(0, 0, 0)
    open_per_officer: dict[str, int] = field(default_factory=dict)
    hash_matches: int = 0

    @property
    def total_reports(self) -> int:
        return sum(self.reports_by_day.values())

    @property
    def total_cases(self) -> int:
        return sum(self.cases_by_day.values())

    def days(self) -> list[date]:
        span = (self.filter.end - self.filter.start).days + 1
        return [self.filter.start + timedelta(days=n) for n in range(span)]

    def reports_by_week(self) -> dict[str, int]:
        return _weeks(self.reports_by_day, self.days())

    def cases_by_week(self) -> dict[str, int]:
        return _weeks(self.cases_by_day, self.days())


# The parts of the dashboard, so a chart computes only the figure it draws.
PARTS = frozenset(
    {
        "reports",
        "cases_by_day",
        "by_category",
        "by_territory",
        "outcomes",
        "hash_matches",
        "delays",
        "deadlines",
        "open_per_officer",
    }
)


def compute(
    session: Session,
    chosen: StatsFilter,
    now: datetime | None = None,
    parts: frozenset[str] = PARTS,
) -> Figures:
    """The figures of the dashboard for ``chosen`` (those in ``parts``); read-only, no key."""
    now = now or utc_now()
    conditions = chosen.case_conditions()
    in_period = and_(Case.received >= chosen.since, Case.received < chosen.until, *conditions)
    figures = Figures(filter=chosen)
    if "reports" in parts:
        _report_figures(session, chosen, conditions, figures)
    if "cases_by_day" in parts:
        case_day = _day(session, Case.received)
        figures.cases_by_day = {_as_date(d): n for d, n in _grouped(session, case_day, in_period)}
    if parts & ROLLUP_PARTS:
        _case_rollup(session, in_period, now, figures, parts & ROLLUP_PARTS)
    if "delays" in parts:
        hours = _hours_between(session, Case.received, Case.triaged_at)
        figures.to_triage = _delay(
            session, select(hours).where(in_period, Case.triaged_at.is_not(None)).subquery()
        )
        figures.to_referral = _delay(
            session, _first_event_delays(session, in_period, _is_referral())
        )
        figures.to_acknowledgement = _delay(
            session,
            _first_event_delays(
                session,
                in_period,
                CaseEvent.action.in_((TriageAction.REPLY_QUEUED, TriageAction.REPORTER_NOTIFIED)),
            ),
        )
    if "open_per_officer" in parts:
        figures.open_per_officer = _open_per_officer(session, conditions)
    return figures


# Figures read from one grouped pass over the period's cases.
ROLLUP_PARTS = frozenset({"by_category", "by_territory", "outcomes", "hash_matches", "deadlines"})


def _case_rollup(
    session: Session,
    in_period: ColumnElement[bool],
    now: datetime,
    figures: Figures,
    wanted: frozenset[str],
) -> None:
    """Category, territory, outcome, hash-list match and deadline of the period's cases
    (those ``wanted``), counted in one grouped scan of ``cases`` rather than one per figure;
    a single figure groups by its own columns only."""
    deadline = case(
        (and_(Case.triaged_at.is_not(None), Case.triaged_at <= Case.sla_due_at), "met"),
        (or_(Case.triaged_at.is_not(None), Case.sla_due_at < now), "missed"),
        else_="running",
    )
    keys: dict[str, list[Any]] = {
        "by_category": [Case.category],
        "by_territory": [Case.territory_code],
        "outcomes": [Case.status, Case.close_reason],
        "hash_matches": [Case.hash_label.is_not(None)],
        "deadlines": [deadline],
    }
    chosen = [name for name in keys if name in wanted]
    columns = [column for name in chosen for column in keys[name]]
    rows = session.execute(select(*columns, func.count()).where(in_period).group_by(*columns))
    counted: dict[str, Counter[Any]] = {name: Counter() for name in chosen}
    for row in rows:
        values, count = list(row[:-1]), row[-1]
        for name in chosen:
            taken = [values.pop(0) for _ in keys[name]]
            counted[name][tuple(taken)] += count
    if "by_category" in counted:
        figures.by_category = dict(
            _sorted((k[0] or NO_CATEGORY, n) for k, n in counted["by_category"].items())
        )
    if "by_territory" in counted:
        figures.by_territory = dict(
            _sorted((k[0] or NO_TERRITORY, n) for k, n in counted["by_territory"].items())
        )
    if "outcomes" in counted:
        figures.outcomes = dict(
            _sorted(
                (f"{status}:{reason}" if status == statuses.CLOSED and reason else status, n)
                for (status, reason), n in counted["outcomes"].items()
            )
        )
    if "hash_matches" in counted:
        figures.hash_matches = sum(
            n for (matched,), n in counted["hash_matches"].items() if matched
        )
    if "deadlines" in counted:
        due = {k[0]: n for k, n in counted["deadlines"].items()}
        figures.deadlines = Deadlines(
            due.get("met", 0), due.get("missed", 0), due.get("running", 0)
        )


def _report_figures(
    session: Session,
    chosen: StatsFilter,
    conditions: list[ColumnElement[bool]],
    figures: Figures,
) -> None:
    day = _day(session, Report.received_hour)
    query = (
        select(day, Report.kind, func.count())
        .select_from(Report)
        .where(Report.received_hour >= chosen.since, Report.received_hour < chosen.until)
        .group_by(day, Report.kind)
    )
    if chosen.category or chosen.territory:
        # Only a category or territory needs the report's case. Without them the count is
        # one index range (ix_reports_received): a merged record holds no report (merging
        # moves them), so "not merged" alone excludes nothing.
        query = (
            query.join(ReportTriage, ReportTriage.report_id == Report.id)
            .join(Case, Case.id == ReportTriage.case_id)
            .where(*conditions)
        )
    rows = session.execute(query)
    by_day: Counter[date] = Counter()
    by_kind: Counter[str] = Counter()
    for d, kind, count in rows:
        by_day[_as_date(d)] += count
        by_kind[kind] += count
    figures.reports_by_day = dict(by_day)
    figures.by_kind = dict(_sorted(by_kind.items()))


def _hours_between(session: Session, start: Any, end: Any) -> ColumnElement[Any]:
    """``end - start`` in hours, computed by the database (no datetime parsed per row)."""
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", end - start) / 3600.0
    return (func.julianday(end) - func.julianday(start)) * 24.0


def _grouped(session: Session, column: Any, where: ColumnElement[bool]) -> list[tuple[Any, int]]:
    query: Select[tuple[Any, int]] = (
        select(column, func.count()).select_from(Case).where(where).group_by(column)
    )
    return [(key, count) for key, count in session.execute(query)]


def _sorted(rows: Iterable[tuple[Any, int]], none_as: str = "") -> list[tuple[str, int]]:
    """Largest first, then by key, so equal runs give equal tables."""
    merged: Counter[str] = Counter()
    for key, count in rows:
        merged[none_as if key is None else str(key)] += count
    return sorted(merged.items(), key=lambda item: (-item[1], item[0]))


def _is_referral() -> ColumnElement[bool]:
    return and_(
        CaseEvent.action == TriageAction.STATUS_CHANGED,
        CaseEvent.details["to"].as_string() == statuses.REFERRED,
    )


def _first_event_delays(
    session: Session, where: ColumnElement[bool], which: ColumnElement[bool]
) -> Subquery:
    """Hours from each period case's reception to its first event of ``which`` (one
    column), as a subquery for :func:`_delay`."""
    # Only the events of the period's cases are grouped.
    cases_in_period = select(Case.id).where(where)
    first = (
        select(CaseEvent.case_id, func.min(CaseEvent.at).label("first_at"))
        .where(which, CaseEvent.case_id.in_(cases_in_period))
        .group_by(CaseEvent.case_id)
        .subquery()
    )
    hours = _hours_between(session, Case.received, first.c.first_at)
    return (
        select(hours).select_from(Case).join(first, first.c.case_id == Case.id).where(where)
    ).subquery()


def _delay(session: Session, hours: Subquery) -> Delay:
    """Count, median and 90th percentile (nearest rank) of a one-column subquery of hours,
    negative hours counted as 0. PostgreSQL computes them itself (a year of a million
    cases is a million rows not sent here); SQLite has no percentile, so it sends them."""
    (column,) = hours.c
    clamped = case((column < 0, 0.0), else_=column)
    if session.get_bind().dialect.name == "postgresql":
        count, median, p90 = session.execute(
            select(
                func.count(),
                func.percentile_cont(0.5).within_group(clamped),
                func.percentile_disc(0.9).within_group(clamped),
            ).select_from(hours)
        ).one()
        if not count:
            return Delay(0, None, None)
        return Delay(int(count), round(float(median), 2), round(float(p90), 2))
    return Delay.of([float(h) for h in session.scalars(select(clamped).select_from(hours))])


def _open_per_officer(session: Session, conditions: list[ColumnElement[bool]]) -> dict[str, int]:
    """Open cases now (whatever their age), by assignee; "" for nobody."""
    rows = session.execute(
        select(Officer.username, func.count())
        .select_from(Case)
        .outerjoin(Officer, Officer.id == Case.assignee_id)
        .where(Case.is_open.is_(True), *conditions)
        .group_by(Officer.username)
    )
    return dict(_sorted(rows, UNASSIGNED))


def _day(session: Session, column: Any) -> ColumnElement[Any]:
    """The UTC day of a stored time, grouped in the database."""
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(column, "YYYY-MM-DD")
    # SQLite stores "YYYY-MM-DD HH:MM:SS[.ffffff]".
    return func.substr(column, 1, 10)


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _weeks(by_day: dict[date, int], days: list[date]) -> dict[str, int]:
    weeks: dict[str, int] = {}
    for day in days:
        year, week, _ = day.isocalendar()
        key = f"{year}-W{week:02d}"
        weeks[key] = weeks.get(key, 0) + by_day.get(day, 0)
    return weeks


def territory_name(code: str, language: str) -> str:
    known = territories().get(code)
    return known.name(language) if known else code
