"""Resumable uploads of the browser path: an attachment envelope sent in parts.

A dropped Tor circuit must not cost a reporter the 150 MB already sent. The browser
declares an envelope's size (checked against the limits before any byte is sent), then
sends it in parts of :data:`~source_app.storage.RESUMABLE_PART_BYTES`, each at the offset
the host holds; after a cut it asks the offset and goes on from there (docs/sync-api.md,
"Resumable uploads"). A part is acknowledged only once durable in the blob store, and
the offset the host answers is the database's, updated after that: what the browser is
told is kept survives a crash.

The unfinished envelope is no blob yet: nothing of it is listed to the officer host. The
report's final POST names its uploads; they are claimed (so one upload serves one report
only), finished into blobs, read back for the framing check and the SHA-256, and their
rows deleted in the commit that stores the report (docs/invariants.md, 4). An upload not
finished by its expiry is aborted by :func:`expire_uploads`, and nothing of it is left.
"""

import hashlib
import math
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crypto.envelope import ABYTES, CHUNK_SIZE, MAX_METADATA_BYTES, STANZA_BYTES
from crypto.envelope_framing import FramingChecker
from crypto.errors import EnvelopeError
from source_app.models import UploadSession
from source_app.services.clock import current_hour
from source_app.storage import RESUMABLE_PART_BYTES, BlobRef, BlobStore

UPLOAD_ID_BYTES: Final = 24
# What a page may name its upload: at least 192 bits of base64url (its own CSPRNG).
_UPLOAD_ID: Final = re.compile(r"[A-Za-z0-9_-]{32,64}")
# magic (8) + count (1) + stream header (24) + the metadata chunk's length and MAC (4 + 17)
# + the trailer chunk (4 + 40 + 17): docs/envelope.md, "Size".
_FIXED_ENVELOPE_BYTES: Final = 8 + 1 + 24 + 4 + ABYTES + 4 + 40 + ABYTES


class UploadRefused(Exception):
    """The request cannot be taken; ``code`` names why (the view words it and picks the
    HTTP status). Nothing already stored is lost."""

    def __init__(self, code: str, offset: int | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.offset = offset


@dataclass(frozen=True)
class UploadLimits:
    """What one browser session and the host may hold open, from the configuration."""

    max_upload_bytes: int  # the files of one report, all together (plaintext)
    max_attachments: int
    max_open_uploads: int  # every session together
    expiry_hours: int
    recipient_count: int
    min_free_bytes: int = 0  # what the store must keep free, promised parts counted

    def envelope_bytes(self, content_bytes: int) -> int:
        """The largest envelope sealing ``content_bytes`` can give (docs/envelope.md)."""
        chunks = max(1, math.ceil(content_bytes / CHUNK_SIZE))
        return (
            _FIXED_ENVELOPE_BYTES
            + STANZA_BYTES * self.recipient_count
            + MAX_METADATA_BYTES
            + content_bytes
            + (4 + ABYTES) * chunks
        )

    @property
    def max_session_bytes(self) -> int:
        """Every envelope a session holds open: the files' limit and each one's framing."""
        overhead = self.envelope_bytes(0) * self.max_attachments
        return self.envelope_bytes(self.max_upload_bytes) + overhead


def owner_hash(session_secret: str) -> bytes:
    """Who holds an upload: SHA-256 of the browser session's CSRF secret, never the secret."""
    return hashlib.sha256(b"iblagh-upload-owner/1" + session_secret.encode()).digest()


def _id_hash(upload_id: str) -> bytes:
    return hashlib.sha256(b"iblagh-upload/1" + upload_id.encode()).digest()


@dataclass(frozen=True)
class OpenedUpload:
    """An upload as declared: its id, the offset the host holds, whether it is new."""

    upload_id: str
    offset: int
    created: bool


def open_upload(
    session: Session,
    store: BlobStore,
    limits: UploadLimits,
    owner: bytes,
    size: int,
    upload_id: str | None = None,
) -> OpenedUpload:
    """Declare an envelope of ``size`` bytes under ``upload_id`` (the page draws it, so
    that a declaration sent again after a cut finds its upload instead of opening a
    second one that would hold the session's quota until it expires); a new id if None.

    Refused before any byte is sent: ``too_large`` (over the files' limit, alone or with
    what the session already holds open), ``too_many`` (more files than a report takes),
    ``busy`` (the host holds its maximum of unfinished uploads), ``no_space`` (the store
    could not take this and every byte still owed to the open uploads, and keep its
    free-space watermark: declared sizes are a promise the disk must be able to keep),
    ``bad_request`` for an id that is not 32 to 64 URL-safe characters or that names an
    upload of another size or session.
    """
    if upload_id is not None:
        if not _UPLOAD_ID.fullmatch(upload_id):
            raise UploadRefused("bad_request")
        known = session.get(UploadSession, _id_hash(upload_id))
        if known is not None:
            if known.owner_hash != owner or known.total_bytes != size or known.claimed:
                raise UploadRefused("bad_request")
            return OpenedUpload(upload_id, known.received_bytes, created=False)
    if size < 1 or size > limits.envelope_bytes(limits.max_upload_bytes):
        raise UploadRefused("too_large")
    expire_uploads(session, store)
    count, held = session.execute(
        select(func.count(), func.coalesce(func.sum(UploadSession.total_bytes), 0)).where(
            UploadSession.owner_hash == owner, UploadSession.claimed.is_(False)
        )
    ).one()
    if count >= limits.max_attachments:
        raise UploadRefused("too_many")
    if held + size > limits.max_session_bytes:
        raise UploadRefused("too_large")
    open_count, owed = session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(UploadSession.total_bytes - UploadSession.received_bytes), 0),
        )
    ).one()
    if open_count >= limits.max_open_uploads:
        raise UploadRefused("busy")
    if store.free_bytes() - owed - size < limits.min_free_bytes:
        raise UploadRefused("no_space")
    upload_id = upload_id or secrets.token_urlsafe(UPLOAD_ID_BYTES)
    handle = store.begin_resumable()
    try:
        session.add(
            UploadSession(
                id_hash=_id_hash(upload_id),
                owner_hash=owner,
                store_handle=handle,
                total_bytes=size,
                received_bytes=0,
                claimed=False,
                expires_hour=current_hour() + timedelta(hours=limits.expiry_hours + 1),
            )
        )
        session.commit()
    except IntegrityError:
        # The same declaration, sent again while the first was being stored.
        session.rollback()
        store.abort_resumable(handle)
        known = session.get(UploadSession, _id_hash(upload_id))
        if known is None or known.owner_hash != owner or known.total_bytes != size:
            raise UploadRefused("bad_request") from None
        return OpenedUpload(upload_id, known.received_bytes, created=False)
    except BaseException:
        session.rollback()
        store.abort_resumable(handle)
        raise
    return OpenedUpload(upload_id, 0, created=True)


