"""Inbound batches (docs/batch.md): what the public host holds, carried across the air gap.

``export_inbound`` runs on the connected machine: it pulls the listing and the blobs over
the signed sync API, exactly as an online sync would, and writes them into a batch
signed with the sync key. It does not acknowledge: the public host keeps the ciphertext
until the acknowledgement comes back in an outbound batch (outbound.py).

``import_inbound`` runs on the offline officer host: it verifies the whole batch first,
then stores each submission through :func:`journalist_app.sync.pull.store_submission`, the
same step as the online sync, and queues the acknowledgements for the way back.
"""

import hashlib
import json
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from crypto.batch import BatchHeader, BatchWriter, StagedEntry, VerifiedBatch
from crypto.encoding import b64encode
from crypto.errors import BatchError, MalformedBatch
from journalist_app.airgap.batch_files import (
    BatchRefused,
    BytesRead,
    atomic_output,
    commit_import_record,
    next_sequence,
    record_batch,
    refusal,
    staging_root,
    verify_batch_file,
)
from journalist_app.clock import utc_now
from journalist_app.config import OfficerConfig
from journalist_app.errors import BlobMismatch, MissingKey, OfficerError, SyncProtocolError
from journalist_app.keys.keyring import UnlockedKeyring
from journalist_app.models import OutboxItem, Reply, UploadReceipt
from journalist_app.roles import Permission, requires
from journalist_app.sync.blob_store import SUBMISSION_ID, LocalBlobStore
from journalist_app.sync.client import (
    ListedBlob,
    ListedSubmission,
    SyncClient,
    parse_submission,
)
from journalist_app.sync.pull import BlobSource, IngestLimits, SyncEvent, store_submission
from journalist_app.triage.ingest import index_pending

MAX_LISTING = 500
MAX_RECEIPT_BYTES = 16 * 1024 * 1024
_COPY_CHUNK = 64 * 1024

Notify = Callable[[SyncEvent], None]


def _ignore(_event: SyncEvent) -> None:
    return None


# --- export (connected machine) --------------------------------------------------------


@dataclass
class InboundExport:
    """What ``export`` wrote."""

    header: BatchHeader
    submissions: int = 0
    blobs: int = 0
    receipts: int = 0
    failed: int = 0
    more_waiting: bool = False

    def summary(self) -> str:
        line = (
            f"exported batch {self.header.sequence} ({self.header.batch_id}): "
            f"{self.submissions} submissions, {self.blobs} blobs, {self.receipts} receipts"
        )
        if self.failed:
            line += f", {self.failed} failed"
        if self.more_waiting:
            line += "; more are waiting on the public host: export again after the upload"
        return line


def listing_document(submission: ListedSubmission) -> dict[str, Any]:
    """A listed submission as the sync API serves it; :func:`parse_submission` reads it back."""
    return {
        "id": submission.id,
        "kind": submission.kind,
        "reporter_id": submission.reporter_id,
        "reporter_public_key": b64encode(submission.reporter_public_key),
        "received_hour": submission.received_hour.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "blobs": [
            {"name": blob.name, "size": blob.size, "sha256": blob.sha256}
            for blob in submission.blobs
        ],
    }


@requires(Permission.BATCHES_EXPORT)
def export_inbound(
    session: Session,
    config: OfficerConfig,
    keyring: UnlockedKeyring,
    out_path: Path,
    *,
    limit: int = MAX_LISTING,
    on_listing: Callable[[int], None] | None = None,
    progress: Notify | None = None,
) -> InboundExport:
    """Write what the public host holds, and the upload receipts, into a signed batch."""
    if keyring.sync_key is None:
        raise MissingKey(f"officer {keyring.username!r} holds no sync key")
    if not 1 <= limit <= MAX_LISTING:
        raise ValueError(f"the limit is 1 to {MAX_LISTING}")
    notify = progress or _ignore
    client = SyncClient.from_config(config, keyring.sync_key)
    listing = client.list_submissions(limit=limit)
    if on_listing is not None:
        on_listing(len(listing))
    receipts = session.scalars(
        select(UploadReceipt)
        .where(UploadReceipt.exported_batch.is_(None))
        .order_by(UploadReceipt.sequence)
    ).all()
    header = BatchHeader.new("inbound", next_sequence(session, "inbound"), keyring.sync_key)
    result = InboundExport(header=header, more_waiting=len(listing) == limit)
    stage = staging_root(config)
    with atomic_output(out_path) as (handle, publish):
        writer = BatchWriter(handle, keyring.sync_key, header)
        for submission in listing:
            try:
                _write_submission(writer, client, submission, stage)
            except (BlobMismatch, SyncProtocolError) as exc:
                # Changed or gone since the listing (an online sync took it): left out.
                result.failed += 1
                notify(SyncEvent("failed", submission.id, str(exc)))
                continue
            result.submissions += 1
            result.blobs += len(submission.blobs)
            notify(SyncEvent("stored", submission.id, f"{len(submission.blobs)} blobs"))
        for receipt in receipts:
            writer.add("receipt", {"batch_id": receipt.batch_id}, receipt.document)
            receipt.exported_batch = header.batch_id
            result.receipts += 1
        digest = writer.close()
        # Recorded before the file appears: a sequence number is never written twice.
        record_batch(session, keyring, header, "exported", writer.count, digest)
        session.commit()
        publish()
    return result


