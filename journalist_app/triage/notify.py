"""Telling reporters what became of their report, through the next sync.

Each reporter of a case gets one reply envelope (journalist_app/reports/replies.py, sealed to
their key) whenever what their page should show changes: a case moved to triaged, a
merge into a case under review, a report joining a referred case. A reporter who sent
several reports to one case is told once. "Referred" is said only after a referral
packet was sent (docs/referral.md).
"""

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from journalist_app.models import Case, Referral, Report, ReportTriage
from journalist_app.reports.replies import queue_reply
from journalist_app.triage.events import TriageAction, record_case_event
from journalist_app.triage.statuses import reporter_view


def notify_reporters(session: Session, case: Case, now: datetime) -> int:
    """Queue a status reply for every reporter of ``case`` not yet told its status. Commits.

    Returns how many reporters were told.
    """
    wanted = _only_what_happened(session, case, reporter_view(case.status, case.close_reason))
    if wanted is None:
        return 0
    rows = session.execute(
        select(ReportTriage, Report.reporter_id)
        .join(Report, Report.id == ReportTriage.report_id)
        .where(ReportTriage.case_id == case.id)
        .order_by(Report.received_hour, Report.id)
    ).all()
    by_reporter: dict[str, list[ReportTriage]] = {}
    for triage, reporter_id in rows:
        by_reporter.setdefault(reporter_id, []).append(triage)
    # Replies are sealed to the key read from an indexed body whose listed key matched
    # (journalist_app/reports/replies.py): a reporter with no such report yet is told later.
    stale = {
        reporter_id: triages
        for reporter_id, triages in by_reporter.items()
        if any((t.reporter_status, t.reporter_reason) != wanted for t in triages)
        and any(_can_reply(t) for t in triages)
    }
    if not stale:
        return 0
    status, reason = wanted
    record_case_event(
        session,
        case.id,
        None,
        TriageAction.REPORTER_NOTIFIED,
        {"status": status, "reason": reason, "reporters": len(stale)},
        now=now,
    )
    for triages in stale.values():
        for triage in triages:
            triage.reporter_status, triage.reporter_reason = status, reason
        # queue_reply commits: the reply and the record that it was sent go together.
        report_id = next(t.report_id for t in triages if _can_reply(t))
        queue_reply(session, report_id, status=status, reason=reason, now=now.replace(tzinfo=UTC))
    return len(stale)


def _only_what_happened(
    session: Session, case: Case, wanted: tuple[str, str | None] | None
) -> tuple[str, str | None] | None:
    """A reporter reads "referred" only once a packet of the case actually left for the
    judicial police (journalist_app/referral/sending.py): until then a case marked
    referred reads "under review", and one closed as referred reads "closed, handled"."""
    if wanted is None or "referred" not in wanted:
        return wanted
    sent = session.scalar(
        select(Referral.id)
        .where(
            Referral.case_id == case.id,
            Referral.kind == "judicial",
            Referral.sent_at.is_not(None),
        )
        .limit(1)
    )
    if sent is not None:
        return wanted
    return ("closed", "handled") if wanted[0] == "closed" else ("under_review", None)


def _can_reply(triage: ReportTriage) -> bool:
    return triage.state == "indexed" and not triage.reporter_key_mismatch
