"""What a reporter sees with their receipt code: their submissions' state and the replies.

Replies are envelopes sealed to the reporter's key; the key is re-derived from the
code for the length of one request and never stored (docs/invariants.md, 6). A
reporter is found by the hash of their lookup value (docs/receipt.md): the host stores
``lookup_hash(lookup value)``, never the value, so a copy of its database gives
nothing that could be presented in place of the code.
"""

import hmac
import io
from dataclasses import dataclass
from datetime import datetime

from nacl.public import PrivateKey
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crypto.contents import ReplyContent
from crypto.envelope import open_stream
from crypto.errors import CryptoError, InvalidReceiptCode
from crypto.receipt import ReceiptCode, ReporterSecrets, derive_reporter_secrets, lookup_hash
from source_app.models import Reply, Reporter, Submission
from source_app.storage import BlobStore


@dataclass(frozen=True)
class ReplyView:
    """One decrypted reply, validated field by field."""

    received_hour: datetime
    status: str | None
    reason: str | None
    message: str | None


@dataclass(frozen=True)
class StatusView:
    """What the status page shows."""

    current_status: str
    awaiting_pickup: int
    replies: tuple[ReplyView, ...]
    unreadable_replies: int


class UnknownCode(Exception):
    """No reporter matches this code."""


def find_reporter(session: Session, code: ReceiptCode) -> tuple[Reporter, ReporterSecrets]:
    """The reporter a typed code belongs to, or :class:`UnknownCode`.

    argon2id (64 MiB) runs for every code, right or wrong, and dominates the time; the
    lookup is by the hash of a value derived from its output, which an attacker cannot
    steer, and the stored public key is compared in constant time.
    """
    reporter_secrets = derive_reporter_secrets(code)
    reporter = _reporter_by_lookup_hash(session, reporter_secrets.lookup_hash)
    expected = bytes(reporter_secrets.public_key)
    if reporter is None or not hmac.compare_digest(reporter.public_key, expected):
        raise UnknownCode
    return reporter, reporter_secrets


def find_reporter_by_lookup_value(session: Session, lookup_value: bytes) -> Reporter:
    """The reporter a browser's lookup value belongs to, or :class:`UnknownCode`.

    What a browser sends instead of the code (docs/receipt.md); the host hashes it
    exactly as it hashes the value it derives from a typed code.
    """
    try:
        wanted = lookup_hash(lookup_value)
    except InvalidReceiptCode as exc:
        raise UnknownCode from exc
    reporter = _reporter_by_lookup_hash(session, wanted)
    if reporter is None:
        raise UnknownCode
    return reporter


def _reporter_by_lookup_hash(session: Session, wanted: bytes) -> Reporter | None:
    return session.scalars(select(Reporter).where(Reporter.lookup_hash == wanted)).first()


def read_status(session: Session, store: BlobStore, code: ReceiptCode) -> StatusView:
    """Derive the reporter's keys from ``code`` and decrypt their replies."""
    reporter, reporter_secrets = find_reporter(session, code)
    awaiting = session.scalar(
        select(func.count()).select_from(Submission).where(Submission.reporter_id == reporter.id)
    )
    replies: list[ReplyView] = []
    unreadable = 0
    for reply in session.scalars(
        select(Reply).where(Reply.reporter_id == reporter.id).order_by(Reply.seq)
    ):
        try:
            replies.append(_open_reply(store, reply, reporter_secrets.private_key))
        except (CryptoError, ValueError, OSError, KeyError):
            unreadable += 1
    current = "received"
    for view in replies:
        if view.status:
            current = view.status
    return StatusView(
        current_status=current,
        awaiting_pickup=awaiting or 0,
        replies=tuple(replies),
        unreadable_replies=unreadable,
    )


def _open_reply(store: BlobStore, reply: Reply, private_key: PrivateKey) -> ReplyView:
    out = io.BytesIO()
    with store.open(reply.blob_key) as blob:
        opened = open_stream(blob, out, [private_key])
    if opened.metadata.kind != "reply":
        raise ValueError("not a reply envelope")
    content = ReplyContent.from_json(out.getvalue())
    return ReplyView(
        received_hour=reply.received_hour,
        status=content.status,
        reason=content.reason,
        message=content.message if content.message and content.message.strip() else None,
    )
