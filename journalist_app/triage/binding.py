"""Checking that the parts of a report are the ones its body binds (issue 9, items 1-3).

A public host under an attacker's control can move an identity section onto another
report, drop it, list a forged follow-up under a reporter's id, or drop, add or swap
attachment blobs. The body (docs/envelope.md, "Report body, version 2") is sealed to the
unit and the public host cannot change it, so at indexing each part is compared with it:

- ``identity``: the body says whether an identity exists and gives the SHA-256 of its
  envelope; at reveal the identity's sealed binding must equal the body's.
- the reporter's signature: a first report verifies against the verify key it carries;
  any later submission of the same reporter id verifies against the key of that first
  report, or it stays an unverified separate submission.
- ``attachments``: blob name, content size and content SHA-256 (the envelope trailer).

Each problem is kept (``report_bindings.problems``), audited and shown on the case page.
"""

from collections.abc import Mapping
from datetime import datetime
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from crypto.contents import ReportBody
from crypto.encoding import b64decode
from crypto.errors import CryptoError
from journalist_app import audit
from journalist_app.models import Report, ReportBinding

IDENTITY_UNBOUND: Final = "identity_unbound"
IDENTITY_UNEXPECTED: Final = "identity_unexpected"
IDENTITY_MISSING: Final = "identity_missing"
IDENTITY_ALTERED: Final = "identity_altered"
SIGNATURE_INVALID: Final = "signature_invalid"
UNVERIFIED_FOLLOWUP: Final = "unverified_followup"
BINDING_REPLAYED: Final = "binding_replayed"
ATTACHMENT_MISSING: Final = "attachment_missing"
ATTACHMENT_EXTRA: Final = "attachment_extra"
ATTACHMENT_ALTERED: Final = "attachment_altered"
# Problems that make the identity section untrustworthy: no reveal while one stands.
IDENTITY_PROBLEMS: Final = frozenset(
    {IDENTITY_UNBOUND, IDENTITY_UNEXPECTED, IDENTITY_MISSING, IDENTITY_ALTERED}
)


def binding_of(session: Session, report_id: str) -> ReportBinding | None:
    return session.get(ReportBinding, report_id)


def problems_of(record: ReportBinding | None) -> list[str]:
    """The problem codes of a report: ``code`` or ``code:blob-name``."""
    return record.problems.split() if record is not None and record.problems else []


def first_report_of(session: Session, report: Report) -> Report | None:
    """The reporter id's earliest report (not follow-up), unless it is ``report`` itself.

    None for a first report, and for a follow-up whose reporter id has no report here.
    """
    first = session.scalar(
        select(Report)
        .where(Report.reporter_id == report.reporter_id, Report.kind == "report")
        .order_by(Report.received_hour, Report.id)
        .limit(1)
    )
    return None if first is None or first.id == report.id else first


def check_body(
    session: Session,
    report: Report,
    body: ReportBody,
    attachments: Mapping[str, tuple[int, str]],
    now: datetime,
    first: Report | None,
) -> ReportBinding:
    """Compare what arrived with ``body``; keep, audit and return the outcome (flushes).

    ``attachments`` maps each ``attachment-<n>`` blob that opened to its content size
    and SHA-256 (hex) as its envelope's trailer gives them; a blob that did not open is
    absent, so it counts as altered when the body lists it. ``first`` is
    :func:`first_report_of` the report, asked once by the caller.
    """
    record = session.get(ReportBinding, report.id) or ReportBinding(report_id=report.id)
    session.add(record)
    record.version = body.version
    record.binding = body.binding or None
    problems: list[str] = []
    identity_blob = report.blob("identity")
    if body.version < 2:
        if identity_blob is not None:
            problems.append(IDENTITY_UNBOUND)
    else:
        if body.identity_sha256 is None and identity_blob is not None:
            problems.append(IDENTITY_UNEXPECTED)
        elif body.identity_sha256 is not None and identity_blob is None:
            problems.append(IDENTITY_MISSING)
        elif identity_blob is not None and identity_blob.sha256 != body.identity_sha256:
            problems.append(IDENTITY_ALTERED)
        problems += _attachment_problems(report, body, attachments)
        if _binding_seen_elsewhere(session, report.id, body.binding):
            problems.append(BINDING_REPLAYED)
    problems += _signature_problems(session, report, body, record, first)
    record.problems = " ".join(problems)
    session.flush()
    if problems:
        audit.record(
            session,
            None,
            audit.Action.REPORT_BINDING_PROBLEM,
            audit.report_target(report.id),
            {"reporter": report.reporter_id, "problems": problems},
            now=now,
        )
    return record


def _signature_problems(
    session: Session, report: Report, body: ReportBody, record: ReportBinding, first: Report | None
) -> list[str]:
    own_key = _verify_key(body.reporter_verify_key)
    if first is None and report.kind == "report":
        record.signed = own_key is not None and body.signature_valid(own_key)
        record.verify_key = own_key if record.signed else None
        if body.version >= 2 and not record.signed:
            return [SIGNATURE_INVALID]
        return []
    # A later submission under this reporter id: only the first report's key counts.
    first_record = session.get(ReportBinding, first.id) if first is not None else None
    key = first_record.verify_key if first_record is not None else None
    record.signed = key is not None and body.signature_valid(key)
    record.verify_key = None
    return [] if record.signed else [UNVERIFIED_FOLLOWUP]


def verified_with_reporter(session: Session, report: Report, first: Report | None) -> bool:
    """May ``report`` be grouped with ``first``, its reporter id's first report (or None)?
    (after check_body)"""
    if first is None:
        return False
    record = session.get(ReportBinding, report.id)
    return record is not None and record.signed


def unverified_reports(session: Session, report_ids: list[str]) -> set[str]:
    """Those of ``report_ids`` kept apart from their reporter id: their signature failed."""
    rows = session.execute(
        select(ReportBinding.report_id, ReportBinding.problems).where(
            ReportBinding.report_id.in_(report_ids)
        )
    )
    return {report_id for report_id, problems in rows if UNVERIFIED_FOLLOWUP in problems.split()}


def _attachment_problems(
    report: Report, body: ReportBody, arrived: Mapping[str, tuple[int, str]]
) -> list[str]:
    problems: list[str] = []
    listed = {record.blob: record for record in body.attachments}
    delivered = {blob.name for blob in report.blobs if blob.name.startswith("attachment-")}
    for name in sorted(listed):
        record = listed[name]
        if name not in delivered:
            problems.append(f"{ATTACHMENT_MISSING}:{name}")
        elif arrived.get(name) != (record.size, record.sha256):
            problems.append(f"{ATTACHMENT_ALTERED}:{name}")
    for name in sorted(delivered - set(listed)):
        problems.append(f"{ATTACHMENT_EXTRA}:{name}")
    return problems


def _binding_seen_elsewhere(session: Session, report_id: str, binding: str) -> bool:
    return (
        session.scalar(
            select(ReportBinding.report_id)
            .where(ReportBinding.binding == binding, ReportBinding.report_id != report_id)
            .limit(1)
        )
        is not None
    )


def _verify_key(value: str) -> bytes | None:
    if not value:
        return None
    try:
        return b64decode(value, length=32)
    except CryptoError:
        return None
