"""Reading reports on the officer host: decryption with the unlocked intake keys.

The identity section is not decrypted here (docs/invariants.md, 5): revealing it needs
an allowed role and a stated reason (triage/identity.py). Only its presence is reported.
Every decryption goes through reports/sealed.py, which checks and audits it.
"""

import io
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from crypto.contents import ContentError, ReportBody
from crypto.sync_api import is_id
from journalist_app.audit import report_target as audit_report_target
from journalist_app.errors import ReportNotFound, ReportUnreadable
from journalist_app.keys.keyring import UnlockedKeyring
from journalist_app.models import Report
from journalist_app.reports.sealed import Purpose, SealedUnreadable, open_sealed
from journalist_app.sync.blob_store import BlobStore

# A report body is a short JSON document; anything larger is refused, not displayed.
MAX_BODY_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class ReportSummary:
    """A row of the report list: nothing that needs decryption."""

    id: str
    kind: str
    received_hour: datetime
    identity_present: bool
    attachment_count: int


@dataclass(frozen=True)
class ReportReading:
    summary: ReportSummary
    body: ReportBody


def list_reports(session: Session) -> list[ReportSummary]:
    """Every stored report, newest first."""
    reports = session.scalars(
        select(Report)
        .options(selectinload(Report.blobs))
        .order_by(Report.received_hour.desc(), Report.synced_at.desc(), Report.id)
    )
    return [_summary(report) for report in reports]


def read_report(
    session: Session, store: BlobStore, keyring: UnlockedKeyring, report_id: str
) -> ReportReading:
    """Decrypt a report's body with the officer's intake keys; audited as ``report.opened``
    in the caller's transaction (reports/sealed.py)."""
    report = session.get(Report, report_id) if is_id(report_id) else None
    if report is None:
        raise ReportNotFound(f"no report {report_id}")
    body_blob = report.blob("body")
    if body_blob is None:
        raise ReportUnreadable("the report has no body")
    content = io.BytesIO()
    try:
        open_sealed(
            session,
            store,
            keyring,
            body_blob,
            Purpose.READ_REPORT,
            content,
            max_bytes=MAX_BODY_BYTES,
            target=audit_report_target(report_id),
        )
    except SealedUnreadable as exc:
        raise ReportUnreadable(f"the report body does not open: {exc}") from exc
    return ReportReading(summary=_summary(report), body=parse_report_body(content.getvalue()))


def parse_report_body(raw: bytes) -> ReportBody:
    """Validate the body JSON (crypto/contents.py); a bad one is unreadable, not a crash."""
    try:
        return ReportBody.from_json(raw)
    except ContentError as exc:
        raise ReportUnreadable(str(exc)) from exc


def _summary(report: Report) -> ReportSummary:
    return ReportSummary(
        id=report.id,
        kind=report.kind,
        received_hour=report.received_hour,
        identity_present=report.blob("identity") is not None,
        attachment_count=sum(1 for blob in report.blobs if blob.name.startswith("attachment-")),
    )
