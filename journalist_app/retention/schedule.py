"""When each case will be purged, computed from clear fields (docs/retention.md).

A case's clock starts at the later of its last status change and the last material a
reporter added (a report or follow-up synced into it): material added after closure
starts the count again. Open cases and held cases have no purge date.
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from journalist_app.models import Case, CaseEvent, Report, ReportTriage
from journalist_app.retention.rules import RetentionRules, Rule
from journalist_app.triage import statuses
from journalist_app.triage.events import TriageAction

HOLD_SET = "retention.hold_set"
HOLD_LIFTED = "retention.hold_lifted"
PURGEABLE_STATUSES = (statuses.CLOSED, statuses.REFERRED)


@dataclass(frozen=True)
class Hold:
    """The latest hold decision an officer took on a case (None: the category's default)."""

    held: bool
    by: str
    at: datetime
    reason: str


@dataclass(frozen=True)
class CaseRetention:
    case_id: int
    status: str
    category: str | None
    close_reason: str | None
    received: datetime
    rule: Rule
    clock_start: datetime | None
    decision: Hold | None

    @property
    def held(self) -> bool:
        return self.decision.held if self.decision is not None else self.rule.held_by_default

    @property
    def purge_on(self) -> datetime | None:
        """When it may be purged; None while open, held, or under no rule."""
        if self.held or self.rule.days is None or self.clock_start is None:
            return None
        return self.clock_start + timedelta(days=self.rule.days)

    def due(self, now: datetime) -> bool:
        purge_on = self.purge_on
        return purge_on is not None and purge_on <= now


def retention_of(
    session: Session, cases: Iterable[Case], rules: RetentionRules
) -> dict[int, CaseRetention]:
    """The retention of each case, with three grouped queries for all of them."""
    listed = [case for case in cases if case.status != statuses.MERGED]
    ids = [case.id for case in listed]
    if not ids:
        return {}
    status_at: dict[int, datetime] = {
        case_id: at
        for case_id, at in session.execute(
            select(CaseEvent.case_id, func.max(CaseEvent.at))
            .where(CaseEvent.case_id.in_(ids), CaseEvent.action == TriageAction.STATUS_CHANGED)
            .group_by(CaseEvent.case_id)
        )
    }
    material_at: dict[int, datetime] = {
        case_id: at
        for case_id, at in session.execute(
            select(ReportTriage.case_id, func.max(Report.synced_at))
            .join(Report, Report.id == ReportTriage.report_id)
            .where(ReportTriage.case_id.in_(ids))
            .group_by(ReportTriage.case_id)
        )
    }
    decisions = _hold_decisions(session, ids)
    result = {}
    for case in listed:
        rule = rules.rule_for(case.status, case.close_reason, case.category)
        moments = [m for m in (status_at.get(case.id), material_at.get(case.id)) if m is not None]
        if case.status in PURGEABLE_STATUSES and not moments:
            moments = [case.updated_at]
        result[case.id] = CaseRetention(
            case_id=case.id,
            status=case.status,
            category=case.category,
            close_reason=case.close_reason,
            received=case.received,
            rule=rule,
            clock_start=max(moments) if moments and rule.days is not None else None,
            decision=decisions.get(case.id),
        )
    return result


def due_cases(
    session: Session, rules: RetentionRules, now: datetime, batch: int = 200
) -> Iterator[list[CaseRetention]]:
    """Cases whose purge date has come, in batches by case number (memory stays flat)."""
    after = 0
    while True:
        cases = list(
            session.scalars(
                select(Case)
                .where(Case.status.in_(PURGEABLE_STATUSES), Case.id > after)
                .order_by(Case.id)
                .limit(batch)
            )
        )
        if not cases:
            return
        after = cases[-1].id
        due = [r for r in retention_of(session, cases, rules).values() if r.due(now)]
        if due:
            yield due


def _hold_decisions(session: Session, ids: list[int]) -> dict[int, Hold]:
    rows = session.execute(
        select(
            CaseEvent.case_id, CaseEvent.action, CaseEvent.actor, CaseEvent.at, CaseEvent.details
        )
        .where(CaseEvent.case_id.in_(ids), CaseEvent.action.in_((HOLD_SET, HOLD_LIFTED)))
        .order_by(CaseEvent.at, CaseEvent.id)
    )
    decisions: dict[int, Hold] = {}
    for case_id, action, actor, at, details in rows:
        decisions[case_id] = Hold(action == HOLD_SET, actor, at, _reason(details))
    return decisions


def _reason(details: Any) -> str:
    return str(details.get("reason", "")) if isinstance(details, dict) else ""