def _find(session: Session, owner: bytes, upload_id: str) -> UploadSession:
    row = session.get(UploadSession, _id_hash(upload_id))
    # Another session's upload is as unknown as one never made.
    if row is None or row.owner_hash != owner:
        raise UploadRefused("unknown")
    return row


def upload_offset(session: Session, owner: bytes, upload_id: str) -> tuple[int, int]:
    """(bytes durably received, bytes declared) of an upload."""
    row = _find(session, owner, upload_id)
    return row.received_bytes, row.total_bytes


def append_part(
    session: Session,
    store: BlobStore,
    owner: bytes,
    upload_id: str,
    offset: int,
    length: int,
    pieces: Iterable[bytes],
) -> int:
    """Store the ``length``-byte part that ``pieces`` bring at ``offset``; returns the new
    offset, once the part is durable.

    ``offset_mismatch`` (with the offset the host holds) when ``offset`` is not it: a
    part is never written twice nor leaves a gap. ``bad_part`` for a part that is not a
    whole :data:`RESUMABLE_PART_BYTES` long but the last, runs past the declared size,
    or brings another length than announced (then nothing of it counts).
    """
    row = _find(session, owner, upload_id)
    if row.claimed:
        raise UploadRefused("finished")
    if offset != row.received_bytes:
        raise UploadRefused("offset_mismatch", offset=row.received_bytes)
    end = offset + length
    if (
        not length
        or end > row.total_bytes
        or (length != RESUMABLE_PART_BYTES and end != row.total_bytes)
    ):
        raise UploadRefused("bad_part", offset=row.received_bytes)
    handle = row.store_handle
    session.rollback()  # no transaction held open while the part is written
    if store.write_resumable(handle, offset, pieces) != length:
        # Bytes past the offset the database holds: the next part overwrites them.
        raise UploadRefused("bad_part", offset=offset)
    moved = session.execute(
        update(UploadSession)
        .where(
            UploadSession.id_hash == _id_hash(upload_id),
            UploadSession.received_bytes == offset,
            UploadSession.claimed.is_(False),
        )
        .values(received_bytes=end)
    )
    session.commit()
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        # Another request wrote this part first (a retry racing the original).
        current, _total = upload_offset(session, owner, upload_id)
        raise UploadRefused("offset_mismatch", offset=current)
    return end


