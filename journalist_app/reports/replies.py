"""Replies to reporters: sealed here to the reporter's key, pushed at the next sync.

The key is the one sealed in the report's body, read when the report was indexed
(journalist_app/triage/ingest.py), not the one the public host lists beside it: a
public host that swaps the listed key cannot read the replies to a real report
(docs/invariants.md, 6). The listed key serves only for bodies written before they
carried the key.
"""

import secrets
from datetime import UTC, datetime

from nacl.public import PublicKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from crypto.contents import ContentError, ReplyContent
from crypto.envelope import EnvelopeMetadata, seal_bytes
from journalist_app.errors import (
    InvalidReply,
    MissingKey,
    ReporterKeyMismatch,
    ReporterKeyUnchecked,
    ReportNotFound,
)
from journalist_app.models import Reply, ReplyCopy, Report, ReportTriage, UnitKey


def queue_reply(
    session: Session,
    report_id: str,
    *,
    author: str = "system",
    status: str | None = None,
    reason: str | None = None,
    message: str | None = None,
    now: datetime | None = None,
) -> Reply:
    """Seal a reply to the reporter of ``report_id`` and keep it for the next push. Commits.

    The reporter's envelope opens only with the reporter's key; a second envelope of the
    same document, sealed to the unit's intake and recovery keys (:class:`ReplyCopy`), lets
    any officer who unlocks read what a colleague wrote. Neither is readable at rest.
    Refused with :class:`ReporterKeyUnchecked` while the body is unread (not indexed, or
    damaged) and with :class:`ReporterKeyMismatch` when the listed key is not the sealed one.
    """
    now = (now or datetime.now(UTC)).astimezone(UTC)
    content = ReplyContent(
        sent_at=now.strftime("%Y-%m-%dT%H:%M:%SZ"), status=status, reason=reason, message=message
    )
    try:
        document = content.to_json()
    except ContentError as exc:
        raise InvalidReply(str(exc)) from exc
    report = session.get(Report, report_id)
    if report is None:
        raise ReportNotFound(f"no report {report_id}")
    envelope = seal_bytes(
        document,
        [PublicKey(reply_key(session, report))],
        EnvelopeMetadata(kind="reply", content_type="application/json"),
    )
    reply = Reply(
        id=secrets.token_hex(16),
        reporter_id=report.reporter_id,
        report_id=report.id,
        created_at=now.replace(tzinfo=None),
        envelope=envelope,
    )
    session.add(reply)
    session.add(
        ReplyCopy(
            reply_id=reply.id,
            author=author,
            envelope=seal_bytes(
                document,
                unit_recipients(session),
                EnvelopeMetadata(kind="reply", content_type="application/json"),
            ),
        )
    )
    session.commit()
    return reply


def unit_recipients(session: Session) -> list[PublicKey]:
    """The unit's active intake keys and its recovery key: what officer-only envelopes
    (reply copies, notes) are sealed to, like a report body."""
    keys = session.scalars(
        select(UnitKey).where(
            UnitKey.role.in_(("intake", "recovery")), UnitKey.retired_at.is_(None)
        )
    ).all()
    if not any(key.role == "intake" for key in keys):
        raise MissingKey("the unit has no intake key to seal to")
    return [PublicKey(key.public_key) for key in keys]


def reply_key(session: Session, report: Report) -> bytes:
    """The key replies about ``report`` are sealed to, or a typed refusal."""
    triage = session.get(ReportTriage, report.id)
    if triage is None or triage.state != "indexed":
        raise ReporterKeyUnchecked(
            f"report {report.id} has not been read yet: no reply until its body is checked"
        )
    if triage.reporter_key_mismatch:
        raise ReporterKeyMismatch(
            f"the public host listed a reporter key for report {report.id} other than the "
            "one sealed in the report: no reply is sealed to it"
        )
    return triage.reporter_key or report.reporter_public_key
