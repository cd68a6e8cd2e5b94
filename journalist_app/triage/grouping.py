"""Which reports make one case: automatic grouping on ingest, and officers' merges and splits.

Automatic rule. A report read for the first time joins the oldest *open* case holding a
report that shares a normalised address or an attachment SHA-256 with it, or, for a
report from the same reporter (same receipt code), that reporter's open case. Cases it
also matches, open or not, are noted as related on both sides but never merged
automatically: anyone can seal a report to the unit (docs/threat-model.md), and one
forged report listing the addresses of fifty cases must not fold them into one.
Referred and closed cases are not joined either: a fresh report of old content is a
fresh complaint in the queue, linked to the old case.

Nothing is lost: a report always belongs to exactly one case; a case emptied by a merge
stays as a ``merged`` record pointing to where its reports went, with its history.
"""

from datetime import datetime

from sqlalchemy import case as sql_case
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from crypto.contents import FOLLOWUP_CATEGORY
from journalist_app.diagnostics.hashlists import lists_exist
from journalist_app.models import (
    Case,
    HashMatch,
    MutedReporter,
    Report,
    ReportAttachment,
    ReportTriage,
    ReportUrl,
)
from journalist_app.roles import Permission, Principal, requires
from journalist_app.stats import summary
from journalist_app.triage import statuses
from journalist_app.triage.categories import (
    UNKNOWN_CATEGORY_PRIORITY,
    category_order,
    category_priority,
    sla_for,
)
from journalist_app.triage.errors import CaseNotFound, GroupingRefused
from journalist_app.triage.events import TriageAction, record_case_event
from journalist_app.triage.notify import notify_reporters

# How many related cases one report may note (a forged report can list many addresses).
MAX_RELATED = 10


def new_case_for(session: Session, report: Report, now: datetime) -> Case:
    """A case holding only ``report``, unread: urgent until read (categories.py)."""
    priority = category_priority(None)
    case = Case(
        priority=priority,
        category=None,
        received=report.received_hour,
        sla_due_at=report.received_hour + sla_for(priority),
        status=statuses.NEW,
        is_open=True,
        report_count=1,
        unread_count=1,
        created_at=now,
        updated_at=now,
    )
    session.add(case)
    session.flush()
    return case


def live_case(session: Session, case_id: int) -> Case:
    """The case, or the case it was merged into (followed to the end)."""
    case = session.get(Case, case_id)
    seen: set[int] = set()
    while case is not None and case.merged_into_id is not None and case.id not in seen:
        seen.add(case.id)
        case = session.get(Case, case.merged_into_id)
    if case is None:
        raise CaseNotFound(f"no case {case_id}")
    return case


def reporter_case(session: Session, report: Report) -> Case | None:
    """The case of an earlier report from the same reporter, if any."""
    earlier = session.scalar(
        select(ReportTriage.case_id)
        .join(Report, Report.id == ReportTriage.report_id)
        .where(Report.reporter_id == report.reporter_id, Report.id != report.id)
        .order_by(Report.received_hour, Report.id)
        .limit(1)
    )
    return live_case(session, earlier) if earlier is not None else None


def matching_cases(session: Session, report_id: str) -> list[Case]:
    """Live cases (other than the report's own) sharing an address or a file with it."""
    own_urls = select(ReportUrl.url_hash).where(ReportUrl.report_id == report_id)
    own_files = select(ReportAttachment.sha256).where(ReportAttachment.report_id == report_id)
    by_url = select(ReportUrl.report_id).where(
        ReportUrl.url_hash.in_(own_urls), ReportUrl.report_id != report_id
    )
    by_file = select(ReportAttachment.report_id).where(
        ReportAttachment.sha256.in_(own_files), ReportAttachment.report_id != report_id
    )
    case_ids = select(ReportTriage.case_id).where(ReportTriage.report_id.in_(by_url.union(by_file)))
    own_case = select(ReportTriage.case_id).where(ReportTriage.report_id == report_id)
    return list(
        session.scalars(
            select(Case)
            .where(
                Case.id.in_(case_ids),
                Case.id.not_in(own_case),
                Case.merged_into_id.is_(None),
            )
            .order_by(Case.received, Case.id)
        )
    )


