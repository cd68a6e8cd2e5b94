"""The audit page's filters and export: by officer, action, case and date.

Supervisors (audit.read_all) see and export every entry; others only their own, as in
:func:`journalist_app.audit.list_entries`. ``iblagh-officer audit verify`` stays the proof
that nothing was rewritten; this is for reading.
"""

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from journalist_app.audit import AuditPage, officer_target
from journalist_app.models import AuditEntry
from journalist_app.roles import Permission, Principal, has_permission
from journalist_app.row_ids import row_id

PER_PAGE = 50
EXPORT_LIMIT = 1_000_000


@dataclass(frozen=True)
class AuditFilters:
    officer: str = ""
    action: str = ""
    case: int | None = None
    since: date | None = None
    until: date | None = None

    @classmethod
    def parse(cls, args: dict[str, str]) -> "AuditFilters":
        case = args.get("case", "").strip().lstrip("#")
        return cls(
            officer=args.get("officer", "").strip()[:64],
            action=args.get("action", "").strip()[:64],
            case=row_id(case),
            since=_day(args.get("since", "")),
            until=_day(args.get("until", "")),
        )

    def as_args(self) -> dict[str, str]:
        values = {
            "officer": self.officer,
            "action": self.action,
            "case": str(self.case) if self.case is not None else "",
            "since": self.since.isoformat() if self.since else "",
            "until": self.until.isoformat() if self.until else "",
        }
        return {key: value for key, value in values.items() if value}


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text.strip()) if text.strip() else None
    except ValueError:
        return None


def _query(actor: Principal, filters: AuditFilters) -> Select[AuditEntry]:
    query = select(AuditEntry)
    if not has_permission(actor, Permission.AUDIT_READ_ALL):
        query = query.where(
            or_(
                AuditEntry.actor == actor.username,
                AuditEntry.target == officer_target(actor.username),
            )
        )
    if filters.officer:
        query = query.where(AuditEntry.actor == filters.officer)
    if filters.action:
        query = query.where(AuditEntry.action == filters.action)
    if filters.case is not None:
        query = query.where(AuditEntry.target == f"case:{filters.case}")
    if filters.since:
        query = query.where(AuditEntry.time >= filters.since.isoformat())
    if filters.until:
        query = query.where(AuditEntry.time < f"{filters.until.isoformat()}T99")
    return query


def filtered_entries(
    session: Session, actor: Principal, filters: AuditFilters, page: int = 1
) -> AuditPage:
    query = _query(actor, filters)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    pages = max(1, -(-total // PER_PAGE))
    page = min(max(1, page), pages)
    entries = session.scalars(
        query.order_by(AuditEntry.id.desc()).offset((page - 1) * PER_PAGE).limit(PER_PAGE)
    ).all()
    everyone = has_permission(actor, Permission.AUDIT_READ_ALL)
    return AuditPage(entries=list(entries), page=page, pages=pages, everyone=everyone)


def actions_in_log(session: Session) -> list[str]:
    return list(session.scalars(select(AuditEntry.action).distinct().order_by(AuditEntry.action)))


def export_csv(session: Session, actor: Principal, filters: AuditFilters) -> Iterator[str]:
    """Every matching entry, oldest first, as CSV rows with the chain's hashes."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["id", "time", "actor", "action", "target", "details", "prev_hash", "hash"])
    yield out.getvalue()
    query = _query(actor, filters).order_by(AuditEntry.id).limit(EXPORT_LIMIT)
    for entry in session.scalars(query.execution_options(yield_per=500)):
        out.seek(0)
        out.truncate()
        writer.writerow(
            [
                entry.id,
                entry.time,
                _cell(entry.actor),
                _cell(entry.action),
                _cell(entry.target),
                _cell(entry.details),
                entry.prev_hash,
                entry.hash,
            ]
        )
        yield out.getvalue()


def _cell(value: str) -> str:
    """No spreadsheet formula: a cell that would start one is quoted."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
