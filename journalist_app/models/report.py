"""Reports pulled from the public host: ciphertext on disk, metadata here."""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from journalist_app.clock import utc_now
from journalist_app.models.base import Base


class Report(Base):
    """A submission as listed by the public host; its id is the public host's id."""

    __tablename__ = "reports"
    # The dashboard's reports by day (journalist_app/stats/figures.py): a period's reports.
    __table_args__ = (Index("ix_reports_received", "received_hour", "kind"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    reporter_id: Mapped[str] = mapped_column(String(32), index=True)
    reporter_public_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    received_hour: Mapped[datetime]
    synced_at: Mapped[datetime] = mapped_column(default=utc_now)

    blobs: Mapped[list["ReportBlob"]] = relationship(
        back_populates="report", cascade="all, delete-orphan", order_by="ReportBlob.name"
    )

    def blob(self, name: str) -> "ReportBlob | None":
        return next((blob for blob in self.blobs if blob.name == name), None)


class ReportBlob(Base):
    """One envelope of a report (body, identity, attachment-n), stored under the data dir."""

    __tablename__ = "report_blobs"
    __table_args__ = (UniqueConstraint("report_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[str] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(32))
    # Relative to the data dir, so the folder can move.
    path: Mapped[str] = mapped_column(String(255))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))

    report: Mapped[Report] = relationship(back_populates="blobs")
