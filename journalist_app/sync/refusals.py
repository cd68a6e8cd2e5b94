"""Refused submissions, recorded so that skipping past them is never silent.

A submission the officer host refuses (it breaks the sync contract, exceeds this host's
limits, or is not sealed to this unit) is neither stored nor acknowledged: it stays on
the public host, and the pull lists past it so it never holds back newer reports. Each
refusal lands here (table ``refused_submissions``), which the CLI's sync summary counts
and the admin area lists.
"""

from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from journalist_app.clock import utc_now
from journalist_app.models import RefusedSubmission

Source = Literal["sync", "batch"]
MAX_DETAIL = 500


def record_refusal(
    session: Session, submission_id: str, reason: str, detail: str, source: Source
) -> None:
    """Note that a submission was refused, and why; commits.

    ``detail`` must already be terminal-safe (it may quote the public host).
    """
    now = utc_now()
    row = session.get(RefusedSubmission, submission_id)
    if row is None:
        session.add(
            RefusedSubmission(
                submission_id=submission_id,
                reason=reason[:32],
                detail=detail[:MAX_DETAIL],
                source=source,
                first_seen=now,
                last_seen=now,
                times=1,
            )
        )
    else:
        row.reason = reason[:32]
        row.detail = detail[:MAX_DETAIL]
        row.source = source
        row.last_seen = now
        row.times += 1
    session.commit()


def forget_refusal(session: Session, submission_id: str) -> None:
    """A submission once refused was stored after all: it is no longer one to look at.

    Does not commit: it goes with the commit that stores the submission.
    """
    row = session.get(RefusedSubmission, submission_id)
    if row is not None:
        session.delete(row)


def refused_submissions(session: Session) -> list[RefusedSubmission]:
    """Every submission still refused, the most recently seen first."""
    return list(
        session.scalars(
            select(RefusedSubmission).order_by(
                RefusedSubmission.last_seen.desc(), RefusedSubmission.submission_id
            )
        )
    )


def count_refused(session: Session) -> int:
    """How many submissions are refused and waiting on the public host."""
    return session.scalar(select(func.count()).select_from(RefusedSubmission)) or 0
