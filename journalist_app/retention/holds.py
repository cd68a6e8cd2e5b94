"""Legal hold: a supervisor puts a case on hold, or lifts the hold, with a reason; audited.

A held case is never purged. Child abuse and terrorism cases are held by default
(journalist_app/data/retention.toml); lifting that default is a decision like any other.
"""

from datetime import datetime

from sqlalchemy.orm import Session

from journalist_app.clock import utc_now
from journalist_app.retention.schedule import HOLD_LIFTED, HOLD_SET
from journalist_app.roles import Permission, Principal, requires
from journalist_app.triage.errors import TriageError
from journalist_app.triage.events import record_case_event
from journalist_app.triage.workflow import get_case

MIN_REASON_CHARS = 10
MAX_REASON_CHARS = 1000


class HoldReasonMissing(TriageError):
    """Setting or lifting a hold needs a written reason."""


@requires(Permission.RETENTION_MANAGE)
def set_hold(
    session: Session,
    actor: Principal,
    case_id: int,
    held: bool,
    reason: str,
    now: datetime | None = None,
) -> None:
    """Hold (``held``) or release a case; the case history and the audit log say who and why.
    Commits."""
    now = now or utc_now()
    reason = reason.strip()
    if not MIN_REASON_CHARS <= len(reason) <= MAX_REASON_CHARS:
        raise HoldReasonMissing(
            f"a hold decision needs a reason of {MIN_REASON_CHARS} to {MAX_REASON_CHARS} characters"
        )
    case = get_case(session, case_id)
    record_case_event(
        session, case.id, actor, HOLD_SET if held else HOLD_LIFTED, {"reason": reason}, now=now
    )
    session.commit()
