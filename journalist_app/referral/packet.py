"""One action builds the referral packet: read, render, pack, sign, encrypt, record.

The packet (docs/referral.md, "The packet") is a tar archive, signed with the unit's
OpenPGP key and encrypted to the receiving police unit's and the prosecutor's keys in
one GnuPG pass; a detached signature over the encrypted file lets anyone carrying it
check it without opening it. The tar is written straight into GnuPG's input: each file
is decrypted from its envelope chunk by chunk into the stream, its SHA-256 checked on
the way against the one recorded when it was read, so no plaintext file is written to
this host's disk and memory stays flat whatever the evidence weighs.

Beside it: the prosecutor notice (to the prosecutor's key only) and, only when a
supervisor approves it, the reporters' identities as a part of their own.

Everything is recorded in one transaction: the referral row (what went in, by hash, and
where each item came from), the case history and the audit chain. A failure at any step
leaves nothing: no row, no file.
"""

import hashlib
import json
import secrets
import shutil
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO

from sqlalchemy import select
from sqlalchemy.orm import Session

from crypto.openpgp import IsolatedGnuPG
from journalist_app import audit
from journalist_app.clock import utc_now
from journalist_app.keys.keyring import UnlockedKeyring
from journalist_app.models import Case, IdentityReveal, Referral, ReportBlob
from journalist_app.referral.directory import (
    Directory,
    DirectoryError,
    Partner,
    current_directory,
    propose,
)
from journalist_app.referral.documents import (
    Dossier,
    PacketFile,
    dossier_pdf,
    notice_pdf,
)
from journalist_app.referral.dossier import (
    CaseFacts,
    EvidenceFile,
    IdentityPart,
    read_case,
    read_identities,
)
from journalist_app.referral.errors import ReferralRefused
from journalist_app.referral.partners import check_partner
from journalist_app.referral.provenance import provenance_record
from journalist_app.referral.unit_key import UnitSigningKey, signing_key
from journalist_app.reports.sealed import Purpose, SealedUnreadable, open_sealed
from journalist_app.roles import Permission, has_permission, requires
from journalist_app.sync.blob_store import BlobStore
from journalist_app.triage import statuses
from journalist_app.triage.events import record_case_event
from journalist_app.triage.territories import territories
from journalist_app.triage.workflow import get_case

MIN_REASON_CHARS = 20
MAX_REASON_CHARS = 2000
MAX_EVIDENCE_BYTES = 4 * 1024 * 1024 * 1024
REFERABLE = frozenset({statuses.TRIAGED, statuses.UNDER_INVESTIGATION, statuses.REFERRED})
_REFERENCE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
Progress = Callable[[int], object]


@dataclass(frozen=True)
class ReferralRequest:
    """What the officer chose on the referral page."""

    case_id: int
    police_id: str
    prosecutor_id: str
    qualification_id: str
    override_reason: str = ""
    include_identity: bool = False
    identity_reason: str = ""


def new_reference(now: datetime) -> str:
    """A packet reference: the year and random letters, nothing of the case number."""
    random_part = "".join(secrets.choice(_REFERENCE_ALPHABET) for _ in range(8))
    return f"IBL-{now:%Y}-{random_part}"


def packet_names(reference: str) -> dict[str, str]:
    return {
        "packet": f"{reference}.tar.gpg",
        "signature": f"{reference}.tar.gpg.sig",
        "notice": f"{reference}-notice.pdf.gpg",
        "identity": f"{reference}-identity.json.gpg",
    }


def _reason(text: str, what: str, code: str) -> str:
    reason = " ".join(text.split())
    if not MIN_REASON_CHARS <= len(reason) <= MAX_REASON_CHARS:
        raise ReferralRefused(
            code, f"{what} needs a reason of {MIN_REASON_CHARS} to {MAX_REASON_CHARS} characters"
        )
    return reason


def _partners(directory: Directory, request: ReferralRequest) -> tuple[Partner, Partner]:
    try:
        return (
            directory.partner(request.police_id, "police"),
            directory.partner(request.prosecutor_id, "prosecutor"),
        )
    except DirectoryError as exc:
        raise ReferralRefused("unknown_partner", str(exc)) from exc


