"""Sending a built packet: it leaves the host only through this audited action.

On an air-gapped host the files are copied to an export folder (removable media), each
hash checked again as it is copied; the web app hands them out as downloads after the
same action. Either way the audit chain records the packet's hash (docs/invariants.md,
12), the referral becomes ``sent`` with its acknowledgement deadline (data: the
directory's ``[deadlines]``), the case moves to ``referred``, and only now are the
reporters told that their report went to the judicial police (triage/notify.py).
"""

import hashlib
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from journalist_app import audit
from journalist_app.clock import utc_now
from journalist_app.models import Case, Referral
from journalist_app.referral.directory import current_directory, directory_by_hash
from journalist_app.referral.errors import ReferralRefused
from journalist_app.referral.packet import packet_file
from journalist_app.roles import Permission, Principal, requires
from journalist_app.triage import statuses
from journalist_app.triage.events import record_case_event
from journalist_app.triage.notify import notify_reporters

BytesCopied = Callable[[int], object]
_CHUNK = 1024 * 1024


def get_referral(session: Session, reference: str) -> Referral:
    referral = session.scalars(select(Referral).where(Referral.reference == reference)).first()
    if referral is None:
        raise ReferralRefused("not_found", f"no referral {reference}")
    return referral


def referrals_of(session: Session, case_id: int) -> list[Referral]:
    return list(
        session.scalars(
            select(Referral).where(Referral.case_id == case_id).order_by(Referral.created_at)
        )
    )


def export_size(data_dir: Path, referral: Referral) -> int:
    return sum(packet_file(data_dir, referral, kind).stat().st_size for kind in referral.files)


@requires(Permission.REFERRALS_SEND)
def export_packet(
    session: Session,
    actor: Principal,
    data_dir: Path,
    reference: str,
    destination: Path,
    *,
    now: datetime | None = None,
    progress: BytesCopied | None = None,
) -> list[Path]:
    """Copy the packet's files into ``destination`` (checking each hash), then mark it
    sent. Returns the paths written. Commits."""
    referral = get_referral(session, reference)
    if referral.status not in ("built", "sent", "acknowledged"):
        raise ReferralRefused("wrong_status", f"referral {reference} is {referral.status}")
    destination.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for kind, entry in referral.files.items():
        source = packet_file(data_dir, referral, kind)
        target = destination / str(entry["name"])
        digest = hashlib.sha256()
        with source.open("rb") as reader, target.open("wb") as writer:
            for chunk in iter(lambda: reader.read(_CHUNK), b""):
                digest.update(chunk)
                writer.write(chunk)
                if progress is not None:
                    progress(len(chunk))
        if digest.hexdigest() != entry["sha256"]:
            target.unlink(missing_ok=True)
            raise ReferralRefused(
                "evidence_changed",
                f"{entry['name']} changed since it was built: run `custody verify`",
            )
        written.append(target)
    mark_sent(session, actor, referral, via="folder", now=now)
    return written


@requires(Permission.REFERRALS_SEND)
def mark_sent(
    session: Session,
    actor: Principal,
    referral: Referral,
    *,
    via: str,
    now: datetime | None = None,
) -> Referral:
    """Record that the packet left (``via`` folder or download). Commits.

    The first send sets the acknowledgement deadline and moves the case to referred;
    a later copy (lost media) is audited again and changes nothing else.
    """
    now = now or utc_now()
    case = session.get(Case, referral.case_id)
    assert case is not None
    first = referral.sent_at is None
    details = {
        "reference": referral.reference,
        "packet_sha256": referral.packet_sha256,
        "via": via,
        "files": {kind: entry["sha256"] for kind, entry in referral.files.items()},
    }
    record_case_event(session, case.id, actor, audit.Action.REFERRAL_EXPORTED, details, now=now)
    if first:
        directory = directory_by_hash(session, referral.directory_sha256) or current_directory(
            session
        )
        referral.status, referral.sent_at, referral.sent_by = "sent", now, actor.username
        if referral.kind == "judicial":
            referral.ack_due_at = now + directory.deadline(case.category, "acknowledge")
        if referral.kind == "judicial" and case.status in (
            statuses.TRIAGED,
            statuses.UNDER_INVESTIGATION,
        ):
            previous = case.status
            case.status, case.is_open, case.updated_at = statuses.REFERRED, False, now
            record_case_event(
                session,
                case.id,
                actor,
                audit.Action.STATUS_CHANGED,
                {"from": previous, "to": statuses.REFERRED, "reason": None},
                now=now,
            )
    session.commit()
    if first and referral.kind == "judicial":
        # Commits with the replies: the reporters now read "referred".
        notify_reporters(session, case, now)
    return referral


def judicial_referral_sent(session: Session, case_id: int) -> bool:
    """Whether a packet of this case actually left for the judicial police."""
    return (
        session.scalar(
            select(Referral.id)
            .where(
                Referral.case_id == case_id,
                Referral.kind == "judicial",
                Referral.sent_at.is_not(None),
            )
            .limit(1)
        )
        is not None
    )
