"""Opening a case: its reports decrypted in memory, their files listed, its history.

Opening is also when reports that arrived without a keyring (an air-gap import) are
read for the first time: they are indexed and grouped first, so the officer sees the
case as it really is. The opening is written to the audit log.
"""

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from journalist_app.clock import utc_now
from journalist_app.errors import ReportNotFound, ReportUnreadable
from journalist_app.keys.keyring import UnlockedKeyring
from journalist_app.models import (
    Case,
    CaseEvent,
    IdentityReveal,
    Officer,
    Report,
    ReportAttachment,
    ReportTriage,
)
from journalist_app.reports.reading import ReportReading, read_report
from journalist_app.roles import Permission, requires
from journalist_app.sync.blob_store import BlobStore
from journalist_app.triage.attachments import is_picture
from journalist_app.triage.categories import PICTURES_ON_REQUEST
from journalist_app.triage.errors import CaseNotFound
from journalist_app.triage.events import TriageAction, case_target, record_audit
from journalist_app.triage.identity import reveals_of
from journalist_app.triage.ingest import index_report
from journalist_app.triage.queue import sla_state
from journalist_app.triage.rendering import ShownAddress, show_address
from journalist_app.triage.territories import Territory, territories
from journalist_app.triage.thread import ThreadEntry, build_thread

# A case may gather thousands of reports of one viral address; a page shows this many.
MAX_REPORTS_SHOWN = 100
MAX_EVENTS_SHOWN = 200


@dataclass(frozen=True)
class AttachmentView:
    name: str
    ciphertext_size: int
    # None when the attachment does not open with the keys held.
    facts: ReportAttachment | None

    @property
    def is_picture(self) -> bool:
        return self.facts is not None and is_picture(self.facts.detected_type)


@dataclass(frozen=True)
class ReportView:
    report: Report
    triage: ReportTriage
    reading: ReportReading | None
    addresses: list[ShownAddress]
    attachments: list[AttachmentView]

    @property
    def identity_present(self) -> bool:
        return self.report.blob("identity") is not None


@dataclass(frozen=True)
class CaseView:
    case: Case
    assignee: str | None
    territory: Territory | None
    reports: list[ReportView]
    events: list[CaseEvent]
    reveals: list[IdentityReveal]
    sla: tuple[str, object]
    pictures_on_request: bool
    thread: list[ThreadEntry] = field(default_factory=list)

    @property
    def more_reports(self) -> int:
        return max(0, self.case.report_count - len(self.reports))


@requires(Permission.REPORTS_READ)
def open_case(
    session: Session,
    store: BlobStore,
    keyring: UnlockedKeyring,
    case_id: int,
    now: datetime | None = None,
) -> CaseView:
    """Everything the case page shows. Raises :class:`CaseNotFound`."""
    now = now or utc_now()
    case = session.get(Case, case_id)
    if case is None:
        raise CaseNotFound(f"no case {case_id}")
    unread = session.scalars(
        select(ReportTriage.report_id).where(
            ReportTriage.case_id == case.id, ReportTriage.state == "pending"
        )
    ).all()
    for report_id in unread:
        index_report(session, store, keyring, report_id, now)
    session.refresh(case)
    rows = session.execute(
        select(Report, ReportTriage)
        .join(ReportTriage, ReportTriage.report_id == Report.id)
        .where(ReportTriage.case_id == case.id)
        .order_by(Report.received_hour, Report.id)
        .limit(MAX_REPORTS_SHOWN)
    ).all()
    facts = _attachment_facts(session, [report.id for report, _ in rows])
    reports = [_report_view(session, store, keyring, r, t, facts) for r, t in rows]
    assignee = session.get(Officer, case.assignee_id) if case.assignee_id else None
    events = session.scalars(
        select(CaseEvent)
        .where(CaseEvent.case_id == case.id)
        .order_by(CaseEvent.at.desc(), CaseEvent.id.desc())
        .limit(MAX_EVENTS_SHOWN)
    ).all()
    thread = build_thread(session, keyring, case.id, reports)
    record_audit(
        session,
        keyring,
        TriageAction.CASE_OPENED,
        case_target(case.id),
        {"reports": len(reports)},
        now=now,
    )
    session.commit()
    return CaseView(
        case=case,
        assignee=assignee.username if assignee else None,
        territory=territories().get(case.territory_code or ""),
        reports=reports,
        events=list(events),
        reveals=reveals_of(session, case.id),
        sla=sla_state(case, now),
        pictures_on_request=case.category in PICTURES_ON_REQUEST,
        thread=thread,
    )


def case_of_report(session: Session, report_id: str) -> int | None:
    """The case a report belongs to now (for links from the report list)."""
    return session.scalar(select(ReportTriage.case_id).where(ReportTriage.report_id == report_id))


def _attachment_facts(
    session: Session, report_ids: list[str]
) -> dict[tuple[str, str], ReportAttachment]:
    found = session.scalars(
        select(ReportAttachment).where(ReportAttachment.report_id.in_(report_ids))
    )
    return {(fact.report_id, fact.blob_name): fact for fact in found}


def _report_view(
    session: Session,
    store: BlobStore,
    keyring: UnlockedKeyring,
    report: Report,
    triage: ReportTriage,
    facts: dict[tuple[str, str], ReportAttachment],
) -> ReportView:
    try:
        reading: ReportReading | None = read_report(session, store, keyring, report.id)
    except (ReportNotFound, ReportUnreadable):
        reading = None
    addresses = [show_address(url) for url in reading.body.urls] if reading else []
    attachments = [
        AttachmentView(blob.name, blob.size, facts.get((report.id, blob.name)))
        for blob in report.blobs
        if blob.name.startswith("attachment-")
    ]
    attachments.sort(key=lambda a: int(a.name.split("-", 1)[1]))
    return ReportView(report, triage, reading, addresses, attachments)