def place_report(
    session: Session, triage: ReportTriage, report: Report, now: datetime, *, by_reporter: bool
) -> Case:
    """Move a just-read report to the case it belongs with (see the module's rule).

    ``by_reporter``: its signature verified against the reporter's first report
    (journalist_app/triage/binding.py), so the reporter id may group it.
    """
    own = session.get(Case, triage.case_id)
    assert own is not None
    matches = matching_cases(session, report.id)
    reporter = reporter_case(session, report) if by_reporter else None
    if reporter is not None and reporter.id != own.id:
        matches = [reporter, *[c for c in matches if c.id != reporter.id]]
    target = next((case for case in matches if case.is_open), None)
    related = [case for case in matches if case is not target][:MAX_RELATED]
    if target is not None and _untouched(own):
        _move_reports(session, [triage], own, target)
        record_case_event(
            session,
            target.id,
            None,
            TriageAction.GROUPED,
            {"report": report.id, "from_case": own.id},
            now=now,
        )
        _fold(session, own, target, now)
        own = target
    elif target is not None:
        related.insert(0, target)
    if related:
        record_case_event(
            session,
            own.id,
            None,
            TriageAction.RELATED,
            {"report": report.id, "cases": [case.id for case in related]},
            now=now,
        )
        for case in related:
            record_case_event(
                session, case.id, None, TriageAction.RELATED, {"cases": [own.id]}, now=now
            )
    refresh_case(session, own, now)
    return own


@requires(Permission.CASES_UPDATE)
def merge_cases(
    session: Session, actor: Principal, target_id: int, source_id: int, now: datetime
) -> Case:
    """Fold case ``source_id`` into ``target_id``: every report moves, none is lost. Commits."""
    target, source = session.get(Case, target_id), session.get(Case, source_id)
    if target is None or source is None:
        raise CaseNotFound(f"no case {target_id if target is None else source_id}")
    if target.id == source.id:
        raise GroupingRefused("a case cannot be merged into itself")
    if statuses.MERGED in (target.status, source.status):
        raise GroupingRefused("a case already merged cannot be merged again")
    if target.status == statuses.CLOSED:
        raise GroupingRefused("reopen the closed case before merging into it")
    moved = session.scalars(select(ReportTriage).where(ReportTriage.case_id == source.id)).all()
    _move_reports(session, list(moved), source, target)
    details = {"from_case": source.id, "into_case": target.id, "reports": len(moved)}
    record_case_event(session, target.id, actor, TriageAction.MERGED, details, now=now)
    record_case_event(session, source.id, actor, TriageAction.MERGED, details, now=now)
    _fold(session, source, target, now)
    refresh_case(session, target, now)
    session.commit()
    notify_reporters(session, target, now)
    session.commit()
    return target


@requires(Permission.CASES_UPDATE)
def split_case(
    session: Session, actor: Principal, case_id: int, report_ids: list[str], now: datetime
) -> Case:
    """Move some of a case's reports into a new case, which keeps the case's status. Commits."""
    case = session.get(Case, case_id)
    if case is None or case.status == statuses.MERGED:
        raise CaseNotFound(f"no case {case_id}")
    wanted = set(report_ids)
    moving = session.scalars(
        select(ReportTriage).where(
            ReportTriage.case_id == case.id, ReportTriage.report_id.in_(wanted)
        )
    ).all()
    if not moving or len(moving) != len(wanted):
        raise GroupingRefused("choose reports of this case to split off")
    if len(moving) >= case.report_count:
        raise GroupingRefused("at least one report must stay in the case")
    first = session.get(Report, moving[0].report_id)
    assert first is not None
    new = new_case_for(session, first, now)
    new.status, new.is_open, new.close_reason = case.status, case.is_open, case.close_reason
    new.territory_code, new.region_code = case.territory_code, case.region_code
    new.assignee_id, new.triaged_at = case.assignee_id, case.triaged_at
    _move_reports(session, list(moving), case, new)
    moved_ids = sorted(t.report_id for t in moving)
    record_case_event(
        session,
        case.id,
        actor,
        TriageAction.SPLIT,
        {"into_case": new.id, "reports": moved_ids},
        now=now,
    )
    record_case_event(
        session,
        new.id,
        actor,
        TriageAction.SPLIT,
        {"from_case": case.id, "reports": moved_ids},
        now=now,
    )
    refresh_case(session, case, now)
    refresh_case(session, new, now)
    session.commit()
    return new


