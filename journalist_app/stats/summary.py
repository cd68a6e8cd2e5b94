"""The daily summary (``stats_daily``), kept exact in the transaction of every change.

A case counts on the day it was received, in the scopes the dashboard filters by (all
cases, its category, its territory, its region), once per figure: the case itself, its
category, territory, status and outcome, deadline state, hash-list match, and, while
open, its assignee. Its reports count on their own reception day in the same scopes
(reports of every case count in "all" from ``reports`` alone, as the live query did).

How it stays exact: the first time a transaction's flush touches an existing case or
report, its contribution is read from the database as it still is; at commit (or
before a Core statement :func:`tracking` counts) every case and report the transaction
touched or made is read again and the difference is added to the summary in the same
transaction (an upsert per row, which commutes, so concurrent writers cannot lose each
other's counts). Changes made with Core statements
(a purge, reports moved on a merge) go through :func:`tracking` around the statement.
:func:`rebuild` recounts everything (``iblagh-officer stats rebuild``, the upgrade
that introduced the table, benches that load rows with bulk inserts).
"""

from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Table,
    and_,
    case,
    delete,
    event,
    func,
    insert,
    inspect,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, SessionTransaction, UOWTransaction

from journalist_app.models import Case, CaseEvent, Report, ReportTriage, StatsDaily
from journalist_app.triage import statuses
from journalist_app.triage.events import TriageAction

# (scope, scope_key, figure, day, key)
SummaryKey = tuple[str, str, str, date, str]

ALL = "all"
SCOPES = ("category", "territory", "region")
# The deadline state stored; "untriaged" is split into "missed" and "not due yet" when
# read, since that depends on the time of reading.
MET, LATE, UNTRIAGED = "met", "late", "untriaged"
_PENDING = "iblagh.stats_pending"
TABLE: Table = StatsDaily.__table__  # type: ignore[assignment]
# Rows per upsert statement.
_CHUNK = 500


def day_of(connection: Connection, column: Any) -> ColumnElement[Any]:
    """The UTC day of a stored time, as 'YYYY-MM-DD', computed by the database."""
    if connection.dialect.name == "postgresql":
        return func.to_char(column, "YYYY-MM-DD")
    # SQLite stores "YYYY-MM-DD HH:MM:SS[.ffffff]".
    return func.substr(column, 1, 10)


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _deadline_state() -> ColumnElement[str]:
    return case(
        (and_(Case.triaged_at.is_not(None), Case.triaged_at <= Case.sla_due_at), MET),
        (Case.triaged_at.is_not(None), LATE),
        else_=UNTRIAGED,
    )


def outcome_key(status: str, close_reason: str | None) -> str:
    return f"{status}:{close_reason}" if status == statuses.CLOSED and close_reason else status


def _scopes(
    category: str | None, territory: str | None, region: str | None
) -> list[tuple[str, str]]:
    scoped = [("category", category), ("territory", territory), ("region", region)]
    return [(scope, key) for scope, key in scoped if key]


def contributions(
    connection: Connection, case_ids: Iterable[int] | None, report_ids: Iterable[str] | None
) -> Counter[SummaryKey]:
    """What the given cases and reports add to the summary now (None: every one)."""
    counted: Counter[SummaryKey] = Counter()
    case_list = None if case_ids is None else sorted(set(case_ids))
    report_list = None if report_ids is None else sorted(set(report_ids))
    if case_list is None or case_list:
        _add_cases(connection, case_list, counted)
        _add_case_reports(connection, case_list, counted)
    if report_list is None or report_list:
        _add_reports(connection, report_list, counted)
    return counted


def _chunks(ids: list[Any] | None) -> Iterator[list[Any] | None]:
    if ids is None:
        yield None
        return
    for start in range(0, len(ids), _CHUNK):
        yield ids[start : start + _CHUNK]


def _add_cases(connection: Connection, ids: list[int] | None, counted: Counter[SummaryKey]) -> None:
    columns = (
        day_of(connection, Case.received),
        Case.category,
        Case.territory_code,
        Case.region_code,
        Case.status,
        Case.close_reason,
        Case.hash_label.is_not(None),
        _deadline_state(),
        Case.is_open,
        Case.assignee_id,
    )
    for chunk in _chunks(ids):
        query = select(*columns, func.count()).where(Case.status != statuses.MERGED)
        if chunk is not None:
            query = query.where(Case.id.in_(chunk))
        rows = connection.execute(query.group_by(*columns))
        for day, category, territory, region, status, reason, hashed, due, is_open, who, n in rows:
            on = _as_date(day)
            figures = [
                ("cases", ""),
                ("category", category or ""),
                ("territory", territory or ""),
                ("outcome", outcome_key(status, reason)),
                ("deadline", str(due)),
            ]
            if hashed:
                figures.append(("hash", ""))
            if is_open:
                figures.append(("open", "" if who is None else str(who)))
            for scope, scope_key in [(ALL, ""), *_scopes(category, territory, region)]:
                for figure, key in figures:
                    counted[(scope, scope_key, figure, on, key)] += n


