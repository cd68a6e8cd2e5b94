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

from sqlalchemy import ColumnElement, Select, and_, case, func, or_, select, text
from sqlalchemy.orm import Session

from journalist_app.clock import utc_now
from journalist_app.models import Case, Officer, Report, ReportTriage, StatsDaily
from journalist_app.stats import summary
from journalist_app.triage import statuses
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
        "cases.first_referral_at (first referral event)",
        "cases.first_answer_at (first reply or status notice to the reporter)",
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
    from_summary: bool = True,
) -> Figures:
    """The figures of the dashboard for ``chosen`` (those in ``parts``); read-only, no key.

    Counts come from the daily summary (journalist_app/stats/summary.py) when the filter
    is one of its scopes, else (or with ``from_summary`` False, which tests compare) from
    the cases themselves; both give the same figures."""
    now = now or utc_now()
    conditions = chosen.case_conditions()
    in_period = and_(Case.received >= chosen.since, Case.received < chosen.until, *conditions)
    figures = Figures(filter=chosen)
    scope = summary_scope(chosen) if from_summary else None
    if scope is not None:
        _summary_figures(session, chosen, scope, now, in_period, figures, parts)
    else:
        _live_figures(session, chosen, conditions, in_period, now, figures, parts)
    if "delays" in parts:
        figures.to_triage, figures.to_referral, figures.to_acknowledgement = _delays(
            session, in_period
        )
    return figures


def summary_scope(chosen: StatsFilter) -> tuple[str, str] | None:
    """The summary's scope for a filter, or None when it has none (a category and a
    territory together are counted from the cases)."""
    if chosen.category and chosen.territory:
        return None
    if chosen.category:
        return ("category", chosen.category)
    if chosen.territory:
        if chosen.territory.startswith(REGION_PREFIX):
            return ("region", chosen.territory[len(REGION_PREFIX) :])
        return ("territory", chosen.territory)
    return (summary.ALL, "")


# The summary's figure behind each part of the dashboard.
_DAILY = {"reports": "reports", "cases_by_day": "cases"}
_TOTALS = {
    "by_category": "category",
    "by_territory": "territory",
    "outcomes": "outcome",
    "hash_matches": "hash",
    "deadlines": "deadline",
}


def _summary_figures(
    session: Session,
    chosen: StatsFilter,
    scope: tuple[str, str],
    now: datetime,
    in_period: ColumnElement[bool],
    figures: Figures,
    parts: frozenset[str],
) -> None:
    """The counts of the period from the daily summary: a few rows per day, not a scan
    of the period's cases."""
    row = StatsDaily
    in_scope = and_(row.scope == scope[0], row.scope_key == scope[1])
    in_days = and_(row.day >= chosen.start, row.day <= chosen.end)
    daily = [_DAILY[p] for p in sorted(parts & _DAILY.keys())]
    if daily:
        by_day: dict[str, Counter[tuple[date, str]]] = {name: Counter() for name in daily}
        for figure, day, key, n in session.execute(
            select(row.figure, row.day, row.key, func.sum(row.count))
            .where(in_scope, in_days, row.figure.in_(daily))
            .group_by(row.figure, row.day, row.key)
        ):
            by_day[figure][(_as_date(day), key)] += int(n)
        if "reports" in by_day:
            reports_by_day: Counter[date] = Counter()
            by_kind: Counter[str] = Counter()
            for (day, kind), n in by_day["reports"].items():
                reports_by_day[day] += n
                by_kind[kind] += n
            figures.reports_by_day = {d: n for d, n in reports_by_day.items() if n}
            figures.by_kind = dict(_sorted((k, n) for k, n in by_kind.items() if n))
        if "cases" in by_day:
            figures.cases_by_day = {d: n for (d, _k), n in by_day["cases"].items() if n}
    totals = [_TOTALS[p] for p in sorted(parts & _TOTALS.keys())]
    if totals:
        summed: dict[str, dict[str, int]] = {name: {} for name in totals}
        for figure, key, n in session.execute(
            select(row.figure, row.key, func.sum(row.count))
            .where(in_scope, in_days, row.figure.in_(totals))
            .group_by(row.figure, row.key)
        ):
            if n:
                summed[figure][key] = int(n)
        if "category" in summed:
            figures.by_category = dict(_sorted(summed["category"].items()))
        if "territory" in summed:
            figures.by_territory = dict(_sorted(summed["territory"].items()))
        if "outcome" in summed:
            figures.outcomes = dict(_sorted(summed["outcome"].items()))
        if "hash" in summed:
            figures.hash_matches = sum(summed["hash"].values())
        if "deadline" in summed:
            due = summed["deadline"]
            untriaged = due.get(summary.UNTRIAGED, 0)
            running = _not_due_yet(session, in_period, now) if untriaged else 0
            figures.deadlines = Deadlines(
                due.get(summary.MET, 0), due.get(summary.LATE, 0) + untriaged - running, running
            )
    if "open_per_officer" in parts:
        # Open now, whatever the day they came: every day of the scope.
        rows = session.execute(
            select(row.key, func.sum(row.count))
            .where(in_scope, row.figure == "open")
            .group_by(row.key)
        )
        open_by_id = {key: int(n) for key, n in rows if n}
        ids = [int(key) for key in open_by_id if key]
        names: dict[int, str] = {}
        if ids:
            found = session.execute(select(Officer.id, Officer.username).where(Officer.id.in_(ids)))
            names = {officer_id: username for officer_id, username in found}
        figures.open_per_officer = dict(
            _sorted(
                (names.get(int(key), UNASSIGNED) if key else UNASSIGNED, n)
                for key, n in open_by_id.items()
            )
        )


