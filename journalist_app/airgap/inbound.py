"""Inbound batches (docs/batch.md): what the public host holds, carried across the air gap.

``export_inbound`` runs on the connected machine: it pulls the listing and the blobs over
the signed sync API, exactly as an online sync would, and writes them into a batch
signed with the sync key. It does not acknowledge: the public host keeps the ciphertext
until the acknowledgement comes back in an outbound batch (outbound.py).

``import_inbound`` runs on the offline officer host: it verifies the whole batch first,
then stores each submission through :func:`journalist_app.sync.pull.store_submission`, the
same step as the online sync, and queues the acknowledgements for the way back.

A listed submission that breaks the sync contract travels as the public host listed it,
without its blobs: the import reads it with the same parser as the online sync, records
the refusal for an admin (sync/refusals.py) and goes on. Like the online pull, the export
lists past refused submissions, so they never hold back newer ones.
"""

import hashlib
import json
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from crypto.batch import BatchHeader, BatchWriter, StagedEntry, VerifiedBatch
from crypto.errors import BatchError, MalformedBatch, SyncListingError
from crypto.sync_api import (
    MAX_LIST,
    ListedBlob,
    ListedSubmission,
    RefusedItem,
    is_id,
    is_transparency_name,
    listing_item,
    parse_submission,
)
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
from journalist_app.errors import BlobMismatch, MissingKey, SyncProtocolError
from journalist_app.keys.keyring import UnlockedKeyring
from journalist_app.models import EndedNotice, OutboxItem, Reply, UploadReceipt
from journalist_app.roles import Permission, requires
from journalist_app.sync.blob_store import BlobWriter
from journalist_app.sync.blob_store_s3 import open_blob_store
from journalist_app.sync.client import SyncClient
from journalist_app.sync.pull import (
    BlobSource,
    IngestLimits,
    SyncEvent,
    refuse_listed,
    refused_line,
    store_submission,
)
from journalist_app.sync.refusals import count_refused
from journalist_app.transparency.delivery import mark_delivered
from journalist_app.triage.ingest import index_pending

MAX_LISTING = MAX_LIST
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
    # Listed submissions that break the contract, carried without blobs for the import
    # to record.
    refused: int = 0
    more_waiting: bool = False

    def summary(self) -> str:
        line = (
            f"exported batch {self.header.sequence} ({self.header.batch_id}): "
            f"{self.submissions} submissions, {self.blobs} blobs, {self.receipts} receipts"
        )
        if self.failed:
            line += f", {self.failed} failed"
        if self.refused:
            line += f", {self.refused} refused (carried for the offline host to record)"
        if self.more_waiting:
            line += "; more are waiting on the public host: export again after the upload"
        return line


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
    listed, more_waiting = _list_past_refusals(client, limit, config.sync_max_per_run)
    if on_listing is not None:
        on_listing(len(listed))
    receipts = session.scalars(
        select(UploadReceipt)
        .where(UploadReceipt.exported_batch.is_(None))
        .order_by(UploadReceipt.sequence)
    ).all()
    header = BatchHeader.new("inbound", next_sequence(session, "inbound"), keyring.sync_key)
    result = InboundExport(header=header, more_waiting=more_waiting)
    stage = staging_root(config)
    with atomic_output(out_path) as (handle, publish):
        writer = BatchWriter(handle, keyring.sync_key, header)
        for submission, item in listed:
            if isinstance(submission, RefusedItem):
                # As listed, for the offline host's parser to refuse and record.
                writer.add("submission", {"submission": item})
                result.refused += 1
                notify(refuse_listed_event(submission))
                continue
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


Listed = tuple[ListedSubmission | RefusedItem, object]


def _list_past_refusals(
    client: SyncClient, limit: int, max_looked_at: int
) -> tuple[list[Listed], bool]:
    """Up to ``limit`` accepted submissions, paging past refused ones; and whether more wait.

    Each entry comes with the item as the public host listed it. Nothing is acknowledged
    on export, so every page is listed after the last item of the one before. At most
    ``max_looked_at`` items are looked at (IBLAGH_SYNC_MAX_PER_RUN), however many the
    public host keeps listing.
    """
    listed: list[Listed] = []
    seen: set[str] = set()
    accepted = 0
    after: str | None = None
    while len(seen) < max_looked_at:
        page, items = client.listing_as_sent(limit, after)
        for entry, item in zip(page.entries, items, strict=True):
            entry_id = entry.id if isinstance(entry, ListedSubmission) else entry.submission_id
            # An item without an id cannot be recorded; one seen already is not written twice.
            if entry_id is None or entry_id in seen:
                continue
            if accepted == limit or len(seen) == max_looked_at:
                return listed, True
            seen.add(entry_id)
            after = entry_id
            listed.append((entry, item))
            accepted += isinstance(entry, ListedSubmission)
        if len(items) < limit:
            return listed, False
    return listed, True


