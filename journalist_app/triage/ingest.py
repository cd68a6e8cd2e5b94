"""Putting stored reports in the queue, and reading their triage fields once.

Two steps, because the category is inside the encrypted body:

1. :func:`register_report`, in the transaction that stores a report (sync or air-gap
   import, journalist_app/sync/pull.py ``store_submission``): the report gets a case of its
   own, ranked urgent because nobody has read it. No key is needed, so nothing that
   arrives can miss the queue.
2. :func:`index_report` / :func:`index_pending`, with an officer's unlocked keyring (the
   sync runs with one; the case page and the report page index what they open): the body
   is decrypted in memory, its category, language and normalised addresses are stored in
   the clear, each attachment is decrypted to hash it (SHA-256 from the envelope's
   trailer) and recognise its type by its first bytes, then the report is grouped
   (grouping.py). Nothing of the description, identity, file names or contents is kept.
   The reporter's public key sealed in the body is kept and compared with the one the
   public host listed: replies go to the sealed one, and none goes on a mismatch
   (journalist_app/reports/replies.py).
"""

import hashlib
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from crypto.contents import ContentError, ReportBody
from journalist_app import audit
from journalist_app.clock import utc_now
from journalist_app.diagnostics.files import detect_content_type, diagnose_file
from journalist_app.diagnostics.hashlists import match_attachment
from journalist_app.keys.keyring import UnlockedKeyring
from journalist_app.models import (
    AttachmentHashes,
    AttachmentPdq,
    HashMatch,
    Report,
    ReportAttachment,
    ReportBlob,
    ReportTriage,
    ReportUrl,
)
from journalist_app.reports.reading import MAX_BODY_BYTES
from journalist_app.reports.sealed import NotSealedToYou, Purpose, SealedUnreadable, open_sealed
from journalist_app.roles import Permission, has_permission
from journalist_app.sync.blob_store import BlobStore
from journalist_app.triage import statuses
from journalist_app.triage.attachments import SNIFF_BYTES
from journalist_app.triage.binding import (
    binding_of,
    check_body,
    first_report_of,
    verified_with_reporter,
)
from journalist_app.triage.events import TriageAction, record_case_event
from journalist_app.triage.grouping import (
    apply_hash_matches,
    live_case,
    new_case_for,
    place_report,
    refresh_case,
)
from journalist_app.triage.notify import notify_reporters
from journalist_app.triage.queue import refresh_planner_statistics
from journalist_app.triage.search_index import index_body, search_key
from journalist_app.triage.urls import MAX_INDEXED_URLS, normalise_url, url_hash

_CATEGORY_ID = re.compile(r"[a-z0-9_]{1,32}")
_LANGUAGE = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{1,8})?")
# What index_pending takes per call by default: a sync indexes what it brought.
DEFAULT_BATCH = 10_000
COMMIT_EVERY = 100
# Pictures and videos up to this size are kept in memory while indexed, for PDQ.
MAX_DIAGNOSED_BYTES = 64 * 1024 * 1024


@dataclass
class IndexResult:
    indexed: int = 0
    not_for_me: int = 0
    damaged: int = 0

    @property
    def total(self) -> int:
        return self.indexed + self.not_for_me + self.damaged


def register_report(session: Session, report: Report, now: datetime | None = None) -> ReportTriage:
    """Give a just-stored report its place in the queue (adds to the session, no commit).

    Every submission starts in a case of its own; a follow-up is grouped with its
    reporter's case when it is read and its signature verifies (issue 9, item 2).
    """
    now = now or utc_now()
    existing = session.get(ReportTriage, report.id)
    if existing is not None:
        return existing
    # The reporter id is the public host's word: a later submission under it joins the
    # reporter's case only once its signature verifies against the key sealed in the
    # first report (index_report, journalist_app/triage/binding.py), never before.
    case = new_case_for(session, report, now)
    triage = ReportTriage(report_id=report.id, case_id=case.id, registered_at=now)
    session.add(triage)
    record_case_event(session, case.id, None, TriageAction.CREATED, {"report": report.id}, now=now)
    session.flush()
    return triage


