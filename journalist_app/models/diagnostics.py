"""Diagnostics kept in the clear, hash lists and their matches (docs/triage.md).

Like the SHA-256 in ``report_attachments``, these are fingerprints of content, not
content: MD5, SHA-1 and PDQ hashes of each attachment (PDQ of the whole picture, of a
few crops, or of a video's keyframes), and the lists of known illegal media the unit
imports, with the matches found.
"""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from journalist_app.clock import utc_now
from journalist_app.models.base import Base


class AttachmentHashes(Base):
    """MD5 and SHA-1 of an attachment's decrypted content (its SHA-256 is in report_attachments)."""

    __tablename__ = "attachment_hashes"
    __table_args__ = (
        UniqueConstraint("report_id", "blob_name"),
        Index("ix_attachment_hashes_md5", "md5"),
        Index("ix_attachment_hashes_sha1", "sha1"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[str] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"))
    blob_name: Mapped[str] = mapped_column(String(32))
    md5: Mapped[str] = mapped_column(String(32))
    sha1: Mapped[str] = mapped_column(String(40))


class AttachmentPdq(Base):
    """One PDQ hash of an attachment: ``full``, a crop (diagnostics/pdq.py VARIANTS) or
    ``keyframe-N`` of a video."""

    __tablename__ = "attachment_pdq"
    __table_args__ = (Index("ix_attachment_pdq_report", "report_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[str] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"))
    blob_name: Mapped[str] = mapped_column(String(32))
    variant: Mapped[str] = mapped_column(String(16))
    pdq: Mapped[str] = mapped_column(String(64))
    quality: Mapped[int] = mapped_column(default=0)


class HashList(Base):
    """A list of known illegal media imported by an officer (iblagh-officer hashlist import)."""

    __tablename__ = "hash_lists"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    imported_by: Mapped[str] = mapped_column(String(64))
    imported_at: Mapped[datetime] = mapped_column(default=utc_now)
    entry_count: Mapped[int] = mapped_column(default=0)
    # PDQ distance (bits) within which a picture matches this list's entries.
    max_distance: Mapped[int] = mapped_column(default=31)
    # SHA-256 of the file as imported, so the same list is recognised.
    file_sha256: Mapped[str] = mapped_column(String(64))


class HashListEntry(Base):
    __tablename__ = "hash_list_entries"
    __table_args__ = (
        Index("ix_hash_list_entries_sha256", "sha256"),
        Index("ix_hash_list_entries_md5", "md5"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    list_id: Mapped[int] = mapped_column(ForeignKey("hash_lists.id", ondelete="CASCADE"))
    sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    md5: Mapped[str | None] = mapped_column(String(32), default=None)
    pdq: Mapped[str | None] = mapped_column(String(64), default=None)
    label: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(200), default="")


class HashMatch(Base):
    """An attachment matched an entry of a hash list: exactly, or by PDQ within a distance."""

    __tablename__ = "hash_matches"
    __table_args__ = (
        UniqueConstraint("report_id", "blob_name", "entry_id"),
        Index("ix_hash_matches_entry", "entry_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[str] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"))
    blob_name: Mapped[str] = mapped_column(String(32))
    entry_id: Mapped[int] = mapped_column(ForeignKey("hash_list_entries.id", ondelete="CASCADE"))
    # sha256, md5 or pdq
    how: Mapped[str] = mapped_column(String(8))
    distance: Mapped[int] = mapped_column(default=0)
    label: Mapped[str] = mapped_column(Text)
    matched_at: Mapped[datetime] = mapped_column(default=utc_now)
