"""Replies to reporters: sealed here to the reporter's key, pushed at the next sync."""

import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from nacl.public import PublicKey
from sqlalchemy.orm import Session

from crypto.envelope import EnvelopeMetadata, seal_bytes
from journalist_app.errors import InvalidReply, ReportNotFound
from journalist_app.models import Reply, Report

STATUSES: Final = frozenset({"received", "under_review", "referred", "closed"})
REASONS: Final = frozenset(
    {"not_illegal", "duplicate", "insufficient_information", "referred", "handled"}
)
MAX_MESSAGE_CHARS: Final = 20_000


@dataclass(frozen=True)
class ReplyContent:
    """What the reporter will read (docs/sync-api.md, replies)."""

    status: str | None = None
    reason: str | None = None
    message: str | None = None

    def check(self) -> None:
        if self.status is not None and self.status not in STATUSES:
            raise InvalidReply("unknown status")
        if self.reason is not None and self.reason not in REASONS:
            raise InvalidReply("unknown reason")
        if self.message is not None and len(self.message) > MAX_MESSAGE_CHARS:
            raise InvalidReply("message too long")
        if self.status is None and self.reason is None and not self.message:
            raise InvalidReply("a reply needs a status, a reason or a message")


def queue_reply(
    session: Session, report_id: str, content: ReplyContent, now: datetime | None = None
) -> Reply:
    """Seal ``content`` to the reporter of ``report_id`` and keep it for the next push. Commits.

    Only the reporter's key can open it: the officer host keeps no readable copy.
    """
    content.check()
    report = session.get(Report, report_id)
    if report is None:
        raise ReportNotFound(f"no report {report_id}")
    now = (now or datetime.now(UTC)).astimezone(UTC)
    document = {
        "v": 1,
        "sent_at": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "status": content.status,
        "reason": content.reason,
        "message": content.message,
    }
    envelope = seal_bytes(
        json.dumps(document, ensure_ascii=False).encode("utf-8"),
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
