"""What a case's thread holds besides reports: the unit's copy of each reply, and notes.

Both are envelopes sealed to the unit's intake and recovery keys (never readable at
rest, docs/triage.md); they open only through journalist_app/reports/sealed.py.
"""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from journalist_app.clock import utc_now
from journalist_app.models.base import Base


class ReplyCopy(Base):
    """The same reply the reporter gets, sealed to the unit so every reading officer sees it."""

    __tablename__ = "reply_copies"

    reply_id: Mapped[str] = mapped_column(
        ForeignKey("replies.id", ondelete="CASCADE"), primary_key=True
    )
    # Who sent it ("system" for an automatic status notice).
    author: Mapped[str] = mapped_column(String(64), default="system")
    envelope: Mapped[bytes] = mapped_column(LargeBinary)


class CaseNote(Base):
    """An internal note between officers about a case; never sent to anyone."""

    __tablename__ = "case_notes"
    __table_args__ = (Index("ix_case_notes_case", "case_id", "at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    author: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(default=utc_now)
    envelope: Mapped[bytes] = mapped_column(LargeBinary)
