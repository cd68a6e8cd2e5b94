"""Pulling submissions from the public host and pushing replies back.

Order matters: blobs are written durably and the rows committed *before* the public
host is told it may delete them. A run interrupted anywhere is repeated safely: what is
already stored is not stored twice, only acknowledged again.

The public host is never trusted (it may be compromised): a run looks at most
``IBLAGH_SYNC_MAX_PER_RUN`` submissions, refuses a submission that breaks the sync
contract (crypto/sync_api.py: grammar, more than ``MAX_ATTACHMENTS`` attachments) or has
a blob larger than ``IBLAGH_SYNC_MAX_BLOB_BYTES``, starts no blob that would leave less
than ``IBLAGH_MIN_FREE_BYTES`` free, and (``IBLAGH_SYNC_CHECK_ENVELOPES``) refuses blobs
that are not envelopes sealed only to this unit's keys (on unless set to 0).

A refused submission is not acknowledged: it stays on the public host. It must never
hold back the ones behind it, so the pull lists on past it (``after=<id>``), and it is
recorded with its reason (sync/refusals.py) for an admin to see.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crypto.envelope import read_header
from crypto.errors import CryptoError
from crypto.sync_api import MAX_ACK_IDS, ListedBlob, ListedSubmission, RefusedItem
from journalist_app.audit_anchor import anchor_audit_chain
from journalist_app.clock import utc_now
from journalist_app.config import (
    DEFAULT_MIN_FREE_BYTES,
    DEFAULT_SYNC_MAX_BLOB_BYTES,
    DEFAULT_SYNC_MAX_PER_RUN,
    OfficerConfig,
)
from journalist_app.errors import (
    BlobMismatch,
    MissingKey,
    OfficerError,
    SyncProtocolError,
    UnknownReporter,
)
from journalist_app.keys.keyring import UnlockedKeyring
from journalist_app.models import EndedNotice, Reply, Report, ReportBlob, UnitKey
from journalist_app.sync.blob_store import BlobStore, BlobWriter
from journalist_app.sync.blob_store_s3 import open_blob_store
from journalist_app.sync.client import (
    BlobTooLarge,
    EnvelopeRejected,
    NotEnoughDiskSpace,
    SubmissionRefused,
    SyncClient,
    check_submission_limits,
    refusal_of,
)
from journalist_app.sync.freshness import RecipientSetCheck, check_served_recipient_set
from journalist_app.sync.refusals import Source, count_refused, forget_refusal, record_refusal
from journalist_app.transparency.delivery import push_pages
from journalist_app.triage.ingest import index_pending, register_report

EventKind = Literal["stored", "already_stored", "failed", "reply_pushed", "reply_failed"]


@dataclass(frozen=True)
class SyncEvent:
    """One step of a sync, for progress output."""

    kind: EventKind
    id: str
    detail: str = ""
    # The typed failure behind a ``failed`` event.
    error: OfficerError | None = field(default=None, compare=False)


Progress = Callable[[SyncEvent], None]
# Writes one blob's ciphertext into the file given; raises BlobMismatch if it is not as listed.
BlobSource = Callable[[ListedBlob, BlobWriter], None]


@dataclass
class SyncResult:
    """Counts of one sync run."""

    new: int = 0
    already_stored: int = 0
    acknowledged: int = 0
    replies_pushed: int = 0
    failed: int = 0
    # The run stopped at IBLAGH_SYNC_MAX_PER_RUN with submissions still listed.
    more_waiting: bool = False
    # Refused submissions recorded on this host, this run's and earlier ones still listed.
    refused_waiting: int = 0
    # The recipient set the public host serves, against the last one issued here.
    recipient_set: RecipientSetCheck | None = None
    # Entries of the audit chain covered by the checkpoint this run sent (audit_anchor.py).
    anchored_entries: int = 0
    # Why no checkpoint was sent: the log does not match the latest one kept; "" if sent.
    audit_anchor_problem: str = ""
    # Transparency pages the public host took, and those it refused (they stay queued).
    pages_delivered: list[str] = field(default_factory=list)
    pages_refused: list[str] = field(default_factory=list)

    def summary(self) -> str:
        line = (
            f"synced: {self.new} new, {self.already_stored} already stored, "
            f"{self.acknowledged} acknowledged, {self.replies_pushed} replies pushed"
        )
        line += f", {self.failed} failed" if self.failed else ""
        if self.pages_delivered:
            line += f", {len(self.pages_delivered)} transparency pages published"
        if self.pages_refused:
            line += (
                f", {len(self.pages_refused)} transparency pages refused by the public host "
                "(kept to send again)"
            )
        if self.more_waiting:
            line += (
                "; stopped at the limit of submissions per run (IBLAGH_SYNC_MAX_PER_RUN): "
                "more are waiting on the public host, sync again"
            )
        line += refused_line(self.refused_waiting)
        warning = self.recipient_set.warning() if self.recipient_set else ""
        line += f"\n{warning}" if warning else ""
        if self.audit_anchor_problem:
            line += (
                "\nWARNING: the audit log does not match the last anchor the public host "
                f"keeps ({self.audit_anchor_problem}); no new anchor was sent. Run "
                "'iblagh-officer audit verify --officer NAME' and alert a supervisor."
            )
        return line


def refused_line(count: int) -> str:
    """The summary's note of refused submissions, for an admin to look at; "" if none."""
    if not count:
        return ""
    return (
        f"\n{count} refused submission{'s' if count != 1 else ''} left on the public host "
        "(skipped, newer ones still arrive): an admin sees why under Admin, "
        "Refused submissions"
    )


