"""Replies to reporters: sealed here to the reporter's key, pushed at the next sync."""

import secrets
from datetime import UTC, datetime

from nacl.public import PublicKey
from sqlalchemy.orm import Session

from crypto.contents import ContentError, ReplyContent
from crypto.envelope import EnvelopeMetadata, seal_bytes
from journalist_app.errors import InvalidReply, ReportNotFound
from journalist_app.models import Reply, Report


def queue_reply(
    session: Session,
    report_id: str,
    *,
    status: str | None = None,
    reason: str | None = None,
    message: str | None = None,
    now: datetime | None = None,
) -> Reply:
    """Seal a reply to the reporter of ``report_id`` and keep it for the next push. Commits.

    Only the reporter's key can open it: the officer host keeps no readable copy.
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
        [PublicKey(report.reporter_public_key)],
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
    session.commit()
    return reply
