"""Pulling submissions from the public host and pushing replies back.

Order matters: blobs are written durably and the rows committed *before* the public
host is told it may delete them. A run interrupted anywhere is repeated safely: what is
already stored is not stored twice, only acknowledged again.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import BinaryIO, Literal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from journalist_app.blob_store import LocalBlobStore
from journalist_app.config import OfficerConfig
from journalist_app.errors import (
    BlobMismatch,
    MissingKey,
    SyncProtocolError,
    UnknownReporter,
)
from journalist_app.keyring import UnlockedKeyring
from journalist_app.models import Reply, Report, ReportBlob
from journalist_app.sync_client import MAX_ACK_IDS, ListedBlob, ListedSubmission, SyncClient
from journalist_app.triage.ingest import index_pending, register_report

EventKind = Literal["stored", "already_stored", "failed", "reply_pushed", "reply_failed"]


@dataclass(frozen=True)
class SyncEvent:
    """One step of a sync, for progress output."""

    kind: EventKind
    id: str
    detail: str = ""


Progress = Callable[[SyncEvent], None]
# Writes one blob's ciphertext into the file given; raises BlobMismatch if it is not as listed.
BlobSource = Callable[[ListedBlob, BinaryIO], None]


@dataclass
class SyncResult:
    """Counts of one sync run."""

    new: int = 0
    already_stored: int = 0
    acknowledged: int = 0
    replies_pushed: int = 0
    failed: int = 0

    def summary(self) -> str:
        line = (
            f"synced: {self.new} new, {self.already_stored} already stored, "
            f"{self.acknowledged} acknowledged, {self.replies_pushed} replies pushed"
        )
        return line + (f", {self.failed} failed" if self.failed else "")


def run_sync(
    session: Session,
    config: OfficerConfig,
    keyring: UnlockedKeyring,
    progress: Progress | None = None,
) -> SyncResult:
    """Pull then push with the officer's sync key, against the configured public host."""
    if keyring.sync_key is None:
        raise MissingKey(f"officer {keyring.username!r} holds no sync key")
    client = SyncClient.from_config(config, keyring.sync_key)
    store = LocalBlobStore(config.data_dir)
    result = pull(session, client, store, progress)
    # Read the triage fields while a keyring is unlocked (docs/triage.md).
    index_pending(session, store, keyring)
    push_replies(session, client, result, progress)
    return result


def pull(
    session: Session,
    client: SyncClient,
    store: LocalBlobStore,
    progress: Progress | None = None,
    batch_size: int = 100,
) -> SyncResult:
    """Store every listed submission, then acknowledge what is stored, batch by batch."""
    if not 1 <= batch_size <= MAX_ACK_IDS:
        raise ValueError(f"batch size is 1 to {MAX_ACK_IDS}")
    notify = progress or _ignore
    result = SyncResult()
    seen: set[str] = set()
    while True:
        listing = client.list_submissions(limit=batch_size)
        fresh = [submission for submission in listing if submission.id not in seen]
        # A listing of only what this run saw already: the rest failed or was not deleted.
        if not fresh:
            break
        seen.update(submission.id for submission in fresh)
        stored: list[str] = []
        for submission in fresh:
            outcome = store_submission(session, store, submission, _fetcher(client, submission))
            notify(outcome)
            if outcome.kind == "failed":
                result.failed += 1
                continue
            stored.append(submission.id)
            if outcome.kind == "stored":
                result.new += 1
            else:
                result.already_stored += 1
        if stored:
            answer = client.ack(stored)
            result.acknowledged += len(answer.deleted) + len(answer.unknown)
        if len(listing) < batch_size:
            break
    return result


def _fetcher(client: SyncClient, submission: ListedSubmission) -> BlobSource:
    def fetch(blob: ListedBlob, dst: BinaryIO) -> None:
        client.fetch_blob(submission.id, blob, dst)

    return fetch


def store_submission(
    session: Session, store: LocalBlobStore, submission: ListedSubmission, source: BlobSource
) -> SyncEvent:
    """Store one listed submission: every blob durably, then its row. Commits.

    The one ingest step of the online sync and of the air-gap import (journalist_app/
    airgap/inbound.py): ``source`` writes a blob's ciphertext into a file and raises
    :class:`BlobMismatch` if it differs from the listing. A submission already stored is
    left as it is; on any failure nothing of it remains, so a run killed half-way and
    started again neither loses nor duplicates anything.
    """
    # What a run killed while writing this submission left (it was never acknowledged,
    # so it is listed again): its temporary files go; its finished blobs are rewritten.
    store.discard_incomplete(submission.id)
    if session.get(Report, submission.id) is not None:
        return SyncEvent("already_stored", submission.id)
    written: list[str] = []
    blobs: list[ReportBlob] = []
    try:
        for blob in submission.blobs:
            relative = store.relative_path(submission.id, blob.name)
            with store.writer(relative) as handle:
                source(blob, handle)
            written.append(relative)
            blobs.append(
                ReportBlob(name=blob.name, path=relative, size=blob.size, sha256=blob.sha256)
            )
        report = Report(
            id=submission.id,
            kind=submission.kind,
            reporter_id=submission.reporter_id,
            reporter_public_key=submission.reporter_public_key,
            received_hour=submission.received_hour,
            synced_at=_utc_now(),
            blobs=blobs,
        )
        session.add(report)
        # Queued for triage in the same commit: nothing stored can miss the queue.
        register_report(session, report)
        session.commit()
    except IntegrityError:
        # Another sync (CLI beside the web app) stored it first, with the same bytes.
        session.rollback()
        return SyncEvent("already_stored", submission.id)
    except (BlobMismatch, SyncProtocolError) as exc:
        session.rollback()
        for relative in written:
            store.delete(relative)
        return SyncEvent("failed", submission.id, str(exc))
    except BaseException:
        session.rollback()
        for relative in written:
            store.delete(relative)
        raise
    detail = f"{submission.kind}, {len(blobs)} blob{'s' if len(blobs) != 1 else ''}"
    return SyncEvent("stored", submission.id, detail)


def push_replies(
    session: Session,
    client: SyncClient,
    result: SyncResult,
    progress: Progress | None = None,
) -> None:
    """Push every reply not yet pushed; each is marked as pushed once the host has it."""
    notify = progress or _ignore
    pending = session.scalars(
        select(Reply).where(Reply.pushed_at.is_(None)).order_by(Reply.created_at, Reply.id)
    ).all()
    for reply in pending:
        try:
            client.push_reply(reply.reporter_id, reply.id, reply.envelope)
        except UnknownReporter as exc:
            result.failed += 1
            notify(SyncEvent("reply_failed", reply.id, str(exc)))
            continue
        reply.pushed_at = _utc_now()
        session.commit()
        result.replies_pushed += 1
        notify(SyncEvent("reply_pushed", reply.id))


def _utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _ignore(_event: SyncEvent) -> None:
    return None
