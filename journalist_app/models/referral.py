"""Referrals (docs/referral.md): the directory imported, the unit's OpenPGP key, packets.

A packet itself rests on disk only encrypted to its recipients (the officer host cannot
open it again); these rows say what it holds, by hash, and where it is in its life:
built, sent (exported, audited with its hash), acknowledged (their reference).
"""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from journalist_app.clock import utc_now
from journalist_app.models.base import Base


class ReferralDirectory(Base):
    """One import of the directory file; the newest is the one in force."""

    __tablename__ = "referral_directories"

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))
    # The TOML as imported: partners' names, public keys and rules, nothing secret.
    content: Mapped[str] = mapped_column(Text)
    imported_at: Mapped[datetime] = mapped_column(default=utc_now)
    imported_by: Mapped[str] = mapped_column(String(64))


class ReferralUnitKey(Base):
    """The unit's OpenPGP key that signs packets; the newest one not retired is in use.

    ``secret_key`` is the armored secret key protected by a passphrase derived from the
    unit's first intake secret (referral/openpgp.py), so it rests wrapped like every key
    of the officer host (docs/invariants.md, 7).
    """

    __tablename__ = "referral_unit_keys"

    fingerprint: Mapped[str] = mapped_column(String(40), primary_key=True)
    public_key: Mapped[str] = mapped_column(Text)
    secret_key: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    created_by: Mapped[str] = mapped_column(String(64))
    retired_at: Mapped[datetime | None] = mapped_column(default=None)


class Referral(Base):
    """One packet for one case: to a judicial police unit (``judicial``) or a platform
    (``takedown``)."""

    __tablename__ = "referrals"
    __table_args__ = (
        Index("ix_referrals_case", "case_id", "created_at"),
        Index("ix_referrals_ack_due", "status", "ack_due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    kind: Mapped[str] = mapped_column(String(16), default="judicial")
    # The reference the packet carries: random, says nothing of the case number.
    reference: Mapped[str] = mapped_column(String(32), unique=True)
    # built -> sent -> acknowledged (takedown: built -> sent -> removed)
    status: Mapped[str] = mapped_column(String(16), default="built")
    directory_sha256: Mapped[str] = mapped_column(String(64))
    police_id: Mapped[str] = mapped_column(String(64), default="")
    prosecutor_id: Mapped[str] = mapped_column(String(64), default="")
    # What the rules proposed, and why the officer chose otherwise (empty: accepted).
    proposed_police_id: Mapped[str] = mapped_column(String(64), default="")
    proposed_prosecutor_id: Mapped[str] = mapped_column(String(64), default="")
    rule_id: Mapped[str] = mapped_column(String(64), default="")
    override_reason: Mapped[str] = mapped_column(Text, default="")
    qualification_id: Mapped[str] = mapped_column(String(64), default="")
    # The identity part: only with a supervisor's approval, named here.
    identity_approved_by: Mapped[str | None] = mapped_column(String(64), default=None)
    # Recipients' fingerprints as checked at build time, and the unit key that signed.
    recipients: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    signer_fingerprint: Mapped[str] = mapped_column(String(40), default="")
    # Folder of the packet's files, relative to the data dir.
    folder: Mapped[str] = mapped_column(String(255), default="")
    # Every file of the packet and its SHA-256 (the manifest), the evidence's sources
    # (report, envelope and plaintext hashes) and the encrypted files' own hashes.
    manifest: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    custody: Mapped[list[Any]] = mapped_column(JSON, default=list)
    files: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    packet_sha256: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    created_by: Mapped[str] = mapped_column(String(64))
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    sent_by: Mapped[str | None] = mapped_column(String(64), default=None)
    ack_due_at: Mapped[datetime | None] = mapped_column(default=None)
    acknowledged_at: Mapped[datetime | None] = mapped_column(default=None)
    their_reference: Mapped[str | None] = mapped_column(String(128), default=None)
    ack_signer: Mapped[str | None] = mapped_column(String(40), default=None)
    # Takedown notices: the platform's language, and when an officer saw it removed.
    platform: Mapped[str] = mapped_column(String(64), default="")
    removed_at: Mapped[datetime | None] = mapped_column(default=None)