@dataclass(frozen=True)
class RecipientKeyIds:
    """The unit key ids (16 bytes each) a stored blob may be sealed to.

    Bodies, attachments and follow-ups go to the intake keys and recovery; identity
    sections to the identity keys and recovery (crypto/recipients.py).
    """

    reports: frozenset[bytes]
    identity: frozenset[bytes]

    @classmethod
    def of_unit(cls, session: Session) -> "RecipientKeyIds":
        """This host's unit keys, retired ones included (old recipient sets seal to them)."""
        by_role: dict[str, set[bytes]] = {"intake": set(), "identity": set(), "recovery": set()}
        for key in session.scalars(select(UnitKey).where(UnitKey.role.in_(list(by_role)))):
            by_role[key.role].add(bytes.fromhex(key.key_id))
        return cls(
            reports=frozenset(by_role["intake"] | by_role["recovery"]),
            identity=frozenset(by_role["identity"] | by_role["recovery"]),
        )

    def allowed(self, blob_name: str) -> frozenset[bytes]:
        return self.identity if blob_name == "identity" else self.reports


@dataclass(frozen=True)
class IngestLimits:
    """What one sync run accepts from the public host (see the module docstring)."""

    max_blob_bytes: int = DEFAULT_SYNC_MAX_BLOB_BYTES
    max_per_run: int = DEFAULT_SYNC_MAX_PER_RUN
    min_free_bytes: int = DEFAULT_MIN_FREE_BYTES
    # None: blobs are not checked to be envelopes sealed to the unit's keys.
    recipients: RecipientKeyIds | None = None

    @classmethod
    def from_config(cls, config: OfficerConfig, session: Session) -> "IngestLimits":
        return cls(
            max_blob_bytes=config.sync_max_blob_bytes,
            max_per_run=config.sync_max_per_run,
            min_free_bytes=config.min_free_bytes,
            recipients=RecipientKeyIds.of_unit(session) if config.sync_check_envelopes else None,
        )


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
    store = open_blob_store(config)
    limits = IngestLimits.from_config(config, session)
    # Before pulling: which keys the public host seals new reports to (sync/freshness.py).
    recipient_set = check_served_recipient_set(session, client)
    anchored, anchor_problem = anchor_audit_chain(
        session, client, keyring.sync_key, config.data_dir
    )
    result = pull(session, client, store, progress, limits=limits)
    result.recipient_set = recipient_set
    result.refused_waiting = count_refused(session)
    # Read the triage fields while a keyring is unlocked (docs/triage.md).
    index_pending(session, store, keyring)
    push_replies(session, client, result, progress)
    # The unit's published transparency pages, queued when a quarter was released.
    pages = push_pages(session, client, keyring, config.data_dir)
    result.pages_delivered, result.pages_refused = pages.delivered, pages.refused
    result.anchored_entries = anchored
    result.audit_anchor_problem = anchor_problem
    return result


