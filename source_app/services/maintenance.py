"""Housekeeping: remove ciphertext that no row references (a crash's leftovers), and
expire the reporter records and replies the officer side no longer needs here."""

import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from source_app.models import Reply, Reporter, Submission, SubmissionBlob
from source_app.services.clock import current_hour
from source_app.services.resumable_uploads import expire_uploads, open_handles
from source_app.storage import BlobStore


@dataclass(frozen=True)
class SweepResult:
    orphans_removed: int
    unfinished_removed: int
    uploads_expired: int = 0


def sweep_orphans(session: Session, store: BlobStore, grace_seconds: float) -> SweepResult:
    """Delete blobs no row references and unfinished writes, older than ``grace_seconds``.

    A blob is written before the row that references it is committed, so a worker that
    dies between the two leaves an unreferenced blob. Run with a grace of 0 only when no
    worker is running (at start-up, from the master process or ``iblagh-source recover``).
    Resumable uploads past their expiry are aborted first; the open ones are spared,
    however old their last part (a reporter may resume hours later).
    """
    expired = expire_uploads(session, store)
    keep = open_handles(session)
    session.rollback()
    referenced = set(session.scalars(select(SubmissionBlob.blob_key)))
    referenced.update(session.scalars(select(Reply.blob_key)))
    cutoff = time.time() - grace_seconds
    orphans = 0
    for key, modified in list(store.keys()):
        if key not in referenced and modified <= cutoff:
            store.delete(key)
            orphans += 1
    unfinished = store.sweep_incoming(older_than=grace_seconds, keep=keep)
    return SweepResult(
        orphans_removed=orphans, unfinished_removed=unfinished, uploads_expired=expired
    )


@dataclass(frozen=True)
class ExpiryResult:
    replies_removed: int
    reporters_removed: int


def expire_leftovers(
    session: Session,
    store: BlobStore,
    *,
    reply_days: int,
    reporter_days: int,
    now: datetime | None = None,
) -> ExpiryResult:
    """Forget what the officer side no longer needs here, on this host's own rule.

    A reply waiting longer than ``reply_days`` is deleted (row, then ciphertext); a
    reporter (lookup hash and public key) created more than ``reporter_days`` ago with no
    submission waiting and no reply left is deleted, so their code then finds nothing.
    A report not yet collected by the unit never expires. 0 days: keep forever.
    """
    now = now or current_hour()
    blob_keys: list[str] = []
    replies = reporters = 0
    if reply_days > 0:
        old = list(
            session.scalars(
                select(Reply).where(Reply.received_hour < now - timedelta(days=reply_days))
            )
        )
        blob_keys = [reply.blob_key for reply in old]
        for reply in old:
            session.delete(reply)
        replies = len(old)
        session.flush()
    if reporter_days > 0:
        waiting = select(Submission.reporter_id).where(Submission.reporter_id == Reporter.id)
        answered = select(Reply.reporter_id).where(Reply.reporter_id == Reporter.id)
        expired = list(
            session.scalars(
                select(Reporter.id).where(
                    Reporter.created_hour < now - timedelta(days=reporter_days),
                    ~waiting.exists(),
                    ~answered.exists(),
                )
            )
        )
        if expired:
            session.execute(delete(Reporter).where(Reporter.id.in_(expired)))
        reporters = len(expired)
    session.commit()
    # After the commit: a crash in between leaves orphans, which sweep_orphans removes.
    for key in blob_keys:
        store.delete(key)
    return ExpiryResult(replies_removed=replies, reporters_removed=reporters)