def _add_case_reports(
    connection: Connection, ids: list[int] | None, counted: Counter[SummaryKey]
) -> None:
    columns = (
        day_of(connection, Report.received_hour),
        Report.kind,
        Case.category,
        Case.territory_code,
        Case.region_code,
    )
    for chunk in _chunks(ids):
        query = (
            select(*columns, func.count())
            .select_from(ReportTriage)
            .join(Report, Report.id == ReportTriage.report_id)
            .join(Case, Case.id == ReportTriage.case_id)
            .where(Case.status != statuses.MERGED)
        )
        if chunk is not None:
            query = query.where(ReportTriage.case_id.in_(chunk))
        for day, kind, category, territory, region, n in connection.execute(
            query.group_by(*columns)
        ):
            for scope, scope_key in _scopes(category, territory, region):
                counted[(scope, scope_key, "reports", _as_date(day), kind)] += n


def _add_reports(
    connection: Connection, ids: list[str] | None, counted: Counter[SummaryKey]
) -> None:
    day = day_of(connection, Report.received_hour)
    for chunk in _chunks(ids):
        query = select(day, Report.kind, func.count())
        if chunk is not None:
            query = query.where(Report.id.in_(chunk))
        for on, kind, n in connection.execute(query.group_by(day, Report.kind)):
            counted[(ALL, "", "reports", _as_date(on), kind)] += n


def apply(connection: Connection, delta: Counter[SummaryKey] | dict[SummaryKey, int]) -> None:
    """Add ``delta`` to the summary (rows that reach 0 are removed)."""
    changes = sorted((key, n) for key, n in delta.items() if n)
    if not changes:
        return
    table = TABLE
    upsert = pg_insert if connection.dialect.name == "postgresql" else sqlite_insert
    for start in range(0, len(changes), _CHUNK):
        part = changes[start : start + _CHUNK]
        rows = [
            {"scope": s, "scope_key": sk, "figure": f, "day": d, "key": k, "count": n}
            for (s, sk, f, d, k), n in part
        ]
        statement = upsert(table)
        connection.execute(
            statement.on_conflict_do_update(
                index_elements=["scope", "scope_key", "figure", "day", "key"],
                set_={"count": table.c.count + statement.excluded.count},
            ),
            rows,
        )
    # Keep the table to what counts: a key whose last case left it goes.
    zeroed = [key for key, n in changes if n < 0]
    for start in range(0, len(zeroed), 100):
        connection.execute(
            delete(table).where(table.c.count == 0, _any_key(table, zeroed[start : start + 100]))
        )


def _any_key(table: Any, keys: list[SummaryKey]) -> ColumnElement[bool]:
    return or_(
        *(
            and_(
                table.c.scope == s,
                table.c.scope_key == sk,
                table.c.figure == f,
                table.c.day == d,
                table.c.key == k,
            )
            for s, sk, f, d, k in keys
        )
    )


def fill_first_event_times(connection: Connection) -> None:
    """Set every case's first referral and first answer times from its history (what
    record_case_event keeps as it goes): for rows written without it."""
    referral = and_(
        CaseEvent.action == TriageAction.STATUS_CHANGED,
        CaseEvent.details["to"].as_string() == statuses.REFERRED,
    )
    answer = CaseEvent.action.in_((TriageAction.REPLY_QUEUED, TriageAction.REPORTER_NOTIFIED))
    for column, which in ((Case.first_referral_at, referral), (Case.first_answer_at, answer)):
        first = (
            select(func.min(CaseEvent.at))
            .where(CaseEvent.case_id == Case.id, which)
            .scalar_subquery()
        )
        connection.execute(update(Case).values({column: first}))


def rebuild(connection: Connection) -> int:
    """Recount the whole summary from the cases and reports; returns its rows. Idempotent."""
    counted = contributions(connection, None, None)
    connection.execute(delete(TABLE))
    rows = [
        {"scope": s, "scope_key": sk, "figure": f, "day": d, "key": k, "count": n}
        for (s, sk, f, d, k), n in sorted(counted.items())
        if n
    ]
    for start in range(0, len(rows), 5000):
        connection.execute(insert(TABLE), rows[start : start + 5000])
    return len(rows)


def stored(connection: Connection) -> Counter[SummaryKey]:
    """The summary as stored (for checks: it must equal a recount)."""
    table = TABLE
    rows = connection.execute(
        select(
            table.c.scope,
            table.c.scope_key,
            table.c.figure,
            table.c.day,
            table.c.key,
            table.c.count,
        )
    )
    return Counter({(s, sk, f, _as_date(d), k): n for s, sk, f, d, k, n in rows if n})


@contextmanager
def tracking(
    session: Session, case_ids: Iterable[int] = (), report_ids: Iterable[str] = ()
) -> Iterator[None]:
    """Around a Core statement that changes cases or reports: their contribution before
    and after, the difference applied. Pending ORM changes are flushed first."""
    session.flush()
    settle(session)
    cases, reports = set(case_ids), set(report_ids)
    connection = session.connection()
    before = contributions(connection, cases, reports)
    yield
    after = contributions(connection, cases, reports)
    after.subtract(before)
    apply(connection, after)


