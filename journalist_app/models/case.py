"""Cases: reports of the same content grouped, ranked in the queue, moved through a workflow.

The queue reads this table alone: priority, age, deadline, filters and counts are
columns here, kept up to date by journalist_app.triage.grouping, so that one page of a
million cases is one index range scan (docs/triage.md, "Queue").
"""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from journalist_app.clock import utc_now
from journalist_app.models.base import Base

# The queue's order: most urgent first, then oldest, then case number.
QUEUE_ORDER = ("priority", "received", "id")


class Case(Base):
    """One matter for the unit: one report or several that share an address or a file."""

    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_queue", *QUEUE_ORDER),
        Index("ix_cases_open_queue", "is_open", *QUEUE_ORDER),
        Index("ix_cases_status_queue", "status", *QUEUE_ORDER),
        Index("ix_cases_category_queue", "category", *QUEUE_ORDER),
        Index("ix_cases_territory_queue", "territory_code", *QUEUE_ORDER),
        Index("ix_cases_region_queue", "region_code", *QUEUE_ORDER),
        Index("ix_cases_assignee_queue", "assignee_id", *QUEUE_ORDER),
        Index("ix_cases_status_due", "status", "sla_due_at"),
        Index("ix_cases_unread", "unread_count"),
        # The dashboard (journalist_app/stats/figures.py): a period's cases, and open cases
        # per officer, without scanning every case.
        Index("ix_cases_received", "received"),
        Index("ix_cases_open_assignee", "is_open", "assignee_id", "status"),
        # Untriaged cases whose deadline has not passed yet ("not due yet"): a short range.
        Index("ix_cases_due", "sla_due_at"),
        # The dashboard's delays: a period's cases read from the index alone (the filters
        # and the three step times), not from the table's pages.
        Index(
            "ix_cases_delays",
            "received",
            "status",
            "category",
            "territory_code",
            "region_code",
            "triaged_at",
            "first_referral_at",
            "first_answer_at",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # 1 (urgent) to 4 (low): the most urgent category among the case's reports.
    priority: Mapped[int]
    # The most urgent category read so far; None while no report of the case is read.
    category: Mapped[str | None] = mapped_column(String(32), default=None)
    # Reception hour of the case's oldest report (the public host keeps hours only).
    received: Mapped[datetime]
    # received + the priority's SLA: the case should leave "new" by then.
    sla_due_at: Mapped[datetime]
    # new, triaged, under_investigation, referred, closed; "merged" once folded into another.
    status: Mapped[str] = mapped_column(String(32), default="new")
    # new, triaged or under investigation: the default queue.
    is_open: Mapped[bool] = mapped_column(default=True)
    close_reason: Mapped[str | None] = mapped_column(String(32), default=None)
    territory_code: Mapped[str | None] = mapped_column(String(16), default=None)
    # The territory's region, so that "a whole region" is one index range too.
    region_code: Mapped[str | None] = mapped_column(String(8), default=None)
    assignee_id: Mapped[int | None] = mapped_column(
        ForeignKey("officers.id", ondelete="SET NULL"), default=None
    )
    report_count: Mapped[int] = mapped_column(default=0)
    unread_count: Mapped[int] = mapped_column(default=0)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), default=None)
    # The label of the first hash-list entry one of its files matched (urgent, always).
    hash_label: Mapped[str | None] = mapped_column(String(200), default=None)
    # When the case first left "new": stops its SLA clock.
    triaged_at: Mapped[datetime | None] = mapped_column(default=None)
    # The first referral and the first answer to the reporter (a reply or a status notice),
    # set by record_case_event, so the dashboard's delays read the case alone.
    first_referral_at: Mapped[datetime | None] = mapped_column(default=None)
    first_answer_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now)


class CaseEvent(Base):
    """What happened to a case, when, and who did it: shown as the case's history."""

    __tablename__ = "case_events"
    __table_args__ = (
        Index("ix_case_events_case", "case_id", "at", "id"),
        # The dashboard's delays (journalist_app/stats/figures.py): one kind of event.
        Index("ix_case_events_action", "action", "case_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    at: Mapped[datetime] = mapped_column(default=utc_now)
    # An officer's username, or "system" for automatic grouping.
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class IdentityReveal(Base):
    """A supervisor decrypted a reporter's identity for a case: who, when and why."""

    __tablename__ = "identity_reveals"
    __table_args__ = (Index("ix_identity_reveals_case", "case_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    report_id: Mapped[str] = mapped_column(ForeignKey("reports.id"))
    officer: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(default=utc_now)
