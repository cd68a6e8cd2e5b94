"""The receiving unit's acknowledgement: an OpenPGP clear-signed text, imported.

Format (docs/referral.md, "Acknowledgement"), any language around it, these two lines
inside the signed text::

    Packet-SHA256: <the 64 hexadecimal digits of the .tar.gpg file>
    Reference: <the receiving unit's own reference>

The packet is found by its hash; the signature must come from the police unit or the
prosecutor the packet was encrypted to, whose key (from the directory the packet was
built with) is checked again first: expired, revoked or another key is refused. Only
the text under the signature is read. Importing records "received by X, reference Y",
in the case history and the audit chain.
"""

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from crypto.errors import SignatureError
from crypto.openpgp import IsolatedGnuPG
from journalist_app import audit
from journalist_app.clock import utc_now
from journalist_app.models import Referral
from journalist_app.referral.directory import Partner, directory_by_hash
from journalist_app.referral.errors import ReferralRefused
from journalist_app.referral.partners import check_partner
from journalist_app.roles import Permission, Principal, requires
from journalist_app.triage.events import record_case_event

MAX_ACK_BYTES = 64 * 1024
_HASH = re.compile(r"^\s*Packet-SHA256:\s*([0-9a-fA-F]{64})\s*$", re.MULTILINE)
_REFERENCE = re.compile(r"^\s*Reference:\s*(\S.{0,126}?)\s*$", re.MULTILINE)
_ANY_HASH = re.compile(r"\b[0-9a-fA-F]{64}\b")


@dataclass(frozen=True)
class Acknowledged:
    referral: Referral
    signer: Partner
    their_reference: str


def _candidate(session: Session, text: str) -> Referral:
    for found in _ANY_HASH.findall(text):
        referral = session.scalars(
            select(Referral).where(Referral.packet_sha256 == found.lower())
        ).first()
        if referral is not None:
            return referral
    raise ReferralRefused(
        "bad_acknowledgement", "the acknowledgement names no packet this unit sent"
    )


@requires(Permission.REFERRALS_SEND)
def import_acknowledgement(
    session: Session, actor: Principal, signed: bytes, now: datetime | None = None
) -> Acknowledged:
    """Check and record an acknowledgement. Commits; :class:`ReferralRefused` otherwise."""
    now = now or utc_now()
    if len(signed) > MAX_ACK_BYTES:
        raise ReferralRefused("bad_acknowledgement", "an acknowledgement is a short text")
    try:
        text = signed.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ReferralRefused("bad_acknowledgement", "the file is not UTF-8 text") from exc
    referral = _candidate(session, text)
    if referral.sent_at is None:
        raise ReferralRefused("wrong_status", "this packet was never sent")
    directory = directory_by_hash(session, referral.directory_sha256)
    if directory is None:
        raise ReferralRefused("not_found", "the directory this packet was built with is gone")
    verified = None
    signer: Partner | None = None
    for partner_id, kind in (
        (referral.police_id, "police"),
        (referral.prosecutor_id, "prosecutor"),
    ):
        partner = directory.partner(partner_id, kind)
        with IsolatedGnuPG() as gpg:
            check_partner(gpg, partner)
            try:
                verified = gpg.verify_clearsigned(signed, partner.fingerprint)
            except SignatureError:
                continue
        signer = partner
        break
    if verified is None or signer is None:
        raise ReferralRefused(
            "bad_acknowledgement",
            "the acknowledgement is not signed by the unit or the prosecutor the packet "
            "was sent to",
        )
    named = _HASH.search(verified.text)
    if named is None or named.group(1).lower() != referral.packet_sha256:
        raise ReferralRefused(
            "bad_acknowledgement", "the signed text does not name this packet's SHA-256"
        )
    reference = _REFERENCE.search(verified.text)
    their_reference = reference.group(1).strip() if reference else ""
    if not their_reference or not their_reference.isprintable():
        raise ReferralRefused("bad_acknowledgement", "the signed text gives no reference")
    referral.status = "acknowledged"
    referral.acknowledged_at = now
    referral.their_reference = their_reference
    referral.ack_signer = verified.signer_fingerprint
    record_case_event(
        session,
        referral.case_id,
        actor,
        audit.Action.REFERRAL_ACKNOWLEDGED,
        {
            "reference": referral.reference,
            "packet_sha256": referral.packet_sha256,
            "by": signer.id,
            "signer": verified.signer_fingerprint,
            "their_reference": their_reference,
        },
        now=now,
    )
    session.commit()
    return Acknowledged(referral, signer, their_reference)
