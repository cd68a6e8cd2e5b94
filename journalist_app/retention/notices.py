""" "Handling ended": what a reporter's status page says once their report is purged.

The purge destroys the report, its replies and its key records in one transaction
(purge.py); in that same transaction each reporter of the purged reports gets one reply
envelope with status ``ended``, sealed to their key while it is still known, and kept
in ``ended_notices`` (no link to anything purged). The next sync pushes it like a
reply and deletes it (journalist_app/sync/pull.py). A reporter who still has a report
in a case that is not purged is not told: their handling has not ended.
"""

import secrets
from collections.abc import Collection
from datetime import UTC, datetime

from nacl.public import PublicKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from crypto.contents import ReplyContent
from crypto.envelope import EnvelopeMetadata, seal_bytes
from journalist_app.errors import ReporterKeyMismatch, ReporterKeyUnchecked
from journalist_app.models import EndedNotice, Report
from journalist_app.reports.replies import reply_key

ENDED = "ended"


def seal_ended_notices(session: Session, report_ids: Collection[str], now: datetime) -> int:
    """Add one ``ended`` notice per reporter whose every report is in ``report_ids``.

    Does not commit (the purge's transaction does). Returns how many were sealed.
    """
    doomed = set(report_ids)
    if not doomed:
        return 0
    by_reporter: dict[str, list[Report]] = {}
    for report in session.scalars(select(Report).where(Report.id.in_(list(doomed)))):
        by_reporter.setdefault(report.reporter_id, []).append(report)
    kept = set(
        session.scalars(
            select(Report.reporter_id).where(
                Report.reporter_id.in_(list(by_reporter)), Report.id.not_in(list(doomed))
            )
        )
    )
    document = ReplyContent(
        sent_at=now.replace(tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), status=ENDED
    ).to_json()
    sealed = 0
    for reporter_id, reports in sorted(by_reporter.items()):
        if reporter_id in kept:
            continue
        key = _first_key(session, reports)
        if key is None:
            continue
        envelope = seal_bytes(
            document,
            [PublicKey(key)],
            EnvelopeMetadata(kind="reply", content_type="application/json"),
        )
        session.add(
            EndedNotice(
                id=secrets.token_hex(16), reporter_id=reporter_id, created_at=now, envelope=envelope
            )
        )
        sealed += 1
    return sealed


def _first_key(session: Session, reports: list[Report]) -> bytes | None:
    """The checked reply key of the first of ``reports`` that has one (oldest first)."""
    for report in sorted(reports, key=lambda r: (r.received_hour, r.id)):
        try:
            return reply_key(session, report)
        except (ReporterKeyUnchecked, ReporterKeyMismatch):
            continue
    return None
