"""Safe viewing: media are veiled (blurred, greyscale) until an officer reveals one item.

A reveal is an explicit action (a button, by click or keyboard; never a hover), for one
file, written to the audit chain before the sharp picture is served. A file that
matches a hash list needs a second confirmation. Each officer sees how many items they
revealed today: exposure to this material is a health matter the unit tracks.
"""

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from journalist_app import audit
from journalist_app.clock import utc_now
from journalist_app.keys.keyring import UnlockedKeyring
from journalist_app.models import AuditEntry, HashMatch
from journalist_app.roles import Permission, requires
from journalist_app.triage.events import case_target

# How long a reveal lets the sharp picture be fetched (the page loads it at once).
REVEAL_SECONDS = 600
# Revealed items remembered per browser session (oldest forgotten first).
MAX_REMEMBERED = 50


def hash_matches_of(session: Session, report_id: str, blob_name: str) -> list[HashMatch]:
    return list(
        session.scalars(
            select(HashMatch).where(
                HashMatch.report_id == report_id, HashMatch.blob_name == blob_name
            )
        )
    )


@requires(Permission.REPORTS_READ)
def record_reveal(
    session: Session,
    keyring: UnlockedKeyring,
    case_id: int,
    report_id: str,
    blob_name: str,
    *,
    confirmed_match: bool,
    now: datetime | None = None,
) -> None:
    """Audit one reveal (adds to the transaction; the caller commits)."""
    audit.record(
        session,
        keyring,
        audit.Action.MEDIA_REVEALED,
        case_target(case_id),
        {"report": report_id, "file": blob_name, "hash_match": confirmed_match},
        now=now or utc_now(),
    )


def exposure_today(session: Session, username: str, now: datetime | None = None) -> int:
    """Items this officer revealed since midnight UTC."""
    now = now or utc_now()
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    start = midnight.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    end = (midnight + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return int(
        session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(
                AuditEntry.time >= start,
                AuditEntry.time < end,
                AuditEntry.actor == username,
                AuditEntry.action == audit.Action.MEDIA_REVEALED,
            )
        )
        or 0
    )