def abandon_upload(session: Session, store: BlobStore, owner: bytes, upload_id: str) -> None:
    """Give an unclaimed upload up now: its row, then its bytes."""
    row = _find(session, owner, upload_id)
    id_hash, handle = row.id_hash, row.store_handle
    gone = session.execute(
        delete(UploadSession).where(
            UploadSession.id_hash == id_hash, UploadSession.claimed.is_(False)
        )
    )
    session.commit()
    if gone.rowcount != 1:  # type: ignore[attr-defined]
        raise UploadRefused("finished")
    store.abort_resumable(handle)


@dataclass(frozen=True)
class ClaimedUpload:
    """A whole upload taken for one report: its row stays (claimed) until that commit."""

    id_hash: bytes
    handle: str
    size: int


def claim_uploads(
    session: Session, owner: bytes, wanted: Sequence[tuple[str, int]]
) -> list[ClaimedUpload]:
    """Take the uploads ``wanted`` ((id, size) each) for one report, or none of them.

    ``unknown`` for an id this session does not hold (or one already used by a report),
    ``incomplete`` for one not wholly received or of another size than the manifest says.
    """
    claimed: list[ClaimedUpload] = []
    for upload_id, size in wanted:
        row = _find(session, owner, upload_id)
        if row.claimed:
            raise UploadRefused("unknown")
        if row.received_bytes != row.total_bytes or row.total_bytes != size:
            raise UploadRefused("incomplete")
        taken = session.execute(
            update(UploadSession)
            .where(UploadSession.id_hash == row.id_hash, UploadSession.claimed.is_(False))
            .values(claimed=True)
        )
        if taken.rowcount != 1:  # type: ignore[attr-defined]
            session.rollback()
            raise UploadRefused("unknown")
        claimed.append(ClaimedUpload(row.id_hash, row.store_handle, row.total_bytes))
    session.commit()
    return claimed


def forget_in_transaction(session: Session, claimed: Sequence[ClaimedUpload]) -> None:
    """Delete the claimed rows in the transaction that commits the report."""
    if claimed:
        session.execute(
            delete(UploadSession).where(UploadSession.id_hash.in_([c.id_hash for c in claimed]))
        )


def release(session: Session, store: BlobStore, claimed: Sequence[ClaimedUpload]) -> None:
    """The report was not stored: its uploads go, rows and bytes (finished or not)."""
    forget_in_transaction(session, claimed)
    session.commit()
    for upload in claimed:
        store.abort_resumable(upload.handle)


class FinishedUpload:
    """A claimed upload made a blob and checked; committed or discarded with the report."""

    def __init__(self, store: BlobStore, ref: BlobRef) -> None:
        self._store = store
        self._ref = ref

    def commit(self) -> BlobRef:
        return self._ref

    def discard(self) -> None:
        self._store.delete(self._ref.key)


def finish_upload(
    store: BlobStore, upload: ClaimedUpload, key_ids: Sequence[bytes]
) -> FinishedUpload:
    """Make the upload a blob, read it back through the framing check and SHA-256.

    The blob is not referenced by any row yet (the sync lists only committed
    submissions); :class:`EnvelopeError` after it was deleted if the framing is wrong.
    """
    key = store.finish_resumable(upload.handle, upload.size)
    checker = FramingChecker(key_ids)
    digest = hashlib.sha256()
    try:
        with store.open(key) as blob:
            while piece := blob.read(1024 * 1024):
                checker.feed(piece)
                digest.update(piece)
        if checker.finish() != upload.size:
            raise EnvelopeError("the envelope is not the size declared")
    except BaseException:
        store.delete(key)
        raise
    return FinishedUpload(store, BlobRef(key=key, size=upload.size, sha256=digest.hexdigest()))


def expire_uploads(session: Session, store: BlobStore, now: datetime | None = None) -> int:
    """Abort the uploads past their expiry (rows, then bytes); returns how many."""
    now = now or current_hour()
    expired = list(
        session.execute(
            select(UploadSession.id_hash, UploadSession.store_handle).where(
                UploadSession.expires_hour <= now
            )
        )
    )
    if not expired:
        session.rollback()
        return 0
    session.execute(
        delete(UploadSession).where(UploadSession.id_hash.in_([row[0] for row in expired]))
    )
    session.commit()
    # After the commit: a crash in between leaves unfinished writes no row keeps, which
    # sweep_orphans removes.
    for _id, handle in expired:
        store.abort_resumable(handle)
    return len(expired)


def open_handles(session: Session) -> set[str]:
    """The store handles of every upload the database holds (spared by the sweeps)."""
    return set(session.scalars(select(UploadSession.store_handle)))