def refresh_case(session: Session, case: Case, now: datetime) -> None:
    """Recompute what the queue reads from the case's reports (flushes, no commit)."""
    session.flush()
    count, unread, received = session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(sql_case((ReportTriage.state == "pending", 1), else_=0)), 0),
            func.min(Report.received_hour),
        )
        .select_from(ReportTriage)
        .join(Report, Report.id == ReportTriage.report_id)
        .where(ReportTriage.case_id == case.id)
    ).one()
    categories = session.scalars(
        select(ReportTriage.category)
        .where(
            ReportTriage.case_id == case.id,
            ReportTriage.category.is_not(None),
            # A follow-up adds to its report; its body names no category of its own.
            ReportTriage.category != FOLLOWUP_CATEGORY,
        )
        .distinct()
    ).all()
    known = sorted((c for c in categories if c is not None), key=category_order)
    case.category = known[0] if known else None
    priority = category_priority(case.category) if known else UNKNOWN_CATEGORY_PRIORITY
    if unread:
        priority = min(priority, category_priority(None))
    label = (
        session.scalar(
            select(HashMatch.label)
            .join(ReportTriage, ReportTriage.report_id == HashMatch.report_id)
            .where(ReportTriage.case_id == case.id)
            .order_by(HashMatch.id)
            .limit(1)
        )
        if lists_exist(session)
        else None
    )
    # Known illegal media (a hash-list match) puts the case at the top, whatever it says.
    case.hash_label = label
    if label is not None:
        priority = 1
    elif count and _all_muted(session, case.id):
        # Every report comes from a receipt code an officer muted for flooding.
        priority = max(priority, 4)
    case.priority = priority
    case.report_count = count
    case.unread_count = int(unread)
    if received is not None:
        case.received = received
    case.sla_due_at = case.received + sla_for(case.priority)
    case.updated_at = now


def _mutes_exist(session: Session) -> bool:
    """Whether any receipt code is muted; a session that saw none does not ask again
    (muting sets the flag in its own session, journalist_app/triage/bulk.py)."""
    cached = session.info.get("muted_reporters")
    if cached is None:
        cached = session.scalar(select(MutedReporter.reporter_id).limit(1)) is not None
        session.info["muted_reporters"] = cached
    return bool(cached)


def _all_muted(session: Session, case_id: int) -> bool:
    if not _mutes_exist(session):
        return False
    reporters = (
        select(Report.reporter_id)
        .join(ReportTriage, ReportTriage.report_id == Report.id)
        .where(ReportTriage.case_id == case_id)
    )
    unmuted = session.scalar(
        select(func.count())
        .select_from(Report)
        .join(ReportTriage, ReportTriage.report_id == Report.id)
        .where(
            ReportTriage.case_id == case_id,
            Report.reporter_id.not_in(select(MutedReporter.reporter_id)),
        )
    )
    return (
        bool(session.scalar(select(func.count()).select_from(reporters.subquery()))) and not unmuted
    )


def _untouched(case: Case) -> bool:
    """A case nobody worked on yet that holds one report: it may be folded away."""
    return (
        case.status == statuses.NEW
        and case.report_count <= 1
        and case.assignee_id is None
        and case.territory_code is None
    )


def _move_reports(
    session: Session, triages: list[ReportTriage], source: Case, target: Case
) -> None:
    ids = [t.report_id for t in triages]
    # A Core update: the dashboard's daily counts follow the reports explicitly.
    with summary.tracking(session, [source.id, target.id], ids):
        session.execute(
            update(ReportTriage)
            .where(ReportTriage.report_id.in_(ids), ReportTriage.case_id == source.id)
            .values(case_id=target.id)
            .execution_options(synchronize_session="fetch")
        )
        session.flush()


def _fold(session: Session, emptied: Case, into: Case, now: datetime) -> None:
    """Keep an emptied case as a record of where its reports went (links stay valid)."""
    emptied.status, emptied.is_open = statuses.MERGED, False
    emptied.merged_into_id = into.id
    emptied.report_count = emptied.unread_count = 0
    emptied.updated_at = now


def apply_hash_matches(session: Session, matches: list[HashMatch], now: datetime) -> None:
    """Raise and label the cases of new hash-list matches, and relate the cases that
    match the same list entry (never merged: docs/triage.md). Flushes, no commit."""
    touched: dict[int, Case] = {}
    for match in matches:
        case_id = session.scalar(
            select(ReportTriage.case_id).where(ReportTriage.report_id == match.report_id)
        )
        if case_id is None:
            continue
        case = live_case(session, case_id)
        touched[case.id] = case
        record_case_event(
            session,
            case.id,
            None,
            TriageAction.HASH_MATCHED,
            {
                "report": match.report_id,
                "file": match.blob_name,
                "label": match.label,
                "how": match.how,
                "distance": match.distance,
            },
            now=now,
        )
        others = session.scalars(
            select(ReportTriage.case_id)
            .join(HashMatch, HashMatch.report_id == ReportTriage.report_id)
            .where(HashMatch.entry_id == match.entry_id, ReportTriage.case_id != case.id)
            .distinct()
            .limit(MAX_RELATED)
        ).all()
        if others:
            record_case_event(
                session, case.id, None, TriageAction.RELATED, {"cases": list(others)}, now=now
            )
            for other in others:
                record_case_event(
                    session, other, None, TriageAction.RELATED, {"cases": [case.id]}, now=now
                )
    for case in touched.values():
        refresh_case(session, case, now)
