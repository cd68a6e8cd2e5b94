"""Replies to reporters, sealed to their key and waiting to be pushed."""

from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from journalist_app.clock import utc_now
from journalist_app.models.base import Base


class Reply(Base):
    """An envelope (kind ``reply``) only the reporter can open; pushed at the next sync."""

    __tablename__ = "replies"

    # Chosen here and sent in the signed request path, so a repeated push is harmless.
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    reporter_id: Mapped[str] = mapped_column(String(32), index=True)
    report_id: Mapped[str] = mapped_column(ForeignKey("reports.id"))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    pushed_at: Mapped[datetime | None] = mapped_column(default=None)
    envelope: Mapped[bytes] = mapped_column(LargeBinary)
