"""Housekeeping: remove ciphertext that no row references (a crash's leftovers)."""

import time
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from source_app.models import Reply, SubmissionBlob
from source_app.storage import BlobStore


@dataclass(frozen=True)
class SweepResult:
    orphans_removed: int
    unfinished_removed: int


def sweep_orphans(session: Session, store: BlobStore, grace_seconds: float) -> SweepResult:
    """Delete blobs no row references and unfinished writes, older than ``grace_seconds``.

    A blob is written before the row that references it is committed, so a worker that
    dies between the two leaves an unreferenced blob. Run with a grace of 0 only when no
    worker is running (at start-up, from the master process or ``iblagh-source recover``).
    """
    referenced = set(session.scalars(select(SubmissionBlob.blob_key)))
    referenced.update(session.scalars(select(Reply.blob_key)))
    cutoff = time.time() - grace_seconds
    orphans = 0
    for key, modified in list(store.keys()):
        if key not in referenced and modified <= cutoff:
            store.delete(key)
            orphans += 1
    unfinished = store.sweep_incoming(older_than=grace_seconds)
    return SweepResult(orphans_removed=orphans, unfinished_removed=unfinished)