def pull(
    session: Session,
    client: SyncClient,
    store: BlobStore,
    progress: Progress | None = None,
    batch_size: int = 100,
    limits: IngestLimits | None = None,
) -> SyncResult:
    """Store every listed submission, then acknowledge what is stored, batch by batch.

    A refused submission (a failed event, recorded) stays on the public host; the next
    page is listed after it, so however many are refused, the newer ones arrive. Stops
    after ``limits.max_per_run`` submissions (``more_waiting`` is then set) and, raising
    :class:`NotEnoughDiskSpace`, when the disk is nearly full; what was stored before is
    acknowledged first.
    """
    if not 1 <= batch_size <= MAX_ACK_IDS:
        raise ValueError(f"batch size is 1 to {MAX_ACK_IDS}")
    limits = limits or IngestLimits()
    notify = progress or _ignore
    result = SyncResult()
    seen: set[str] = set()
    # The last refused submission listed: every page is listed after it.
    after: str | None = None
    while True:
        page = client.listing(limit=batch_size, after=after)
        fresh = [entry for entry in page.entries if _listed_id(entry) not in seen]
        # Nothing new (an item without an id can be neither skipped past nor recorded).
        if not any(_listed_id(entry) for entry in fresh):
            break
        # However many new ids the public host keeps listing, one run looks at a bounded number.
        room = limits.max_per_run - len(seen)
        if len(fresh) > room:
            fresh = fresh[: max(room, 0)]
            result.more_waiting = True
        seen.update(_listed_id(entry) for entry in fresh)
        stored: list[str] = []
        try:
            for entry in fresh:
                if isinstance(entry, RefusedItem):
                    outcome = refuse_listed(session, entry, "sync")
                else:
                    source = _fetcher(client, entry)
                    outcome = store_submission(session, store, entry, source, limits)
                notify(outcome)
                if outcome.kind == "failed":
                    result.failed += 1
                    # It stays on the public host; what follows is listed after it.
                    after = outcome.id or after
                    continue
                stored.append(outcome.id)
                if outcome.kind == "stored":
                    result.new += 1
                else:
                    result.already_stored += 1
        except NotEnoughDiskSpace:
            # What is stored durably is acknowledged before the run stops.
            if stored:
                client.ack(stored)
            raise
        if stored:
            answer = client.ack(stored)
            result.acknowledged += len(answer.deleted) + len(answer.unknown)
        if result.more_waiting or len(page.entries) < batch_size:
            break
    return result


def _listed_id(entry: ListedSubmission | RefusedItem) -> str:
    return entry.id if isinstance(entry, ListedSubmission) else entry.submission_id or ""


def refuse_listed(session: Session, item: RefusedItem, source: Source) -> SyncEvent:
    """A listing item the contract refused: recorded (if it has an id) and reported failed."""
    error = refusal_of(item.reason, item.detail)
    if item.submission_id is not None:
        record_refusal(session, item.submission_id, item.reason, str(error), source)
    return SyncEvent("failed", item.submission_id or "", str(error), error=error)


def _fetcher(client: SyncClient, submission: ListedSubmission) -> BlobSource:
    def fetch(blob: ListedBlob, dst: BlobWriter) -> None:
        client.fetch_blob(submission.id, blob, dst)

    return fetch


def store_submission(
    session: Session,
    store: BlobStore,
    submission: ListedSubmission,
    source: BlobSource,
    limits: IngestLimits | None = None,
    *,
    origin: Source = "sync",
) -> SyncEvent:
    """Store one listed submission: every blob durably, then its row. Commits.

    The one ingest step of the online sync and of the air-gap import (journalist_app/
    airgap/inbound.py): ``source`` writes a blob's ciphertext into a file and raises
    :class:`BlobMismatch` if it differs from the listing. A submission already stored is
    left as it is; on any failure nothing of it remains, so a run killed half-way and
    started again neither loses nor duplicates anything.

    With ``limits``, a submission over them is refused (a ``failed`` event carrying the
    typed error, nothing stored) and :class:`NotEnoughDiskSpace` is raised rather than a
    blob started that would leave the disk nearly full. Every refusal is recorded, with
    ``origin`` (online sync or air-gap batch), for an admin to see (sync/refusals.py).
    """
    # What a run killed while writing this submission left (it was never acknowledged,
    # so it is listed again): its temporary files go; its finished blobs are rewritten.
    store.discard_incomplete(submission.id)
    if session.get(Report, submission.id) is not None:
        return SyncEvent("already_stored", submission.id)
    written: list[str] = []
    blobs: list[ReportBlob] = []
    try:
        if limits is not None:
            check_submission_limits(submission, limits.max_blob_bytes)
        for blob in submission.blobs:
            relative = store.relative_path(submission.id, blob.name)
            if limits is not None:
                _check_free_space(store, relative, blob, limits.min_free_bytes)
            with store.writer(relative) as handle:
                source(blob, handle)
            written.append(relative)
            blobs.append(
                ReportBlob(name=blob.name, path=relative, size=blob.size, sha256=blob.sha256)
            )
        if limits is not None and limits.recipients is not None:
            for blob, relative in zip(submission.blobs, written, strict=True):
                _check_envelope(store, submission.id, blob.name, relative, limits.recipients)
        report = Report(
            id=submission.id,
            kind=submission.kind,
            reporter_id=submission.reporter_id,
            reporter_public_key=submission.reporter_public_key,
            received_hour=submission.received_hour,
            synced_at=utc_now(),
            blobs=blobs,
        )
        session.add(report)
        # Queued for triage in the same commit: nothing stored can miss the queue.
        register_report(session, report)
        forget_refusal(session, submission.id)
        session.commit()
    except IntegrityError:
        # Another sync (CLI beside the web app) stored it first, with the same bytes.
        session.rollback()
        return SyncEvent("already_stored", submission.id)
    except (BlobMismatch, SyncProtocolError) as exc:
        session.rollback()
        for relative in written:
            store.delete(relative)
        record_refusal(session, submission.id, _reason_of(exc), str(exc), origin)
        return SyncEvent("failed", submission.id, str(exc), error=exc)
    except BaseException:
        session.rollback()
        for relative in written:
            store.delete(relative)
        raise
    detail = f"{submission.kind}, {len(blobs)} blob{'s' if len(blobs) != 1 else ''}"
    return SyncEvent("stored", submission.id, detail)


