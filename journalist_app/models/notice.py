"""Notices to reporters whose report was purged: the one thing a purge leaves behind."""

from datetime import datetime

from sqlalchemy import LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from journalist_app.clock import utc_now
from journalist_app.models.base import Base


class EndedNotice(Base):
    """A reply envelope (status ``ended``) sealed to a purged report's reporter.

    No foreign key: the report it was about is gone (journalist_app/retention/purge.py).
    Pushed at the next sync like a reply, then deleted.
    """

    __tablename__ = "ended_notices"

    # Chosen here and sent in the signed request path, so a repeated push is harmless.
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    reporter_id: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    envelope: Mapped[bytes] = mapped_column(LargeBinary)