@requires(Permission.REFERRALS_SEND)
def build_packet(
    session: Session,
    store: BlobStore,
    keyring: UnlockedKeyring,
    data_dir: Path,
    request: ReferralRequest,
    *,
    now: datetime | None = None,
    progress: Progress | None = None,
) -> Referral:
    """Build, sign and encrypt the packet of one case. Commits; see the module's docstring."""
    now = (now or utc_now()).replace(microsecond=0)
    case = get_case(session, request.case_id)
    if case.status not in REFERABLE:
        raise ReferralRefused(
            "wrong_status", f"a {case.status} case cannot be referred: triage it first"
        )
    directory = current_directory(session)
    proposal = propose(directory, case.category, case.territory_code)
    police, prosecutor = _partners(directory, request)
    proposed = (
        proposal.police.id if proposal.police else "",
        proposal.prosecutor.id if proposal.prosecutor else "",
    )
    override = ""
    if (police.id, prosecutor.id) != proposed:
        override = _reason(request.override_reason, "choosing another unit", "override_reason")
    qualification = directory.qualifications.get(request.qualification_id)
    if qualification is None:
        raise ReferralRefused("unknown_qualification", "choose a qualification from the list")
    identity_reason = ""
    if request.include_identity:
        if not has_permission(keyring, Permission.IDENTITY_REVEAL):
            raise ReferralRefused(
                "identity_not_approved", "only a supervisor may put a reporter's identity in"
            )
        identity_reason = _reason(request.identity_reason, "the identity", "identity_reason")
    unit_key = signing_key(session, keyring)
    reference = new_reference(now)
    relative = Path("referrals") / reference
    folder = data_dir / relative
    folder.mkdir(parents=True, mode=0o700)
    try:
        facts = read_case(session, store, keyring, case, reference)
        identities = (
            read_identities(session, store, keyring, facts, reference, identity_reason)
            if request.include_identity
            else []
        )
        dossier = Dossier(
            reference=reference,
            created_at=now,
            unit=directory.unit,
            police=police,
            prosecutor=prosecutor,
            court=directory.court_of(case.territory_code),
            rule=proposal.rule,
            qualification=qualification,
            facts=facts,
            territory=territories().get(case.territory_code or ""),
            identity_included=bool(identities),
            signer_fingerprint=unit_key.fingerprint,
            recipients=(police.fingerprint, prosecutor.fingerprint),
        )
        manifest, files = _write_packet(
            session, store, keyring, folder, dossier, unit_key, identities, progress
        )
        referral = _record(
            session,
            keyring,
            case,
            directory,
            request,
            dossier,
            proposal_ids=proposed,
            rule_id=proposal.rule.id if proposal.rule else "",
            override=override,
            identity_reason=identity_reason,
            folder=str(relative),
            manifest=manifest,
            files=files,
            now=now,
        )
        session.commit()
    except BaseException:
        session.rollback()
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return referral


def _write_packet(
    session: Session,
    store: BlobStore,
    keyring: UnlockedKeyring,
    folder: Path,
    dossier: Dossier,
    unit_key: UnitSigningKey,
    identities: list[IdentityPart],
    progress: Progress | None,
) -> tuple[dict[str, str], dict[str, dict[str, object]]]:
    names = packet_names(dossier.reference)
    documents = {
        "dossier-fr.pdf": dossier_pdf(dossier, "fr"),
        "dossier-ar.pdf": dossier_pdf(dossier, "ar"),
    }
    listed = [PacketFile(n, hashlib.sha256(d).hexdigest(), len(d)) for n, d in documents.items()]
    documents["provenance.jsonld"] = provenance_record(dossier, listed)
    manifest = {name: hashlib.sha256(data).hexdigest() for name, data in documents.items()}
    files: dict[str, dict[str, object]] = {}
    with IsolatedGnuPG() as gpg:
        # Checked here, just before use: a key may have expired since the import.
        police_key = check_partner(gpg, dossier.police)
        prosecutor_key = check_partner(gpg, dossier.prosecutor)
        signer = gpg.import_secret(unit_key.secret_key, unit_key.passphrase)
        both = [police_key.fingerprint, prosecutor_key.fingerprint]

        def produce(sink: IO[bytes]) -> None:
            _stream_tar(session, store, keyring, sink, dossier, documents, manifest, progress)

        packet = folder / names["packet"]
        gpg.encrypt_stream(produce, both, packet, signer=signer, passphrase=unit_key.passphrase)
        gpg.sign_detached(
            packet, folder / names["signature"], signer=signer, passphrase=unit_key.passphrase
        )
        gpg.encrypt_bytes(
            notice_pdf(dossier),
            [prosecutor_key.fingerprint],
            folder / names["notice"],
            signer=signer,
            passphrase=unit_key.passphrase,
        )
        recipients = {
            "packet": both,
            "signature": [],
            "notice": [prosecutor_key.fingerprint],
        }
        if identities:
            gpg.encrypt_bytes(
                _identity_document(dossier.reference, identities),
                both,
                folder / names["identity"],
                signer=signer,
                passphrase=unit_key.passphrase,
            )
            recipients["identity"] = both
    for kind, to in recipients.items():
        path = folder / names[kind]
        files[kind] = {
            "name": names[kind],
            "sha256": sha256_file(path),
            "size": path.stat().st_size,
            "to": to,
        }
    return manifest, files


