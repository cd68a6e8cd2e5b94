"""``iblagh-officer custody verify CASE``: the chain from intake to each packet, checked.

For every referral of the case, link by link:

1. the audit chain is intact (journalist_app/audit.py), and it holds the referral's
   ``referral.built`` entry naming this packet's hash (and ``referral.exported`` once
   sent, ``referral.acknowledged`` once acknowledged);
2. each report body and file went in from the envelope received: the stored envelope
   still hashes to the SHA-256 recorded on receipt, and to the one the referral noted;
3. each file's content hash, recorded when it was read, is the one in the packet's
   manifest, under its packet path;
4. every file of the packet on this host still hashes to what was built and audited.

Any break is a line starting with ``BROKEN``; :attr:`CustodyCheck.intact` is False.
"""

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from journalist_app import audit
from journalist_app.models import AuditEntry, Referral, ReportAttachment, ReportBlob
from journalist_app.referral.packet import packet_file, sha256_file
from journalist_app.sync.blob_store import BlobStore
from journalist_app.triage.events import case_target


@dataclass
class CustodyCheck:
    lines: list[str] = field(default_factory=list)
    breaks: int = 0

    @property
    def intact(self) -> bool:
        return self.breaks == 0

    def ok(self, line: str) -> None:
        self.lines.append(f"ok      {line}")

    def broken(self, line: str) -> None:
        self.breaks += 1
        self.lines.append(f"BROKEN  {line}")


def verify_custody(
    session: Session, store: BlobStore, data_dir: Path, case_id: int
) -> CustodyCheck:
    check = CustodyCheck()
    chain = audit.verify_chain(session)
    if chain.intact:
        check.ok(f"audit chain: {chain.count} entries, head {chain.head[:16]}")
    else:
        check.broken(f"audit chain: {chain.problem}")
    referrals = list(
        session.scalars(
            select(Referral).where(Referral.case_id == case_id).order_by(Referral.created_at)
        )
    )
    if not referrals:
        check.lines.append(f"case {case_id}: no referral yet")
    entries = _referral_entries(session, case_id)
    for referral in referrals:
        check.lines.append(f"referral {referral.reference} ({referral.status})")
        _check_audit(check, referral, entries)
        _check_items(check, session, store, referral)
        _check_files(check, data_dir, referral)
    return check


def _referral_entries(session: Session, case_id: int) -> list[AuditEntry]:
    return list(
        session.scalars(
            select(AuditEntry)
            .where(
                AuditEntry.target == case_target(case_id),
                AuditEntry.action.like("referral.%"),
            )
            .order_by(AuditEntry.id)
        )
    )


def _check_audit(check: CustodyCheck, referral: Referral, entries: list[AuditEntry]) -> None:
    wanted = {"referral.built": True, "referral.exported": referral.sent_at is not None}
    wanted["referral.acknowledged"] = referral.acknowledged_at is not None
    for action, needed in wanted.items():
        if not needed:
            continue
        found = [
            e
            for e in entries
            if e.action == action and json.loads(e.details).get("reference") == referral.reference
        ]
        named = [
            e for e in found if json.loads(e.details).get("packet_sha256") == referral.packet_sha256
        ]
        if named:
            check.ok(f"  audit entry {named[0].id} {action}, packet {referral.packet_sha256[:16]}")
        else:
            check.broken(f"  no audit entry {action} names packet {referral.packet_sha256[:16]}")


def _check_items(
    check: CustodyCheck, session: Session, store: BlobStore, referral: Referral
) -> None:
    for item in referral.custody:
        label = str(item["item"])
        blob = session.scalars(
            select(ReportBlob).where(
                ReportBlob.report_id == item["report_id"], ReportBlob.name == item["blob"]
            )
        ).first()
        if blob is None:
            check.broken(f"  {label}: its envelope is no longer stored")
            continue
        if blob.sha256 != item["envelope_sha256"]:
            check.broken(f"  {label}: the envelope recorded on receipt is not the one referred")
            continue
        digest = hashlib.sha256()
        with store.open(blob.path) as handle:
            for chunk in iter(lambda: handle.read(1024 * 1024), b""):
                digest.update(chunk)
        if digest.hexdigest() != blob.sha256:
            check.broken(f"  {label}: the stored envelope changed since receipt")
            continue
        line = f"  {label}: envelope {blob.sha256[:16]} as received"
        if "sha256" in item:
            indexed = session.scalars(
                select(ReportAttachment.sha256).where(
                    ReportAttachment.report_id == item["report_id"],
                    ReportAttachment.blob_name == item["blob"],
                )
            ).first()
            path = str(item["packet_path"])
            if indexed != item["sha256"]:
                check.broken(f"{line}, but its content hash is not the one read at intake")
                continue
            if referral.manifest.get(path) != item["sha256"]:
                check.broken(f"{line}, but the manifest gives {path} another hash")
                continue
            line += f" -> content {str(item['sha256'])[:16]} -> manifest {path}"
        check.ok(line)


def _check_files(check: CustodyCheck, data_dir: Path, referral: Referral) -> None:
    for kind, entry in referral.files.items():
        path = packet_file(data_dir, referral, kind)
        if not path.exists():
            check.broken(f"  {entry['name']}: missing from this host")
            continue
        if sha256_file(path) != entry["sha256"]:
            check.broken(f"  {entry['name']}: changed since it was built")
            continue
        check.ok(f"  {entry['name']}: {str(entry['sha256'])[:16]} as built")