# Case columns a summary figure reads: a flush that changes none of them changes nothing.
_COUNTED = (
    "received",
    "category",
    "territory_code",
    "region_code",
    "status",
    "close_reason",
    "hash_label",
    "triaged_at",
    "sla_due_at",
    "is_open",
    "assignee_id",
)


def _touched(session: Session) -> tuple[set[int], set[str]]:
    """Cases and reports whose contribution a flush may change, as known before it: the
    same reports are counted before and after, and a case added after is a new one."""
    cases: set[int | None] = set()
    reports: set[str] = set()
    for obj in session.dirty:
        if isinstance(obj, Case):
            state = inspect(obj)
            if any(state.attrs[name].history.has_changes() for name in _COUNTED):
                cases.add(obj.id)
        elif isinstance(obj, ReportTriage) and inspect(obj).attrs.case_id.history.has_changes():
            cases.add(obj.case_id)
            reports.add(obj.report_id)
    for obj in session.deleted:
        if isinstance(obj, Case):
            cases.add(obj.id)
        elif isinstance(obj, ReportTriage):
            cases.add(obj.case_id)
            reports.add(obj.report_id)
        elif isinstance(obj, Report):
            reports.add(obj.id)
    for obj in session.new:
        # A new triage row joins a case that may exist; a new report is not stored yet,
        # so only its triage row brings it (the after-flush pass adds new reports).
        if isinstance(obj, ReportTriage):
            cases.add(obj.case_id)
    return {c for c in cases if c is not None}, {r for r in reports if r is not None}


def _new_reports(session: Session) -> set[str]:
    """Reports a flush stores: they count in "all" after it only."""
    return {obj.id for obj in session.new if isinstance(obj, Report) and obj.id is not None}


def _report_cases(connection: Connection, report_ids: set[str]) -> set[int]:
    if not report_ids:
        return set()
    found: set[int] = set()
    ids = sorted(report_ids)
    for start in range(0, len(ids), _CHUNK):
        found.update(
            connection.scalars(
                select(ReportTriage.case_id).where(
                    ReportTriage.report_id.in_(ids[start : start + _CHUNK])
                )
            )
        )
    return found


@dataclass
class _Pending:
    """What this transaction changed, counted once at its commit: each existing case or
    report as it was when first touched, and every one touched or new since."""

    before: Counter[SummaryKey] = field(default_factory=Counter)
    cases: set[int] = field(default_factory=set)
    reports: set[str] = field(default_factory=set)
    new_cases: list[Case] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.cases or self.reports or self.new_cases)


def _pending(session: Session) -> _Pending:
    pending = session.info.get(_PENDING)
    if pending is None:
        pending = session.info[_PENDING] = _Pending()
    return pending


@event.listens_for(Session, "before_flush")
def _before_flush(session: Session, _context: UOWTransaction, _instances: Any) -> None:
    """Read the contribution of the cases and reports this flush touches first in the
    transaction, while the database still holds them as they were; new ones count 0."""
    cases, reports = _touched(session)
    new_cases = [obj for obj in session.new if isinstance(obj, Case)]
    new_reports = _new_reports(session)
    if not cases and not reports and not new_cases and not new_reports:
        return
    pending = _pending(session)
    pending.new_cases.extend(new_cases)
    pending.reports |= new_reports
    fresh_cases, fresh_reports = cases - pending.cases, reports - pending.reports
    if fresh_cases or fresh_reports:
        connection = session.connection()
        # A report's case as stored (a moved report counts against the case it leaves).
        fresh_cases |= _report_cases(connection, fresh_reports) - pending.cases
        pending.before += contributions(connection, fresh_cases, fresh_reports)
        pending.cases |= fresh_cases
        pending.reports |= fresh_reports


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _context: UOWTransaction) -> None:
    """New cases have their ids now: they counted 0 before, never read as "before"."""
    pending = session.info.get(_PENDING)
    if pending:
        pending.cases |= {obj.id for obj in pending.new_cases if obj.id is not None}


def settle(session: Session) -> None:
    """Add this transaction's changes so far to the summary (flushed first): their
    contribution now less what it was when first touched. At commit, and before a
    Core statement that :func:`tracking` counts on its own."""
    pending = session.info.get(_PENDING)
    if not pending:
        return
    session.info.pop(_PENDING, None)
    connection = session.connection()
    cases = pending.cases | {obj.id for obj in pending.new_cases if obj.id is not None}
    # Only new cases, or ones read before, hold the touched reports now.
    cases |= _report_cases(connection, pending.reports)
    after = contributions(connection, cases, pending.reports)
    after.subtract(pending.before)
    apply(connection, after)


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    session.flush()
    settle(session)


@event.listens_for(Session, "after_transaction_end")
def _after_transaction_end(session: Session, transaction: SessionTransaction) -> None:
    # A rollback forgets the pending counts with the changes (a commit settled them).
    if transaction.parent is None:
        session.info.pop(_PENDING, None)
