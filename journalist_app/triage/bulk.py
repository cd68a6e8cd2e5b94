"""Actions on many cases at once, picked from search or related results.

Each action runs the one-case service for every case picked (so each is checked,
recorded in its history and audited like a single action), and reports how many were
done and which were refused.
"""

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from journalist_app import audit
from journalist_app.clock import utc_now
from journalist_app.keys.keyring import UnlockedKeyring
from journalist_app.models import MutedReporter, Report, ReportTriage
from journalist_app.roles import Permission, check_permission
from journalist_app.triage import statuses
from journalist_app.triage.errors import (
    CaseNotFound,
    GroupingRefused,
    InvalidTransition,
    MissingCloseReason,
    UnknownOfficer,
)
from journalist_app.triage.grouping import live_case, merge_cases, refresh_case
from journalist_app.triage.workflow import assign_case, change_status

ACTIONS = ("assign", "status", "close_duplicate", "close_spam", "merge", "mute")
MAX_PICKED = 200


@dataclass
class BulkResult:
    done: list[int] = field(default_factory=list)
    refused: list[int] = field(default_factory=list)


def apply_bulk(
    session: Session,
    keyring: UnlockedKeyring,
    action: str,
    case_ids: list[int],
    *,
    officer_id: int | None = None,
    status: str = "",
    reason: str | None = None,
    target: int | None = None,
    now: datetime | None = None,
) -> BulkResult:
    """Run ``action`` on every case of ``case_ids``; a refusal for one never stops the rest."""
    now = now or utc_now()
    result = BulkResult()
    for case_id in dict.fromkeys(case_ids[:MAX_PICKED]):
        try:
            if action == "assign":
                assign_case(session, keyring, case_id, officer_id, now)
            elif action == "status":
                change_status(session, keyring, case_id, status, reason, now)
            elif action == "close_duplicate":
                change_status(session, keyring, case_id, statuses.CLOSED, "duplicate", now)
            elif action == "close_spam":
                # Spam is "not illegal" to the reporter; the history says spam.
                change_status(session, keyring, case_id, statuses.CLOSED, "not_illegal", now)
            elif action == "merge":
                if target is None or case_id == target:
                    continue
                merge_cases(session, keyring, target, case_id, now)
            elif action == "mute":
                mute_reporters(session, keyring, case_id, now)
            else:
                raise InvalidTransition(f"unknown action {action}")
        except (
            CaseNotFound,
            GroupingRefused,
            InvalidTransition,
            MissingCloseReason,
            UnknownOfficer,
        ):
            session.rollback()
            result.refused.append(case_id)
        else:
            result.done.append(case_id)
    return result


def mute_reporters(session: Session, keyring: UnlockedKeyring, case_id: int, now: datetime) -> None:
    """Mute the receipt codes behind a case: their reports, past and future, rank lowest."""
    check_permission(keyring, Permission.CASES_UPDATE)
    case = live_case(session, case_id)
    reporters = session.scalars(
        select(Report.reporter_id)
        .join(ReportTriage, ReportTriage.report_id == Report.id)
        .where(ReportTriage.case_id == case.id)
        .distinct()
    ).all()
    session.info["muted_reporters"] = True
    for reporter_id in reporters:
        if session.get(MutedReporter, reporter_id) is None:
            session.add(
                MutedReporter(reporter_id=reporter_id, muted_by=keyring.username, muted_at=now)
            )
    audit.record(
        session,
        keyring,
        audit.Action.REPORTER_MUTED,
        f"case:{case.id}",
        {"reporters": len(reporters)},
        now=now,
    )
    refresh_case(session, case, now)
    session.commit()
