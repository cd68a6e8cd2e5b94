"""A crash bug planted in ``iblagh-officer sync``, to show that the harness catches one.

:func:`plant` (run in the killed command's process before the command) changes one thing:
a submission's row is committed *before* its blobs are written, each blob slowly, as on
a busy disk: the mistake journalist_app/sync/pull.py's ``store_submission`` is written to
avoid. A kill between the two leaves a report visible with blobs missing;
tests/crash/test_crash_safety.py checks that the harness says so.
"""

import time

from sqlalchemy.orm import Session

from crypto.sync_api import ListedSubmission
from journalist_app.clock import utc_now
from journalist_app.models import Report, ReportBlob
from journalist_app.sync import pull
from journalist_app.sync.blob_store import BlobStore
from journalist_app.triage.ingest import register_report

# Long enough that a kill at a random moment of a run often falls between row and blobs.
SLOW_BLOB_SECONDS = 0.05


def store_row_first(
    session: Session,
    store: BlobStore,
    submission: ListedSubmission,
    source: pull.BlobSource,
    limits: pull.IngestLimits | None = None,
    *,
    origin: str = "sync",
) -> pull.SyncEvent:
    """The planted bug: the row committed, then the blobs written."""
    if session.get(Report, submission.id) is not None:
        return pull.SyncEvent("already_stored", submission.id)
    rows = [
        ReportBlob(
            name=blob.name,
            path=store.relative_path(submission.id, blob.name),
            size=blob.size,
            sha256=blob.sha256,
        )
        for blob in submission.blobs
    ]
    report = Report(
        id=submission.id,
        kind=submission.kind,
        reporter_id=submission.reporter_id,
        reporter_public_key=submission.reporter_public_key,
        received_hour=submission.received_hour,
        synced_at=utc_now(),
        blobs=rows,
    )
    session.add(report)
    register_report(session, report)
    session.commit()
    for blob, row in zip(submission.blobs, rows, strict=True):
        time.sleep(SLOW_BLOB_SECONDS)
        with store.writer(row.path) as handle:
            source(blob, handle)
    return pull.SyncEvent("stored", submission.id)


def plant() -> None:
    pull.store_submission = store_row_first