def _reason_of(error: BlobMismatch | SyncProtocolError) -> str:
    """The stable code recorded for a refusal."""
    if isinstance(error, SubmissionRefused):
        return error.reason
    if isinstance(error, BlobTooLarge):
        return "blob_too_large"
    if isinstance(error, EnvelopeRejected):
        return "envelope_rejected"
    if isinstance(error, BlobMismatch):
        return "blob_mismatch"
    return "protocol_error"


def _check_free_space(
    store: BlobStore, relative: str, blob: ListedBlob, min_free_bytes: int
) -> None:
    """Refuse to start a blob that would leave the data dir's disk with too little room."""
    free, where = store.free_space(relative)
    if free - blob.size < min_free_bytes:
        raise NotEnoughDiskSpace(
            f"not enough free disk space for the next blob ({blob.size} bytes): "
            f"{free} bytes are free in {where} and IBLAGH_MIN_FREE_BYTES keeps "
            f"{min_free_bytes} free. The sync stopped; nothing unstored was acknowledged. "
            "Free some space and sync again."
        )


def _check_envelope(
    store: BlobStore, submission_id: str, name: str, relative: str, known: RecipientKeyIds
) -> None:
    """A stored blob must be an envelope sealed to this unit's keys only, else it is refused."""
    try:
        with store.open(relative) as handle:
            _header, key_ids = read_header(handle)
    except CryptoError as exc:
        raise EnvelopeRejected(
            f"blob {submission_id}/{name} is not an envelope: refused, left on the public host"
        ) from exc
    unknown = [key.hex() for key in key_ids if key not in known.allowed(name)]
    if unknown:
        raise EnvelopeRejected(
            f"blob {submission_id}/{name} is sealed to {len(unknown)} key(s) that are not this "
            f"unit's {'identity' if name == 'identity' else 'intake'} or recovery keys "
            f"({', '.join(unknown[:3])}): refused, left on the public host"
        )


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
        reply.pushed_at = utc_now()
        session.commit()
        result.replies_pushed += 1
        notify(SyncEvent("reply_pushed", reply.id))
    # "Handling ended" notices of purged reports (journalist_app/retention/notices.py):
    # pushed like replies, then deleted, since nothing on this host refers to them.
    for notice in session.scalars(
        select(EndedNotice).order_by(EndedNotice.created_at, EndedNotice.id)
    ).all():
        try:
            client.push_reply(notice.reporter_id, notice.id, notice.envelope)
        except UnknownReporter as exc:
            # The public host forgot the reporter (its own expiry): nobody left to tell.
            session.delete(notice)
            session.commit()
            notify(SyncEvent("reply_failed", notice.id, str(exc)))
            continue
        session.delete(notice)
        session.commit()
        result.replies_pushed += 1
        notify(SyncEvent("reply_pushed", notice.id))


def _ignore(_event: SyncEvent) -> None:
    return None
