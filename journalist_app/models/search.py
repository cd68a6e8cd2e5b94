"""The search index: blind tokens (crypto/blind_index.py) pointing at reports or notes.

No word is stored: only keyed tokens, which the officer host recomputes with an
unlocked keyring to look a term up (docs/triage.md, "Search").
"""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from journalist_app.clock import utc_now
from journalist_app.models.base import Base


class SearchToken(Base):
    __tablename__ = "search_tokens"
    __table_args__ = (
        Index("ix_search_tokens_token", "token"),
        Index("ix_search_tokens_report", "report_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[bytes] = mapped_column(LargeBinary(16))
    # A report's body or a reply about it: the token follows the report's case.
    report_id: Mapped[str | None] = mapped_column(
        ForeignKey("reports.id", ondelete="CASCADE"), default=None
    )
    # A note: the token stays with the note's case (and its successor after a merge).
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), default=None)
    # body, reply or note: which part matched, for the result list.
    source: Mapped[str] = mapped_column(String(8))


class MutedReporter(Base):
    """A receipt code that floods the queue: its reports still arrive, at the lowest priority."""

    __tablename__ = "muted_reporters"

    reporter_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    muted_by: Mapped[str] = mapped_column(String(64))
    muted_at: Mapped[datetime] = mapped_column(default=utc_now)
