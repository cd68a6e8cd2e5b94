"""A case's history, and the unit's audit log, written together for every triage action.

The case history (``case_events``) is what an officer reads on the case page; the audit
log (journalist_app/audit.py, hash-chained) is what supervisors verify. Both are added
to the caller's transaction, so an action is never committed without its trace.
Neither holds report content: ids, statuses, reasons chosen from lists, counts.
"""

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from journalist_app import audit
from journalist_app.models import Case, CaseEvent
from journalist_app.roles import Principal
from journalist_app.triage import statuses

SYSTEM = "system"


class TriageAction:
    """Names of triage actions, in the case history and the audit log alike."""

    CREATED = "case.created"
    GROUPED = "case.grouped"
    RELATED = "case.related"
    INDEXED = audit.Action.REPORT_INDEXED
    STATUS_CHANGED = audit.Action.STATUS_CHANGED
    ASSIGNED = audit.Action.CASE_ASSIGNED
    TERRITORY_SET = "case.territory_set"
    MERGED = "case.merged"
    SPLIT = "case.split"
    REPLY_QUEUED = audit.Action.REPLY_QUEUED
    REPORTER_NOTIFIED = "case.reporter_notified"
    IDENTITY_REVEALED = audit.Action.IDENTITY_REVEALED
    ATTACHMENT_DOWNLOADED = audit.Action.ATTACHMENT_DOWNLOADED
    # A picture decrypted to draw its preview: audit log only (the page asks for it on
    # every view, so the case history would fill with it).
    ATTACHMENT_THUMBNAIL = audit.Action.ATTACHMENT_THUMBNAIL
    CASE_OPENED = "case.opened"
    NOTE_ADDED = audit.Action.NOTE_ADDED
    HASH_MATCHED = "case.hash_matched"


def case_target(case_id: int) -> str:
    return f"case:{case_id}"


def username_of(actor: Principal | str | None) -> str:
    if actor is None:
        return SYSTEM
    return actor if isinstance(actor, str) else actor.username


def record_case_event(
    session: Session,
    case_id: int,
    actor: Principal | str | None,
    action: str,
    details: Mapping[str, Any] | None = None,
    *,
    now: datetime,
    audit_log: bool = True,
) -> CaseEvent:
    """Add one entry to the case history and, for an officer's action, to the audit log.

    ``actor`` None is the system (grouping on ingest, status replies): history only.
    """
    event = CaseEvent(
        case_id=case_id,
        at=now,
        actor=username_of(actor),
        action=action,
        details=dict(details or {}),
    )
    session.add(event)
    _note_first_event(session, case_id, action, event.details, now)
    if audit_log and actor is not None:
        record_audit(session, actor, action, case_target(case_id), details, now=now)
    return event


# The events whose first time the dashboard's delays measure, and the case column it goes in.
_ANSWERS = frozenset({TriageAction.REPLY_QUEUED, TriageAction.REPORTER_NOTIFIED})


def _note_first_event(
    session: Session, case_id: int, action: str, details: Mapping[str, Any], at: datetime
) -> None:
    """Keep the case's first referral and first answer times (earliest wins)."""
    if action == TriageAction.STATUS_CHANGED and details.get("to") == statuses.REFERRED:
        column = "first_referral_at"
    elif action in _ANSWERS:
        column = "first_answer_at"
    else:
        return
    case = session.get(Case, case_id)
    if case is None:
        return
    first = getattr(case, column)
    if first is None or at < first:
        setattr(case, column, at)


def record_audit(
    session: Session,
    actor: Principal | str | None,
    action: str,
    target: str,
    details: Mapping[str, Any] | None = None,
    *,
    now: datetime,
) -> None:
    """The audit log only (a read, a download): nothing changes on the case."""
    audit.record(session, actor, action, target, dict(details or {}), now=now)