def index_report(
    session: Session,
    store: BlobStore,
    keyring: UnlockedKeyring,
    report_id: str,
    now: datetime | None = None,
    *,
    commit: bool = True,
    index_key: bytes | None = None,
) -> str:
    """Read a report's triage fields and group it. Commits, unless ``commit`` is False.

    What indexing writes can always be written again (a report left ``pending`` by a
    crash is simply read at the next sync), so a batch may commit once for many reports.
    Returns ``indexed``, ``already`` (nothing to do), ``not_for_me`` (the keyring holds no
    intake key it was sealed to: another officer's sync will index it) or ``damaged``.
    """
    now = now or utc_now()
    report = session.get(Report, report_id)
    if report is None:
        return "already"
    triage = session.get(ReportTriage, report_id) or register_report(session, report, now)
    if triage.state != "pending":
        return "already"
    if not has_permission(keyring, Permission.REPORTS_READ):
        _finish(session, commit)
        return "not_for_me"
    try:
        body = _read_body(session, store, keyring, report)
    except NotSealedToYou:
        _finish(session, commit)
        return "not_for_me"
    except (SealedUnreadable, ContentError):
        triage.state, triage.indexed_at = "damaged", now
        case = live_case(session, triage.case_id)
        refresh_case(session, case, now)
        _finish(session, commit)
        return "damaged"
    triage.category = body.category if _CATEGORY_ID.fullmatch(body.category) else "other"
    triage.language = body.language if _LANGUAGE.fullmatch(body.language) else None
    _check_reporter_key(session, triage, report, body, now)
    _index_urls(session, report.id, body.urls)
    index_body(session, index_key or search_key(session, keyring), report.id, body)
    matches = _index_attachments(session, store, keyring, report)
    triage.state, triage.indexed_at = "indexed", now
    session.flush()
    # The parts the public host delivered against what the body binds (binding.py). A
    # later submission is verified with the first report's key: read that one first.
    first = first_report_of(session, report)
    if first is not None and binding_of(session, first.id) is None:
        index_report(session, store, keyring, first.id, now, commit=False, index_key=index_key)
    check_body(session, report, body, _opened_attachments(session, report.id), now, first)
    case = place_report(
        session, triage, report, now, by_reporter=verified_with_reporter(session, report, first)
    )
    if matches:
        apply_hash_matches(session, matches, now)
    record_case_event(
        session,
        case.id,
        None,
        TriageAction.INDEXED,
        {"report": report.id, "category": triage.category},
        now=now,
    )
    if case.status != statuses.NEW:
        # A report joining a case under review: its reporter is told so (this commits).
        notify_reporters(session, case, now)
    _finish(session, commit)
    return "indexed"


def _opened_attachments(session: Session, report_id: str) -> dict[str, tuple[int, str]]:
    """Each attachment blob that opened: its content size and SHA-256 (the trailer's)."""
    rows = session.execute(
        select(ReportAttachment.blob_name, ReportAttachment.size, ReportAttachment.sha256).where(
            ReportAttachment.report_id == report_id
        )
    )
    return {name: (size, sha256) for name, size, sha256 in rows}


def _check_reporter_key(
    session: Session, triage: ReportTriage, report: Report, body: ReportBody, now: datetime
) -> None:
    """Keep the key sealed in the body; flag (and audit) a listed key that differs."""
    sealed = body.reporter_key()
    triage.reporter_key = sealed
    triage.reporter_key_mismatch = sealed is not None and sealed != report.reporter_public_key
    if triage.reporter_key_mismatch:
        audit.record(
            session,
            None,
            audit.Action.REPORTER_KEY_MISMATCH,
            audit.report_target(report.id),
            {"reporter": report.reporter_id},
            now=now,
        )


def _finish(session: Session, commit: bool) -> None:
    if commit:
        session.commit()
    else:
        session.flush()


def index_pending(
    session: Session,
    store: BlobStore,
    keyring: UnlockedKeyring,
    *,
    limit: int = DEFAULT_BATCH,
    progress: Callable[[str, str], None] | None = None,
) -> IndexResult:
    """Index up to ``limit`` reports nobody has read yet, oldest first; commits by batch."""
    result = IndexResult()
    pending = session.scalars(
        select(ReportTriage.report_id)
        .where(ReportTriage.state == "pending")
        .order_by(ReportTriage.registered_at, ReportTriage.report_id)
        .limit(limit)
    ).all()
    key = search_key(session, keyring)
    for done, report_id in enumerate(pending, start=1):
        outcome = index_report(session, store, keyring, report_id, commit=False, index_key=key)
        if done % COMMIT_EVERY == 0:
            session.commit()
        if outcome == "indexed":
            result.indexed += 1
        elif outcome == "not_for_me":
            result.not_for_me += 1
        elif outcome == "damaged":
            result.damaged += 1
        if progress is not None:
            progress(report_id, outcome)
    session.commit()
    if result.indexed:
        refresh_planner_statistics(session)
    return result


def register_unqueued(session: Session, limit: int = DEFAULT_BATCH) -> int:
    """Queue stored reports that have no case (stored before triage existed). Commits."""
    orphans = session.scalars(
        select(Report)
        .where(~select(ReportTriage.report_id).where(ReportTriage.report_id == Report.id).exists())
        .order_by(Report.received_hour, Report.id)
        .limit(limit)
    ).all()
    for report in orphans:
        register_report(session, report)
    session.commit()
    return len(orphans)


def _read_body(
    session: Session, store: BlobStore, keyring: UnlockedKeyring, report: Report
) -> ReportBody:
    blob = report.blob("body")
    if blob is None:
        raise ContentError("the report has no body")
    content = io.BytesIO()
    open_sealed(
        session, store, keyring, blob, Purpose.INDEX_REPORT, content, max_bytes=MAX_BODY_BYTES
    )
    return ReportBody.from_json(content.getvalue())