def _identity_document(reference: str, identities: list[IdentityPart]) -> bytes:
    document = {
        "reference": reference,
        "note": "Reporters' identities, given by them and released with a supervisor's approval.",
        "reporters": [
            {
                "report": part.report_number,
                "full_name": part.identity.full_name,
                "national_id": part.identity.national_id,
                "phone": part.identity.phone,
                "email": part.identity.email,
                "city": part.identity.city,
            }
            for part in identities
        ],
    }
    return json.dumps(document, ensure_ascii=False, indent=1).encode("utf-8")


class _CheckedSink:
    """Passes an evidence file's plaintext into the tar stream, counting and hashing it."""

    def __init__(self, target: IO[bytes]) -> None:
        self._target = target
        self.size = 0
        self.hash = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self._target.write(data)
        self.size += len(data)
        self.hash.update(data)
        return len(data)


def _stream_tar(
    session: Session,
    store: BlobStore,
    keyring: UnlockedKeyring,
    sink: IO[bytes],
    dossier: Dossier,
    documents: dict[str, bytes],
    manifest: dict[str, str],
    progress: Progress | None,
) -> None:
    """Write the tar: documents, evidence (decrypted on the fly), then the manifest."""
    root = dossier.reference
    mtime = int(dossier.created_at.timestamp())

    def header(name: str, size: int) -> bytes:
        info = tarfile.TarInfo(f"{root}/{name}")
        info.size, info.mtime, info.mode = size, mtime, 0o644
        return info.tobuf(format=tarfile.PAX_FORMAT, encoding="utf-8", errors="strict")

    def pad(size: int) -> None:
        remainder = size % tarfile.BLOCKSIZE
        if remainder:
            sink.write(tarfile.NUL * (tarfile.BLOCKSIZE - remainder))

    for name, data in documents.items():
        sink.write(header(name, len(data)))
        sink.write(data)
        pad(len(data))
    for item in dossier.facts.evidence:
        sink.write(header(item.packet_path, item.size))
        checked = _CheckedSink(sink)
        _open_evidence(session, store, keyring, item, dossier.reference, checked)
        if checked.size != item.size or checked.hash.hexdigest() != item.sha256:
            raise ReferralRefused(
                "evidence_changed",
                f"file {item.label} does not match the hash recorded when it was read",
            )
        pad(item.size)
        manifest[item.packet_path] = item.sha256
        if progress is not None:
            progress(item.size)
    lines = "".join(f"{digest}  {name}\n" for name, digest in sorted(manifest.items()))
    data = lines.encode("utf-8")
    sink.write(header("manifest.sha256", len(data)))
    sink.write(data)
    pad(len(data))
    sink.write(tarfile.NUL * (tarfile.BLOCKSIZE * 2))


