"""Submissions the officer host refused, kept so that an admin sees them (docs/sync-api.md).

A refused submission is not acknowledged: it stays on the public host, and every pull
lists it again and skips past it. This table says why, since when and how often, so the
refusal is not silent; a row goes when a later pull stores the submission after all
(a limit raised, for one).
"""

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from journalist_app.clock import utc_now
from journalist_app.models.base import Base


class RefusedSubmission(Base):
    """One refused submission: the last reason given, first and last seen, times refused."""

    __tablename__ = "refused_submissions"

    submission_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    # A stable code: a reason of the contract (crypto/sync_api.py) or of this host's limits.
    reason: Mapped[str] = mapped_column(String(32))
    # The refusal's message, terminal-safe (it may quote the public host).
    detail: Mapped[str] = mapped_column(Text)
    # "sync" (online pull) or "batch" (air-gap import).
    source: Mapped[str] = mapped_column(String(8))
    first_seen: Mapped[datetime] = mapped_column(default=utc_now)
    last_seen: Mapped[datetime] = mapped_column(default=utc_now)
    times: Mapped[int] = mapped_column(default=1)