def _index_urls(session: Session, report_id: str, urls: tuple[str, ...]) -> None:
    seen: set[str] = set()
    for raw in urls[:MAX_INDEXED_URLS]:
        key = normalise_url(raw)
        if key is None or url_hash(key) in seen:
            continue
        seen.add(url_hash(key))
        session.add(ReportUrl(report_id=report_id, url_hash=url_hash(key), normalised=key))


class _Diagnosing:
    """A sink that hashes what is written (MD5, SHA-1; the SHA-256 is the envelope's),
    keeps the first bytes, and keeps a picture or video whole (up to a cap) for PDQ."""

    def __init__(self) -> None:
        self.head = b""
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.sha1 = hashlib.sha1(usedforsecurity=False)
        self.kept: bytearray | None = None
        self._decided = False

    def write(self, data: bytes) -> int:
        self.md5.update(data)
        self.sha1.update(data)
        if len(self.head) < SNIFF_BYTES:
            self.head += data[: SNIFF_BYTES - len(self.head)]
        if not self._decided and len(self.head) >= min(SNIFF_BYTES, 16):
            self._decided = True
            if detect_content_type(self.head).startswith(("image/", "video/")):
                self.kept = bytearray(self.head)
                data = data[len(self.head) :] if len(data) >= len(self.head) else b""
        if self.kept is not None and data:
            if len(self.kept) + len(data) > MAX_DIAGNOSED_BYTES:
                self.kept = None
            else:
                self.kept += data
        return len(data)


def _index_attachments(
    session: Session, store: BlobStore, keyring: UnlockedKeyring, report: Report
) -> list[HashMatch]:
    matches: list[HashMatch] = []
    for blob in report.blobs:
        if not blob.name.startswith("attachment-"):
            continue
        matches += _attachment_facts(session, store, keyring, blob)
    return matches


def _attachment_facts(
    session: Session, store: BlobStore, keyring: UnlockedKeyring, blob: ReportBlob
) -> list[HashMatch]:
    sink = _Diagnosing()
    try:
        opened = open_sealed(
            session,
            store,
            keyring,
            blob,
            Purpose.INDEX_ATTACHMENT,
            sink,
            max_bytes=blob.size,
        )
    except SealedUnreadable:
        # Listed on the case page as "does not open"; it takes no part in grouping.
        return []
    detected = detect_content_type(sink.head)
    sha256, md5 = opened.digest.sha256.hex(), sink.md5.hexdigest()
    session.add(
        ReportAttachment(
            report_id=blob.report_id,
            blob_name=blob.name,
            sha256=sha256,
            size=opened.digest.size,
            detected_type=detected,
        )
    )
    session.add(
        AttachmentHashes(
            report_id=blob.report_id, blob_name=blob.name, md5=md5, sha1=sink.sha1.hexdigest()
        )
    )
    pdqs: list[str] = []
    known = _known_pdqs(session, sha256) if sink.kept is not None else []
    if known:
        # The same file was already hashed (a viral picture reported again): reuse it.
        sink.kept = None
        for variant_name, known_pdq, known_quality in known:
            session.add(
                AttachmentPdq(
                    report_id=blob.report_id,
                    blob_name=blob.name,
                    variant=variant_name,
                    pdq=known_pdq,
                    quality=known_quality,
                )
            )
            pdqs.append(known_pdq)
    if sink.kept is not None:
        # Diagnostics in memory: PDQ of the picture and its crops, or of a video's keyframes.
        diagnosis = diagnose_file(bytes(sink.kept), video=True)
        sink.kept = None
        for variant, value in diagnosis.pdq_variants.items():
            session.add(
                AttachmentPdq(
                    report_id=blob.report_id,
                    blob_name=blob.name,
                    variant=variant,
                    pdq=value.hex,
                    quality=value.quality,
                )
            )
            pdqs.append(value.hex)
        for number, keyframe in enumerate(diagnosis.keyframe_pdqs, start=1):
            session.add(
                AttachmentPdq(
                    report_id=blob.report_id,
                    blob_name=blob.name,
                    variant=f"keyframe-{number}",
                    pdq=keyframe,
                )
            )
            pdqs.append(keyframe)
    return match_attachment(session, blob.report_id, blob.name, sha256=sha256, md5=md5, pdqs=pdqs)


def _known_pdqs(session: Session, sha256: str) -> list[tuple[str, str, int]]:
    """The PDQ rows of an earlier attachment with the same content, if any."""
    earlier = session.execute(
        select(ReportAttachment.report_id, ReportAttachment.blob_name)
        .join(
            AttachmentPdq,
            (AttachmentPdq.report_id == ReportAttachment.report_id)
            & (AttachmentPdq.blob_name == ReportAttachment.blob_name),
        )
        .where(ReportAttachment.sha256 == sha256)
        .limit(1)
    ).first()
    if earlier is None:
        return []
    rows = session.execute(
        select(AttachmentPdq.variant, AttachmentPdq.pdq, AttachmentPdq.quality).where(
            AttachmentPdq.report_id == earlier.report_id,
            AttachmentPdq.blob_name == earlier.blob_name,
        )
    ).all()
    return [(row.variant, row.pdq, row.quality) for row in rows]
