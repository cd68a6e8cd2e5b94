"""The public host's side of the sync API: list, hand out, forget, and take replies.

Only ciphertext passes here. Authentication happens before (views/sync_api.py); this
module trusts that the caller is the officer host.
"""

import io
import time
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from crypto.audit_anchor import parse_checkpoint
from crypto.envelope import read_header
from crypto.errors import EnvelopeError, ReplayedRequest
from crypto.sync_api import ListedBlob, ListedSubmission
from source_app.models import AuditAnchor, Reply, Reporter, Submission, SubmissionBlob, SyncNonce
from source_app.services.clock import current_hour
from source_app.storage import BlobStore


class NotFound(Exception):
    """The id names nothing the public host holds."""


class InvalidReply(Exception):
    """A reply body is not an envelope."""


class AnchorConflict(Exception):
    """An audit anchor that would rewrite or roll back the ones kept."""


def remember_nonce(session: Session, nonce: str, timestamp: int, window: int) -> None:
    """Record a request nonce; :class:`ReplayedRequest` if it was already used."""
    now = int(time.time())
    session.execute(delete(SyncNonce).where(SyncNonce.expires_at < now))
    session.add(SyncNonce(nonce=nonce, expires_at=max(now, timestamp) + window))
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise ReplayedRequest("nonce already used") from exc


def list_pending(session: Session, limit: int, after: str | None = None) -> list[Submission]:
    """Submissions not yet acknowledged, oldest first, with their blobs.

    With ``after``, only those that arrived after that submission: the officer host
    skips past submissions it refused, so they never hide newer ones. An ``after`` this
    host no longer holds lists from the oldest.
    """
    query = select(Submission).options(selectinload(Submission.blobs)).order_by(Submission.seq)
    if after is not None:
        cursor = session.scalar(select(Submission.seq).where(Submission.id == after))
        if cursor is not None:
            query = query.where(Submission.seq > cursor)
    return list(session.scalars(query.limit(limit)))


def reporter_public_keys(session: Session, reporter_ids: set[str]) -> dict[str, bytes]:
    """The public key of each reporter named, by reporter id."""
    rows = session.execute(
        select(Reporter.id, Reporter.public_key).where(Reporter.id.in_(reporter_ids))
    )
    return {row.id: row.public_key for row in rows}


def listed_submissions(
    session: Session, limit: int, after: str | None = None
) -> list[ListedSubmission]:
    """The listing's items (docs/sync-api.md), as this host holds them."""
    pending = list_pending(session, limit, after)
    keys = reporter_public_keys(session, {s.reporter_id for s in pending})
    return [
        ListedSubmission(
            id=s.id,
            kind=s.kind,
            reporter_id=s.reporter_id,
            reporter_public_key=keys[s.reporter_id],
            received_hour=s.received_hour,
            blobs=tuple(ListedBlob(b.name, b.size, b.sha256) for b in s.blobs),
        )
        for s in pending
    ]


def find_blob(session: Session, submission_id: str, name: str) -> SubmissionBlob:
    blob = session.scalars(
        select(SubmissionBlob)
        .join(Submission)
        .where(Submission.id == submission_id, SubmissionBlob.name == name)
    ).first()
    if blob is None:
        raise NotFound
    return blob


@dataclass(frozen=True)
class AckResult:
    deleted: list[str]
    unknown: list[str]


def acknowledge(session: Session, store: BlobStore, ids: list[str]) -> AckResult:
    """Forget acknowledged submissions: rows first (committed), then their ciphertext."""
    submissions = list(
        session.scalars(
            select(Submission).options(selectinload(Submission.blobs)).where(Submission.id.in_(ids))
        )
    )
    blob_keys = [blob.blob_key for s in submissions for blob in s.blobs]
    deleted = [s.id for s in submissions]
    for submission in submissions:
        session.delete(submission)
    session.commit()
    # Deleting files after the commit: a crash here leaves orphans the sweep removes,
    # never a row pointing at a missing blob.
    for key in blob_keys:
        store.delete(key)
    return AckResult(deleted=deleted, unknown=[i for i in ids if i not in set(deleted)])


def store_reply(
    session: Session, store: BlobStore, reporter_id: str, reply_id: str, envelope: bytes
) -> bool:
    """Store a reply envelope for a reporter; False if that reply id was already stored."""
    if session.get(Reporter, reporter_id) is None:
        raise NotFound
    if session.scalars(select(Reply).where(Reply.id == reply_id)).first() is not None:
        return False
    try:
        read_header(io.BytesIO(envelope))
    except EnvelopeError as exc:
        raise InvalidReply from exc
    ref = store.put(envelope)
    session.add(
        Reply(id=reply_id, reporter_id=reporter_id, blob_key=ref.key, received_hour=current_hour())
    )
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        store.delete(ref.key)
        return False
    except BaseException:
        session.rollback()
        store.delete(ref.key)
        raise
    return True


def store_audit_anchor(session: Session, count: int, head: str, document: bytes) -> bool:
    """Keep a verified audit anchor, write-once; False when one with that count and head is
    kept already (the first one stays, whatever its time).

    Raises :class:`AnchorConflict` for another head with a count already kept (the
    officer's log was rewritten) or a count below the latest (entries removed).
    """
    kept = session.get(AuditAnchor, count)
    if kept is not None:
        if parse_checkpoint(kept.document)[0].head != head:
            raise AnchorConflict
        return False
    latest = session.scalar(select(AuditAnchor.count).order_by(AuditAnchor.count.desc()).limit(1))
    if latest is not None and count < latest:
        raise AnchorConflict
    session.add(AuditAnchor(count=count, document=document, received_hour=current_hour()))
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        return store_audit_anchor(session, count, head, document)
    return True


def latest_audit_anchor(session: Session) -> bytes | None:
    """The anchor counting the most entries, as it was sent."""
    return session.scalar(select(AuditAnchor.document).order_by(AuditAnchor.count.desc()).limit(1))