def refuse_listed_event(item: RefusedItem) -> SyncEvent:
    """The export's note of a refused item; the offline host's import records it."""
    return SyncEvent("failed", item.submission_id or "", f"{item.reason}: carried unfetched")


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
        writer.add("submission", {"submission": listing_item(submission)})
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
    # Refused submissions recorded on this host, this batch's and earlier ones.
    refused_waiting: int = 0
    receipts: int = 0
    replies_confirmed: int = 0
    acks_confirmed: int = 0
    # "Handling ended" notices a receipt closed (delivered, or the reporter was gone).
    notices_done: int = 0
    replies_failed: list[str] = field(default_factory=list)
    # Transparency pages a receipt says the public host took, or refused (still queued).
    pages_delivered: int = 0
    pages_refused: list[str] = field(default_factory=list)

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
            if self.notices_done:
                line += f", {self.notices_done} 'handling ended' notices done"
            if self.pages_delivered:
                line += f", {self.pages_delivered} transparency pages published"
        if self.failed:
            line += f", {self.failed} failed"
        if self.replies_failed:
            line += f", {len(self.replies_failed)} replies refused by the public host"
        if self.pages_refused:
            line += (
                f", {len(self.pages_refused)} transparency pages refused by the public host "
                "(export-outbox --all sends them again)"
            )
        return line + refused_line(self.refused_waiting)


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
    store = open_blob_store(config)
    # The same limits as the online sync: a batch is the public host's word, carried by hand.
    limits = IngestLimits.from_config(config, session)
    with verify_batch_file(
        session, config, path, direction="inbound", signer_role="sync", progress=byte_progress
    ) as batch:
        try:
            planned, refused, receipts = _plan_inbound(batch)
        except BatchError as exc:
            raise BatchRefused(refusal(exc)) from exc
        if on_verified is not None:
            on_verified(len(planned))
        result = InboundImport(header=batch.header)
        for item in refused:
            # Not acknowledged: it stays on the public host, and the reason is kept here.
            notify(refuse_listed(session, item, "batch"))
            result.failed += 1
        for plan in planned:
            event = store_submission(
                session, store, plan.submission, _staged_source(batch, plan), limits, origin="batch"
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
            _apply_receipt(session, config, keyring, receipt, result)
        commit_import_record(session, keyring, batch)
    result.refused_waiting = count_refused(session)
    # As after an online sync: read the triage fields while a keyring is unlocked.
    index_pending(session, store, keyring)
    return result


def _plan_inbound(
    batch: VerifiedBatch,
) -> tuple[list[_PlannedSubmission], list[RefusedItem], list[dict[str, list[str]]]]:
    """Check the entries fit together before anything is stored; MalformedBatch otherwise.

    A submission the contract refuses (it has an id, and no blob entries follow it) is
    set apart to be recorded; the others are planned.
    """
    planned: list[_PlannedSubmission] = []
    by_id: dict[str, _PlannedSubmission] = {}
    refused: dict[str, RefusedItem] = {}
    receipts: list[dict[str, list[str]]] = []
    for entry in batch.entries:
        if entry.type == "submission":
            try:
                submission = parse_submission(entry.descriptor.get("submission"))
            except SyncListingError as exc:
                if exc.submission_id is None:
                    raise MalformedBatch(f"entry {entry.index}: {exc}") from exc
                if exc.submission_id in by_id or exc.submission_id in refused:
                    raise MalformedBatch(
                        f"entry {entry.index} repeats submission {exc.submission_id}"
                    ) from exc
                refused[exc.submission_id] = RefusedItem(exc.submission_id, exc.reason, str(exc))
                continue
            if submission.id in by_id or submission.id in refused:
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
    return planned, list(refused.values()), receipts


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
    def copy(blob: ListedBlob, dst: BlobWriter) -> None:
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


def _apply_receipt(
    session: Session,
    config: OfficerConfig,
    keyring: UnlockedKeyring,
    document: dict[str, list[str]],
    result: InboundImport,
) -> None:
    """Mark what the public host confirmed: replies delivered, acknowledgements applied,
    transparency pages published (audited, transparency/delivery.py)."""
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
    # A purged report's "handling ended" notice, delivered or refused (the public host
    # forgot the reporter): gone, as after an online sync; nothing here refers to it.
    for notice_id in [*document["replies_delivered"], *document["replies_failed"]]:
        notice = session.get(EndedNotice, notice_id)
        if notice is not None:
            session.delete(notice)
            result.notices_done += 1
        item = session.get(OutboxItem, ("notice", notice_id))
        if item is not None:
            session.delete(item)
    result.replies_failed.extend(document["replies_failed"])
    result.receipts += 1
    session.commit()
    delivered = mark_delivered(
        session, keyring, config.data_dir, document["pages_delivered"], via="batch"
    )
    result.pages_delivered += len(delivered)
    result.pages_refused.extend(document["pages_refused"])


RECEIPT_LISTS = ("acknowledged", "replies_delivered", "replies_failed")
# Page names (crypto/sync_api.py); absent from the receipts of connected machines that
# carried no pages yet.
RECEIPT_PAGE_LISTS = ("pages_delivered", "pages_refused")


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
        isinstance(document.get(name), list) and all(is_id(i) for i in document[name])
        for name in RECEIPT_LISTS
    ):
        raise MalformedBatch(f"receipt entry {entry.index} is not a receipt")
    pages = {name: document.get(name, []) for name in RECEIPT_PAGE_LISTS}
    if not all(
        isinstance(names, list) and all(is_transparency_name(n) for n in names)
        for names in pages.values()
    ):
        raise MalformedBatch(f"receipt entry {entry.index} lists pages that are no pages")
    return {name: list(document[name]) for name in RECEIPT_LISTS} | pages