def _write_submission(
    writer: BatchWriter, client: SyncClient, submission: ListedSubmission, stage: Path
) -> None:
    """Fetch every blob (checked against the listing) first, then write the entries."""
    stage.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(dir=stage, prefix=".export-"))
    try:
        for blob in submission.blobs:
            with (folder / blob.name).open("wb") as handle:
                client.fetch_blob(submission.id, blob, handle)
        writer.add("submission", {"submission": listing_document(submission)})
        for blob in submission.blobs:
            with (folder / blob.name).open("rb") as handle:
                writer.add(
                    "blob",
                    {
                        "submission_id": submission.id,
                        "name": blob.name,
                        "size": blob.size,
                        "sha256": blob.sha256,
                    },
                    handle,
                    blob.size,
                )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# --- import (offline officer host) -----------------------------------------------------


@dataclass
class InboundImport:
    """What ``import`` did."""

    header: BatchHeader
    new: int = 0
    already_stored: int = 0
    failed: int = 0
    acks_queued: int = 0
    receipts: int = 0
    replies_confirmed: int = 0
    acks_confirmed: int = 0
    replies_failed: list[str] = field(default_factory=list)

    def summary(self) -> str:
        line = (
            f"imported batch {self.header.sequence} ({self.header.batch_id}): "
            f"{self.new} new, {self.already_stored} already stored, "
            f"{self.acks_queued} acknowledgements queued"
        )
        if self.receipts:
            line += (
                f"; {self.receipts} receipts: {self.replies_confirmed} replies delivered, "
                f"{self.acks_confirmed} acknowledgements applied"
            )
        if self.failed:
            line += f", {self.failed} failed"
        if self.replies_failed:
            line += f", {len(self.replies_failed)} replies refused by the public host"
        return line


@dataclass(frozen=True)
class _PlannedSubmission:
    submission: ListedSubmission
    blobs: dict[str, StagedEntry]


@requires(Permission.BATCHES_IMPORT)
def import_inbound(
    session: Session,
    config: OfficerConfig,
    keyring: UnlockedKeyring,
    path: Path,
    *,
    on_verified: Callable[[int], None] | None = None,
    byte_progress: BytesRead | None = None,
    progress: Notify | None = None,
) -> InboundImport:
    """Verify an inbound batch, then store each submission and apply each receipt.

    Nothing is stored unless the whole batch verifies. Storing is idempotent, and the
    batch is recorded as imported only at the end, so an import killed half-way is
    simply run again.
    """
    notify = progress or _ignore
    store = LocalBlobStore(config.data_dir)
    # The same limits as the online sync: a batch is the public host's word, carried by hand.
    limits = IngestLimits.from_config(config, session)
    with verify_batch_file(
        session, config, path, direction="inbound", signer_role="sync", progress=byte_progress
    ) as batch:
        try:
            planned, receipts = _plan_inbound(batch)
        except BatchError as exc:
            raise BatchRefused(refusal(exc)) from exc
        if on_verified is not None:
            on_verified(len(planned))
        result = InboundImport(header=batch.header)
        for plan in planned:
            event = store_submission(
                session, store, plan.submission, _staged_source(batch, plan), limits
            )
            notify(event)
            if event.kind == "failed":
                result.failed += 1
                continue
            if event.kind == "stored":
                result.new += 1
            else:
                result.already_stored += 1
            _queue_ack(session, plan.submission.id)
            session.commit()
            result.acks_queued += 1
        for receipt in receipts:
            _apply_receipt(session, receipt, result)
        commit_import_record(session, keyring, batch)
    # As after an online sync: read the triage fields while a keyring is unlocked.
    index_pending(session, store, keyring)
    return result


