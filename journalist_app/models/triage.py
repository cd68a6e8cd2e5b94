"""Triage fields of a report, kept in the clear on the officer host (docs/triage.md).

The category, the normalised addresses and the SHA-256 of each attachment are read
from the decrypted report once, by an officer with an unlocked keyring, so that the
queue can rank, filter and group without a key. Descriptions, identities, file names
and file contents stay encrypted.
"""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from journalist_app.clock import utc_now
from journalist_app.models.base import Base

# pending: stored, not read yet; indexed: fields below filled; damaged: does not decode.
INDEX_STATES = ("pending", "indexed", "damaged")


class ReportTriage(Base):
    """A report's place in a case and what was read from it."""

    __tablename__ = "report_triage"
    __table_args__ = (
        Index("ix_report_triage_case", "case_id"),
        Index("ix_report_triage_state", "state"),
    )

    report_id: Mapped[str] = mapped_column(
        ForeignKey("reports.id", ondelete="CASCADE"), primary_key=True
    )
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    state: Mapped[str] = mapped_column(String(16), default="pending")
    category: Mapped[str | None] = mapped_column(String(32), default=None)
    # The language the reporter wrote in: replies use it.
    language: Mapped[str | None] = mapped_column(String(16), default=None)
    # What the reporter was last told (docs/sync-api.md statuses), so each change goes once.
    reporter_status: Mapped[str | None] = mapped_column(String(32), default=None)
    reporter_reason: Mapped[str | None] = mapped_column(String(32), default=None)
    # The reporter's public key as sealed in the body (None: not read yet, or a body
    # written before bodies carried it). Replies are sealed to it, never to the key the
    # public host lists, which only serves when the body has none (docs/threat-model.md).
    reporter_key: Mapped[bytes | None] = mapped_column(LargeBinary(32), default=None)
    # The listed key differs from the sealed one: the public host swapped it, and no
    # reply is sealed for this report (journalist_app/reports/replies.py).
    reporter_key_mismatch: Mapped[bool] = mapped_column(default=False)
    indexed_at: Mapped[datetime | None] = mapped_column(default=None)
    registered_at: Mapped[datetime] = mapped_column(default=utc_now)


class ReportUrl(Base):
    """A normalised address a report names (journalist_app/triage/urls.py)."""

    __tablename__ = "report_urls"
    __table_args__ = (
        UniqueConstraint("report_id", "url_hash"),
        Index("ix_report_urls_hash", "url_hash"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[str] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"))
    url_hash: Mapped[str] = mapped_column(String(64))
    normalised: Mapped[str] = mapped_column(Text)


class ReportAttachment(Base):
    """An attachment's content hash and type, as read from its envelope."""

    __tablename__ = "report_attachments"
    __table_args__ = (
        UniqueConstraint("report_id", "blob_name"),
        Index("ix_report_attachments_sha256", "sha256"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[str] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"))
    blob_name: Mapped[str] = mapped_column(String(32))
    # SHA-256 of the decrypted content (the envelope's trailer), hex.
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int]
    # From the content's first bytes, never from the name the reporter gave.
    detected_type: Mapped[str] = mapped_column(String(64))
