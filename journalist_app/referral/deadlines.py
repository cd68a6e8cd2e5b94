"""Referral deadlines (data: the directory's ``[deadlines]``, per category and step).

``refer``: from a case's reception to its packet sent; ``acknowledge``: from the packet
sent to the receiving unit's signed acknowledgement. The queue shows what is late.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from journalist_app.models import Case, Referral
from journalist_app.referral.directory import Directory
from journalist_app.triage import statuses


@dataclass(frozen=True)
class LateCase:
    case_id: int
    category: str | None
    due: datetime


def overdue_acknowledgements(session: Session, now: datetime, limit: int = 20) -> list[Referral]:
    """Sent packets whose acknowledgement deadline has passed, oldest deadline first."""
    return list(
        session.scalars(
            select(Referral)
            .where(
                Referral.kind == "judicial",
                Referral.status == "sent",
                Referral.ack_due_at < now,
            )
            .order_by(Referral.ack_due_at)
            .limit(limit)
        )
    )


def overdue_referrals(
    session: Session, directory: Directory, now: datetime, limit: int = 20
) -> list[LateCase]:
    """Triaged or investigated cases not referred within their category's ``refer`` time.

    One index range per category with its own deadline (ix_cases_category_queue), then
    one for every other category with the default.
    """
    waiting = (statuses.TRIAGED, statuses.UNDER_INVESTIGATION)
    named = [c for c in directory.deadlines if c != "default" and "refer" in directory.deadlines[c]]
    late: list[LateCase] = []
    groups: list[tuple[str | None, object]] = [(c, Case.category == c) for c in named]
    groups.append((None, Case.category.not_in(named) | Case.category.is_(None)))
    for category, condition in groups:
        allowed = directory.deadline(category, "refer")
        rows = session.execute(
            select(Case.id, Case.category, Case.received)
            .where(condition, Case.status.in_(waiting), Case.received < now - allowed)  # type: ignore[arg-type]
            .order_by(Case.received)
            .limit(limit)
        ).all()
        late += [LateCase(row.id, row.category, row.received + allowed) for row in rows]
    late.sort(key=lambda item: item.due)
    return late[:limit]


@dataclass(frozen=True)
class QueueDeadline:
    """The referral step a queue row waits for: ``refer`` (the case is triaged or under
    investigation) or ``acknowledge`` (a packet left, no acknowledgement yet)."""

    step: str
    due: datetime
    overdue: bool


def queue_deadlines(
    session: Session, directory: Directory, cases: list[Case], now: datetime
) -> dict[int, QueueDeadline]:
    """The referral deadline of each case of one queue page: from the case's own row for
    ``refer``, one query for the page's packets awaiting acknowledgement."""
    found: dict[int, QueueDeadline] = {}
    for case in cases:
        if case.status in (statuses.TRIAGED, statuses.UNDER_INVESTIGATION):
            due = case.received + directory.deadline(case.category, "refer")
            found[case.id] = QueueDeadline("refer", due, due < now)
    referred = [case.id for case in cases if case.status == statuses.REFERRED]
    if referred:
        rows = session.execute(
            select(Referral.case_id, Referral.ack_due_at)
            .where(
                Referral.case_id.in_(referred),
                Referral.kind == "judicial",
                Referral.status == "sent",
                Referral.ack_due_at.is_not(None),
            )
            .order_by(Referral.ack_due_at)
        ).all()
        for case_id, ack_due in rows:
            if ack_due is not None:
                found.setdefault(case_id, QueueDeadline("acknowledge", ack_due, ack_due < now))
    return found