def _open_evidence(
    session: Session,
    store: BlobStore,
    keyring: UnlockedKeyring,
    item: EvidenceFile,
    reference: str,
    sink: _CheckedSink,
) -> None:
    blob = session.get(ReportBlob, _blob_id(session, item))
    if blob is None:
        raise ReferralRefused("evidence_changed", f"file {item.label} is no longer stored")
    try:
        open_sealed(
            session,
            store,
            keyring,
            blob,
            Purpose.REFER_ATTACHMENT,
            sink,
            max_bytes=MAX_EVIDENCE_BYTES,
            target=f"referral:{reference}",
            details={"referral": reference, "label": item.label},
        )
    except SealedUnreadable as exc:
        raise ReferralRefused("evidence_changed", f"file {item.label}: {exc}") from exc


def _blob_id(session: Session, item: EvidenceFile) -> int | None:
    return session.scalar(
        select(ReportBlob.id).where(
            ReportBlob.report_id == item.report_id, ReportBlob.name == item.blob_name
        )
    )


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _custody(facts: CaseFacts) -> list[dict[str, object]]:
    """Packet items back to this host's records (kept here, never in the packet)."""
    items: list[dict[str, object]] = []
    for report in facts.reports:
        items.append(
            {
                "item": f"report {report.number}",
                "report_id": report.report_id,
                "blob": "body",
                "envelope_sha256": report.body_envelope_sha256,
            }
        )
        for item in report.evidence:
            items.append(
                {
                    "item": f"file {item.label}",
                    "report_id": item.report_id,
                    "blob": item.blob_name,
                    "envelope_sha256": item.envelope_sha256,
                    "sha256": item.sha256,
                    "size": item.size,
                    "packet_path": item.packet_path,
                }
            )
    return items


def _record(
    session: Session,
    keyring: UnlockedKeyring,
    case: Case,
    directory: Directory,
    request: ReferralRequest,
    dossier: Dossier,
    *,
    proposal_ids: tuple[str, str],
    rule_id: str,
    override: str,
    identity_reason: str,
    folder: str,
    manifest: dict[str, str],
    files: dict[str, dict[str, object]],
    now: datetime,
) -> Referral:
    packet_sha256 = str(files["packet"]["sha256"])
    referral = Referral(
        case_id=case.id,
        kind="judicial",
        reference=dossier.reference,
        status="built",
        directory_sha256=directory.sha256,
        police_id=dossier.police.id,
        prosecutor_id=dossier.prosecutor.id,
        proposed_police_id=proposal_ids[0],
        proposed_prosecutor_id=proposal_ids[1],
        rule_id=rule_id,
        override_reason=override,
        qualification_id=request.qualification_id,
        identity_approved_by=keyring.username if identity_reason else None,
        recipients={
            "police": dossier.police.fingerprint,
            "prosecutor": dossier.prosecutor.fingerprint,
        },
        signer_fingerprint=dossier.signer_fingerprint,
        folder=folder,
        manifest=manifest,
        custody=_custody(dossier.facts),
        files=files,
        packet_sha256=packet_sha256,
        created_at=now,
        created_by=keyring.username,
    )
    session.add(referral)
    manifest_text = "".join(f"{d}  {n}\n" for n, d in sorted(manifest.items()))
    details = {
        "reference": dossier.reference,
        "packet_sha256": packet_sha256,
        "manifest_sha256": hashlib.sha256(manifest_text.encode("utf-8")).hexdigest(),
        "police": dossier.police.id,
        "prosecutor": dossier.prosecutor.id,
        "proposed": list(proposal_ids),
        "override_reason": override,
        "qualification": request.qualification_id,
        "identity": bool(identity_reason),
        "signer": dossier.signer_fingerprint,
        "files": {kind: entry["sha256"] for kind, entry in files.items()},
    }
    record_case_event(session, case.id, keyring, audit.Action.REFERRAL_BUILT, details, now=now)
    if identity_reason:
        for report in dossier.facts.reports:
            if report.identity_given:
                session.add(
                    IdentityReveal(
                        case_id=case.id,
                        report_id=report.report_id,
                        officer=keyring.username,
                        reason=f"{dossier.reference}: {identity_reason}",
                        at=now,
                    )
                )
    session.flush()
    return referral


def packet_file(data_dir: Path, referral: Referral, kind: str) -> Path:
    """The path of one of the packet's files (packet, signature, notice, identity)."""
    entry = referral.files.get(kind)
    if not isinstance(entry, dict):
        raise ReferralRefused("not_found", f"this referral has no {kind} file")
    return data_dir / referral.folder / str(entry["name"])
