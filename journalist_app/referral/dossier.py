"""What a referral packet says, read from a case: facts, diagnostics, evidence, custody.

Report bodies are decrypted in memory through the one door (reports/sealed.py,
``Purpose.REFER_REPORT``), each opening audited under the packet's reference. What goes
out is numbered for the packet — "report 1", "file 1.2" — never the officer host's ids:
the case number, report ids, officers' names and other cases stay on this host
(docs/referral.md, "What never leaves"). The mapping from packet numbers back to this
host's records is kept in the referral's custody record, not in the packet.
"""

import io
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from crypto.contents import ContentError, IdentitySection, ReportBody
from journalist_app.diagnostics.urls import UrlDiagnosis, diagnose_url
from journalist_app.keys.keyring import UnlockedKeyring
from journalist_app.models import (
    AttachmentHashes,
    Case,
    HashMatch,
    Report,
    ReportAttachment,
    ReportBlob,
    ReportTriage,
)
from journalist_app.referral.errors import ReferralRefused
from journalist_app.reports.sealed import Purpose, SealedUnreadable, open_sealed
from journalist_app.sync.blob_store import BlobStore
from journalist_app.triage.binding import IDENTITY_PROBLEMS, binding_of, problems_of

MAX_BODY_BYTES = 4 * 1024 * 1024
MAX_IDENTITY_BYTES = 64 * 1024
_UNSAFE = re.compile(r"[^\w.\-]+", re.UNICODE)


@dataclass(frozen=True)
class EvidenceFile:
    """One attachment as the packet carries it, and where it came from on this host."""

    label: str  # "1.2": report 1, file 2
    packet_path: str
    name: str
    detected_type: str
    size: int
    sha256: str
    md5: str
    sha1: str
    envelope_sha256: str
    received_hour: datetime
    matches: tuple[str, ...]
    # This host's records, for custody only: never written into the packet.
    report_id: str = field(repr=False)
    blob_name: str = field(repr=False)
    blob_path: str = field(repr=False)


@dataclass(frozen=True)
class ReportFacts:
    number: int
    kind: str
    received_hour: datetime
    category: str
    language: str
    platform: str
    account: str
    seen_on: str
    description: str
    good_faith: bool
    urls: tuple[UrlDiagnosis, ...]
    evidence: tuple[EvidenceFile, ...]
    body_envelope_sha256: str
    identity_given: bool
    report_id: str = field(repr=False)


@dataclass(frozen=True)
class IdentityPart:
    report_number: int
    identity: IdentitySection = field(repr=False)


@dataclass(frozen=True)
class CaseFacts:
    category: str | None
    territory: str | None
    received: datetime
    reports: tuple[ReportFacts, ...]

    @property
    def evidence(self) -> list[EvidenceFile]:
        return [item for report in self.reports for item in report.evidence]

    @property
    def urls(self) -> list[UrlDiagnosis]:
        return [url for report in self.reports for url in report.urls]


def safe_name(name: str, fallback: str) -> str:
    """A file name that is the same on every system: letters, digits, dot, dash."""
    normal = unicodedata.normalize("NFKC", name).strip().replace(" ", "_")
    cleaned = _UNSAFE.sub("", normal).strip(".")[:80]
    return cleaned or fallback


def read_case(
    session: Session,
    store: BlobStore,
    keyring: UnlockedKeyring,
    case: Case,
    reference: str,
) -> CaseFacts:
    """Decrypt every report of ``case`` in memory (audited under ``reference``)."""
    rows = session.execute(
        select(ReportTriage, Report)
        .join(Report, Report.id == ReportTriage.report_id)
        .where(ReportTriage.case_id == case.id)
        .order_by(Report.received_hour, Report.synced_at, Report.id)
    ).all()
    reports: list[ReportFacts] = []
    for number, (triage, report) in enumerate(rows, start=1):
        if triage.state != "indexed":
            raise ReferralRefused(
                "not_indexed",
                f"a report of the case is not read yet or cannot be read ({triage.state}): "
                "read or split it out before referring",
            )
        reports.append(_report_facts(session, store, keyring, report, number, reference))
    return CaseFacts(
        category=case.category,
        territory=case.territory_code,
        received=case.received,
        reports=tuple(reports),
    )