def _not_due_yet(session: Session, in_period: ColumnElement[bool], now: datetime) -> int:
    """Untriaged cases of the period whose deadline is still ahead (a short index range:
    only cases received within the longest deadline)."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(Case)
            .where(Case.sla_due_at >= now, Case.triaged_at.is_(None), in_period)
        )
        or 0
    )


def _live_figures(
    session: Session,
    chosen: StatsFilter,
    conditions: list[ColumnElement[bool]],
    in_period: ColumnElement[bool],
    now: datetime,
    figures: Figures,
    parts: frozenset[str],
) -> None:
    """The counts of the period straight from the cases (a filter the summary has no
    scope for)."""
    if "reports" in parts:
        _report_figures(session, chosen, conditions, figures)
    if "cases_by_day" in parts:
        case_day = _day(session, Case.received)
        figures.cases_by_day = {_as_date(d): n for d, n in _grouped(session, case_day, in_period)}
    if parts & ROLLUP_PARTS:
        _case_rollup(session, in_period, now, figures, parts & ROLLUP_PARTS)
    if "open_per_officer" in parts:
        figures.open_per_officer = _open_per_officer(session, conditions)


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


def _delays(session: Session, in_period: ColumnElement[bool]) -> tuple[Delay, Delay, Delay]:
    """Hours from reception to first triage, first referral and first answer, over the
    period's cases that reached each step: one pass over the period's cases."""
    columns = [
        _hours_between(session, Case.received, end)
        for end in (Case.triaged_at, Case.first_referral_at, Case.first_answer_at)
    ]
    clamped = [case((column < 0, 0.0), else_=column) for column in columns]
    if session.get_bind().dialect.name == "postgresql":
        # The database computes count, median and p90 (nulls are left out of each). Each
        # percentile sorts the period's hours: in memory (a year of a million cases is
        # about 30 MB a sort), not in temporary files, for this read-only transaction.
        session.execute(text("SET LOCAL work_mem = '64MB'"))
        aggregates = []
        for column in clamped:
            aggregates += [
                func.count(column),
                func.percentile_cont(0.5).within_group(column),
                func.percentile_disc(0.9).within_group(column),
            ]
        values = session.execute(select(*aggregates).where(in_period)).one()
        delays = []
        for index in range(0, 9, 3):
            count, median, p90 = values[index : index + 3]
            delays.append(
                Delay(int(count), round(float(median), 2), round(float(p90), 2))
                if count
                else Delay(0, None, None)
            )
        return delays[0], delays[1], delays[2]
    # SQLite has no percentile: the hours are sent and sorted here.
    hours: list[list[float]] = [[], [], []]
    for row in session.execute(select(*clamped).where(in_period)):
        for index, value in enumerate(row):
            if value is not None:
                hours[index].append(float(value))
    return Delay.of(hours[0]), Delay.of(hours[1]), Delay.of(hours[2])


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
