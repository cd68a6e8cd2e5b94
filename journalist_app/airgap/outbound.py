"""Outbound batches (docs/batch.md): the officer side's answer carried back across the gap.

``export_outbox`` runs on the offline officer host: acknowledgements of the submissions
it stored and the replies not yet delivered, signed with the unit signing key.
``upload_outbox`` runs on the connected machine: it verifies the batch against the
unit's verify key, posts the replies, then the acknowledgements (on which the public
host deletes the ciphertext), and keeps a receipt that the next inbound batch carries
back. Both calls of the sync API are idempotent, so an upload killed half-way is simply
run again.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from crypto.audit_anchor import MAX_ANCHOR_BYTES
from crypto.batch import BatchHeader, StagedEntry, VerifiedBatch
from crypto.errors import MalformedBatch
from crypto.sync_api import (
    MAX_ACK_IDS,
    MAX_REPLY_BYTES,
    MAX_TRANSPARENCY_PAGE_BYTES,
    is_id,
    is_transparency_name,
)
from journalist_app.airgap.batch_files import (
    BytesRead,
    commit_import_record,
    ignore,
    next_sequence,
    plan_or_refuse,
    verify_batch_file,
    written_batch,
)
from journalist_app.audit_anchor import keep_anchor_copy, sign_current_checkpoint
from journalist_app.clock import utc_now
from journalist_app.config import OfficerConfig
from journalist_app.errors import MissingKey, SyncProtocolError, UnknownReporter
from journalist_app.keys.keyring import UnlockedKeyring
from journalist_app.models import EndedNotice, OutboxItem, Reply, UploadReceipt
from journalist_app.roles import Permission, requires
from journalist_app.sync.client import SyncClient
from journalist_app.transparency.delivery import QueuedPage, pending_pages

Tick = Callable[[str], None]
# The outbox kind of an exported "handling ended" notice.
NOTICE = "notice"
# The entry type of a published transparency page (transparency/delivery.py).
PAGE_ENTRY = "transparency_page"


# --- export-outbox (offline officer host) ----------------------------------------------


@dataclass
class OutboxExport:
    """What ``export-outbox`` wrote."""

    header: BatchHeader
    replies: int = 0
    acknowledgements: int = 0
    # "Handling ended" notices of purged reports (journalist_app/retention/notices.py).
    notices: int = 0
    # Entries of the audit chain the batch's signed checkpoint covers (0: none, no sync key).
    anchored_entries: int = 0
    # Transparency pages (transparency/delivery.py).
    pages: int = 0

    def summary(self) -> str:
        line = (
            f"exported outbox batch {self.header.sequence} ({self.header.batch_id}): "
            f"{self.replies} replies, {self.acknowledgements} acknowledgements"
        )
        if self.notices:
            line += f", {self.notices} 'handling ended' notices"
        if self.pages:
            line += f", {self.pages} transparency pages"
        if self.anchored_entries:
            line += f", audit anchor at entry {self.anchored_entries}"
        return line


@requires(Permission.BATCHES_EXPORT)
def export_outbox(
    session: Session,
    keyring: UnlockedKeyring,
    out_path: Path,
    *,
    include_all: bool = False,
    progress: Tick | None = None,
    anchor_copies: Path | None = None,
    data_dir: Path | None = None,
) -> OutboxExport:
    """Write the acknowledgements and replies owed to the public host into a signed batch,
    and the transparency pages queued under ``data_dir`` (none without it).

    Only what no earlier outbound batch carried, unless ``include_all``: then everything
    not yet confirmed by a receipt (for a batch lost on the way).
    """
    if keyring.signing_key is None:
        raise MissingKey(f"officer {keyring.username!r} holds no unit signing key")
    tick = progress or ignore
    replies = _pending_replies(session, include_all)
    notices = _pending_notices(session, include_all)
    acks = _pending_acks(session, include_all)
    pages = _pending_pages(session, data_dir, include_all)
    header = BatchHeader.new("outbound", next_sequence(session, "outbound"), keyring.signing_key)
    result = OutboxExport(header=header)
    now = utc_now()
    with written_batch(session, keyring, out_path, header, keyring.signing_key) as writer:
        # The audit chain as it stands, for the public host to keep write-once (docs/batch.md).
        if keyring.sync_key is not None:
            anchor = sign_current_checkpoint(session, keyring.sync_key)
            writer.add("audit_anchor", {}, anchor)
            result.anchored_entries = json.loads(anchor)["count"]
            if anchor_copies is not None:
                keep_anchor_copy(anchor_copies, anchor)
        for reply in replies:
            writer.add(
                "reply", {"reply_id": reply.id, "reporter_id": reply.reporter_id}, reply.envelope
            )
            item = session.get(OutboxItem, ("reply", reply.id))
            if item is None:
                item = OutboxItem(kind="reply", item_id=reply.id)
                session.add(item)
            item.exported_batch, item.exported_at = header.batch_id, now
            result.replies += 1
            tick("reply")
        # A purged report's notice goes as a reply (the same call of the sync API). It is
        # deleted when a receipt says it was delivered, as the online sync deletes it.
        for notice in notices:
            writer.add(
                "reply", {"reply_id": notice.id, "reporter_id": notice.reporter_id}, notice.envelope
            )
            item = session.get(OutboxItem, (NOTICE, notice.id))
            if item is None:
                item = OutboxItem(kind=NOTICE, item_id=notice.id)
                session.add(item)
            item.exported_batch, item.exported_at = header.batch_id, now
            result.notices += 1
            tick("reply")
        for ack in acks:
            writer.add("ack", {"submission_id": ack.item_id})
            ack.exported_batch, ack.exported_at = header.batch_id, now
            result.acknowledgements += 1
            tick("ack")
        # Delivered (and removed from the queue) when a receipt says the public host took it.
        for page in pages:
            writer.add(PAGE_ENTRY, {"name": page.name}, page.read())
            page.item.exported_batch, page.item.exported_at = header.batch_id, now
            result.pages += 1
            tick("page")
    return result


def count_pending(session: Session, include_all: bool = False, data_dir: Path | None = None) -> int:
    """How many entries the next ``export-outbox`` would write (for its progress bar)."""
    return (
        len(_pending_replies(session, include_all))
        + len(_pending_notices(session, include_all))
        + len(_pending_acks(session, include_all))
        + len(_pending_pages(session, data_dir, include_all))
    )


def _pending_pages(session: Session, data_dir: Path | None, include_all: bool) -> list[QueuedPage]:
    if data_dir is None:
        return []
    return pending_pages(session, data_dir, include_exported=include_all)


def _pending_replies(session: Session, include_all: bool) -> list[Reply]:
    query = (
        select(Reply)
        .outerjoin(OutboxItem, and_(OutboxItem.kind == "reply", OutboxItem.item_id == Reply.id))
        .where(Reply.pushed_at.is_(None))
        .order_by(Reply.created_at, Reply.id)
    )
    if not include_all:
        query = query.where(or_(OutboxItem.item_id.is_(None), OutboxItem.exported_batch.is_(None)))
    return list(session.scalars(query))


def _pending_notices(session: Session, include_all: bool) -> list[EndedNotice]:
    query = (
        select(EndedNotice)
        .outerjoin(
            OutboxItem, and_(OutboxItem.kind == NOTICE, OutboxItem.item_id == EndedNotice.id)
        )
        .order_by(EndedNotice.created_at, EndedNotice.id)
    )
    if not include_all:
        query = query.where(or_(OutboxItem.item_id.is_(None), OutboxItem.exported_batch.is_(None)))
    return list(session.scalars(query))


def _pending_acks(session: Session, include_all: bool) -> list[OutboxItem]:
    query = (
        select(OutboxItem)
        .where(OutboxItem.kind == "ack", OutboxItem.confirmed_at.is_(None))
        .order_by(OutboxItem.queued_at, OutboxItem.item_id)
    )
    if not include_all:
        query = query.where(OutboxItem.exported_batch.is_(None))
    return list(session.scalars(query))


# --- upload (connected machine) --------------------------------------------------------


@dataclass
class OutboxUpload:
    """What ``upload`` applied, and the receipt kept for the offline host."""

    header: BatchHeader
    replies_delivered: list[str] = field(default_factory=list)
    replies_failed: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    anchor_sent: bool = False
    pages_delivered: list[str] = field(default_factory=list)
    pages_refused: list[str] = field(default_factory=list)

    def summary(self) -> str:
        line = (
            f"uploaded outbox batch {self.header.sequence} ({self.header.batch_id}): "
            f"{len(self.replies_delivered)} replies delivered, "
            f"{len(self.deleted)} submissions deleted from the public host"
        )
        if self.anchor_sent:
            line += ", audit anchor kept"
        if self.unknown:
            line += f", {len(self.unknown)} already gone"
        if self.replies_failed:
            line += f", {len(self.replies_failed)} replies refused (unknown reporter)"
        if self.pages_delivered:
            line += f", {len(self.pages_delivered)} transparency pages published"
        if self.pages_refused:
            line += f", {len(self.pages_refused)} transparency pages refused"
        return line

    def receipt(self) -> bytes:
        return json.dumps(
            {
                "v": 1,
                "batch_id": self.header.batch_id,
                "sequence": self.header.sequence,
                "uploaded_at": utc_now().strftime("%Y-%m-%dT%H:%M:%SZ"),
                "acknowledged": self.deleted + self.unknown,
                "replies_delivered": self.replies_delivered,
                "replies_failed": self.replies_failed,
                "pages_delivered": self.pages_delivered,
                "pages_refused": self.pages_refused,
            },
            sort_keys=True,
        ).encode("utf-8")


@dataclass(frozen=True)
class _PlannedReply:
    reply_id: str
    reporter_id: str
    entry: StagedEntry


@requires(Permission.BATCHES_IMPORT)
def upload_outbox(
    session: Session,
    config: OfficerConfig,
    keyring: UnlockedKeyring,
    path: Path,
    *,
    on_verified: Callable[[int], None] | None = None,
    byte_progress: BytesRead | None = None,
    progress: Tick | None = None,
) -> OutboxUpload:
    """Verify an outbound batch against the unit verify key, then apply it to the public host."""
    if keyring.sync_key is None:
        raise MissingKey(f"officer {keyring.username!r} holds no sync key")
    tick = progress or ignore
    with verify_batch_file(
        session, config, path, direction="outbound", signer_role="signing", progress=byte_progress
    ) as batch:
        replies, acks, anchors, pages = plan_or_refuse(_plan_outbound, batch)
        if on_verified is not None:
            on_verified(len(replies) + len(acks) + len(pages))
        client = SyncClient.from_config(config, keyring.sync_key)
        result = OutboxUpload(header=batch.header)
        # Replies first: an acknowledgement must not be the last trace of a report.
        for reply in replies:
            with batch.open_content(reply.entry) as source:
                envelope = source.read()
            try:
                client.push_reply(reply.reporter_id, reply.reply_id, envelope)
            except UnknownReporter:
                result.replies_failed.append(reply.reply_id)
            else:
                result.replies_delivered.append(reply.reply_id)
            tick("reply")
        for start in range(0, len(acks), MAX_ACK_IDS):
            chunk = acks[start : start + MAX_ACK_IDS]
            answer = client.ack(chunk)
            result.deleted.extend(answer.deleted)
            result.unknown.extend(answer.unknown)
            for _ in chunk:
                tick("ack")
        for anchor in anchors:
            with batch.open_content(anchor) as source:
                client.push_audit_anchor(source.read())
            result.anchor_sent = True
        for page in pages:
            name = str(page.descriptor["name"])
            with batch.open_content(page) as source:
                content = source.read()
            try:
                client.put_transparency_page(name, content)
            except SyncProtocolError:
                # Refused (crypto/transparency_page.py): the receipt says so.
                result.pages_refused.append(name)
            else:
                result.pages_delivered.append(name)
            tick("page")
        session.add(
            UploadReceipt(
                batch_id=batch.header.batch_id,
                sequence=batch.header.sequence,
                document=result.receipt(),
            )
        )
        commit_import_record(session, keyring, batch)
    return result


def _plan_outbound(
    batch: VerifiedBatch,
) -> tuple[list[_PlannedReply], list[str], list[StagedEntry], list[StagedEntry]]:
    """Check every entry before anything is sent; MalformedBatch otherwise."""
    replies: list[_PlannedReply] = []
    acks: list[str] = []
    anchors: list[StagedEntry] = []
    pages: list[StagedEntry] = []
    for entry in batch.entries:
        if entry.type == "reply":
            reply_id = entry.descriptor.get("reply_id")
            reporter_id = entry.descriptor.get("reporter_id")
            if not is_id(reply_id) or not is_id(reporter_id):
                raise MalformedBatch(f"reply entry {entry.index} lacks its ids")
            if not 0 < entry.size <= MAX_REPLY_BYTES:
                raise MalformedBatch(f"reply entry {entry.index} has no envelope or is too large")
            replies.append(_PlannedReply(str(reply_id), str(reporter_id), entry))
        elif entry.type == "ack":
            submission_id = entry.descriptor.get("submission_id")
            if not is_id(submission_id) or entry.size:
                raise MalformedBatch(f"acknowledgement entry {entry.index} is malformed")
            acks.append(str(submission_id))
        elif entry.type == "audit_anchor":
            # Its signature is the public host's to check (the sync key's, not the batch's).
            if not 0 < entry.size <= MAX_ANCHOR_BYTES:
                raise MalformedBatch(f"audit anchor entry {entry.index} is malformed")
            anchors.append(entry)
        elif entry.type == PAGE_ENTRY:
            # Its content is the public host's to check (crypto/transparency_page.py).
            name = entry.descriptor.get("name")
            if not is_transparency_name(name) or not 0 < entry.size <= MAX_TRANSPARENCY_PAGE_BYTES:
                raise MalformedBatch(f"transparency page entry {entry.index} is malformed")
            pages.append(entry)
        else:
            raise MalformedBatch(f"entry {entry.index} has the unknown type {entry.type!r}")
    return replies, acks, anchors, pages