def _report_facts(
    session: Session,
    store: BlobStore,
    keyring: UnlockedKeyring,
    report: Report,
    number: int,
    reference: str,
) -> ReportFacts:
    body_blob = report.blob("body")
    if body_blob is None:
        raise ReferralRefused("not_indexed", "a report of the case has no body")
    content = io.BytesIO()
    try:
        open_sealed(
            session,
            store,
            keyring,
            body_blob,
            Purpose.REFER_REPORT,
            content,
            max_bytes=MAX_BODY_BYTES,
            target=f"referral:{reference}",
            details={"referral": reference},
        )
        body = ReportBody.from_json(content.getvalue())
    except (SealedUnreadable, ContentError) as exc:
        raise ReferralRefused("not_indexed", f"a report body does not open: {exc}") from exc
    return ReportFacts(
        number=number,
        kind=report.kind,
        received_hour=report.received_hour,
        category=body.category,
        language=body.language,
        platform=body.platform,
        account=body.account,
        seen_on=body.seen_on,
        description=body.description,
        good_faith=body.good_faith,
        urls=tuple(diagnose_url(url) for url in body.urls),
        evidence=tuple(_evidence(session, report, body, number)),
        body_envelope_sha256=body_blob.sha256,
        identity_given=report.blob("identity") is not None,
        report_id=report.id,
    )


def _evidence(
    session: Session, report: Report, body: ReportBody, number: int
) -> list[EvidenceFile]:
    names = {record.blob: record.name for record in body.attachments}
    indexed = {
        row.blob_name: row
        for row in session.scalars(
            select(ReportAttachment).where(ReportAttachment.report_id == report.id)
        )
    }
    hashes = {
        row.blob_name: row
        for row in session.scalars(
            select(AttachmentHashes).where(AttachmentHashes.report_id == report.id)
        )
    }
    matches: dict[str, set[str]] = {}
    for match in session.scalars(select(HashMatch).where(HashMatch.report_id == report.id)):
        matches.setdefault(match.blob_name, set()).add(match.label)
    files: list[EvidenceFile] = []
    blobs = sorted(
        (b for b in report.blobs if b.name.startswith("attachment-")),
        key=lambda b: int(b.name.split("-", 1)[1]) if b.name.split("-", 1)[1].isdigit() else 0,
    )
    for index, blob in enumerate(blobs, start=1):
        facts = indexed.get(blob.name)
        if facts is None:
            raise ReferralRefused(
                "not_indexed", f"file {number}.{index} was not read yet: read the case first"
            )
        label = f"{number}.{index}"
        name = names.get(blob.name, "")
        packet_name = safe_name(name, f"file-{label}")
        digests = hashes.get(blob.name)
        files.append(
            EvidenceFile(
                label=label,
                packet_path=f"evidence/{number}-{index}-{packet_name}",
                name=name,
                detected_type=facts.detected_type,
                size=facts.size,
                sha256=facts.sha256,
                md5=digests.md5 if digests else "",
                sha1=digests.sha1 if digests else "",
                envelope_sha256=blob.sha256,
                received_hour=report.received_hour,
                matches=tuple(sorted(matches.get(blob.name, ()))),
                report_id=report.id,
                blob_name=blob.name,
                blob_path=blob.path,
            )
        )
    return files


def read_identities(
    session: Session,
    store: BlobStore,
    keyring: UnlockedKeyring,
    facts: CaseFacts,
    reference: str,
    reason: str,
) -> list[IdentityPart]:
    """Decrypt the identity sections the reporters gave (supervisor, identity keys only)."""
    parts: list[IdentityPart] = []
    for report in facts.reports:
        if not report.identity_given:
            continue
        blob = session.scalars(
            select(ReportBlob).where(
                ReportBlob.report_id == report.report_id, ReportBlob.name == "identity"
            )
        ).one()
        content = io.BytesIO()
        try:
            open_sealed(
                session,
                store,
                keyring,
                blob,
                Purpose.REFER_IDENTITY,
                content,
                max_bytes=MAX_IDENTITY_BYTES,
                target=f"referral:{reference}",
                details={"referral": reference, "reason": reason},
            )
            identity = IdentitySection.from_json(content.getvalue())
        except (SealedUnreadable, ContentError) as exc:
            raise ReferralRefused(
                "no_identity", f"an identity section does not open: {exc}"
            ) from exc
        # Only an identity bound to its report's body goes (journalist_app/triage/binding.py).
        bound = binding_of(session, report.report_id)
        if (
            bound is None
            or bound.binding is None
            or identity.binding != bound.binding
            or IDENTITY_PROBLEMS.intersection(problems_of(bound))
        ):
            raise ReferralRefused(
                "identity_not_bound", f"the identity of report {report.number} is not bound to it"
            )
        parts.append(IdentityPart(report.number, identity))
    if not parts:
        raise ReferralRefused("no_identity", "no reporter of this case gave their identity")
    return parts