def _plan_inbound(
    batch: VerifiedBatch,
) -> tuple[list[_PlannedSubmission], list[dict[str, list[str]]]]:
    """Check the entries fit together before anything is stored; MalformedBatch otherwise."""
    planned: list[_PlannedSubmission] = []
    by_id: dict[str, _PlannedSubmission] = {}
    receipts: list[dict[str, list[str]]] = []
    for entry in batch.entries:
        if entry.type == "submission":
            try:
                submission = parse_submission(entry.descriptor.get("submission"))
            except OfficerError as exc:
                raise MalformedBatch(f"entry {entry.index}: {exc}") from exc
            if submission.id in by_id:
                raise MalformedBatch(f"entry {entry.index} repeats submission {submission.id}")
            plan = _PlannedSubmission(submission, {})
            by_id[submission.id] = plan
            planned.append(plan)
        elif entry.type == "blob":
            _plan_blob(entry, by_id)
        elif entry.type == "receipt":
            receipts.append(_receipt_document(batch, entry))
        else:
            raise MalformedBatch(f"entry {entry.index} has the unknown type {entry.type!r}")
    for plan in planned:
        missing = {blob.name for blob in plan.submission.blobs} - set(plan.blobs)
        if missing:
            raise MalformedBatch(
                f"submission {plan.submission.id} lacks its blobs {', '.join(sorted(missing))}"
            )
    return planned, receipts


def _plan_blob(entry: StagedEntry, by_id: dict[str, _PlannedSubmission]) -> None:
    plan = by_id.get(str(entry.descriptor.get("submission_id")))
    if plan is None:
        raise MalformedBatch(f"entry {entry.index} is a blob of no submission before it")
    listed = {blob.name: blob for blob in plan.submission.blobs}.get(
        str(entry.descriptor.get("name"))
    )
    if listed is None or listed.name in plan.blobs:
        raise MalformedBatch(f"entry {entry.index} is a blob its submission does not list")
    if entry.size != listed.size or entry.sha256.hex() != listed.sha256:
        raise MalformedBatch(f"entry {entry.index} does not match its listing")
    plan.blobs[listed.name] = entry


def _staged_source(batch: VerifiedBatch, plan: _PlannedSubmission) -> BlobSource:
    def copy(blob: ListedBlob, dst: BinaryIO) -> None:
        # Checked again while copying: the staging file sits on disk between the two steps.
        digest, size = hashlib.sha256(), 0
        with batch.open_content(plan.blobs[blob.name]) as source:
            while piece := source.read(_COPY_CHUNK):
                digest.update(piece)
                size += len(piece)
                dst.write(piece)
        if size != blob.size or digest.hexdigest() != blob.sha256:
            raise BlobMismatch(f"staged blob {plan.submission.id}/{blob.name} changed")

    return copy


def _queue_ack(session: Session, submission_id: str) -> None:
    """Owe the public host an acknowledgement: it still holds this submission."""
    item = session.get(OutboxItem, ("ack", submission_id))
    if item is None:
        session.add(OutboxItem(kind="ack", item_id=submission_id))
        return
    # Listed again, so any earlier acknowledgement has not reached the public host yet.
    item.exported_batch = None
    item.exported_at = None
    item.confirmed_at = None


def _apply_receipt(session: Session, document: dict[str, list[str]], result: InboundImport) -> None:
    """Mark what the public host confirmed: replies delivered, acknowledgements applied."""
    now = utc_now()
    for submission_id in document["acknowledged"]:
        item = session.get(OutboxItem, ("ack", submission_id))
        if item is not None and item.confirmed_at is None:
            item.confirmed_at = now
            result.acks_confirmed += 1
    for reply_id in document["replies_delivered"]:
        reply = session.get(Reply, reply_id)
        if reply is not None and reply.pushed_at is None:
            reply.pushed_at = now
            result.replies_confirmed += 1
        item = session.get(OutboxItem, ("reply", reply_id))
        if item is not None and item.confirmed_at is None:
            item.confirmed_at = now
    result.replies_failed.extend(document["replies_failed"])
    result.receipts += 1
    session.commit()


RECEIPT_LISTS = ("acknowledged", "replies_delivered", "replies_failed")


def _receipt_document(batch: VerifiedBatch, entry: StagedEntry) -> dict[str, list[str]]:
    if entry.size > MAX_RECEIPT_BYTES:
        raise MalformedBatch(f"receipt entry {entry.index} is too large")
    with batch.open_content(entry) as source:
        raw = source.read()
    try:
        document = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise MalformedBatch(f"receipt entry {entry.index} is not JSON") from exc
    if not isinstance(document, dict) or not all(
        isinstance(document.get(name), list)
        and all(isinstance(i, str) and SUBMISSION_ID.fullmatch(i) for i in document[name])
        for name in RECEIPT_LISTS
    ):
        raise MalformedBatch(f"receipt entry {entry.index} is not a receipt")
    return {name: list(document[name]) for name in RECEIPT_LISTS}
