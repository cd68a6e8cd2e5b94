"""Taking a report the reporter's browser already sealed (docs/sync-api.md, "Browser path").

The host never sees a plaintext byte or the receipt code: it receives envelopes, the
reporter's X25519 public key and the lookup value. It checks what it can without a key
(crypto/envelope_framing.py: framing, and that every stanza names exactly the recipient
set, in the order the server path writes it), then stores and commits exactly as the
server path does (source_app/services/submission.py), so the officer host cannot tell
the two apart. It stores SHA-256("iblagh-lookup/2" || lookup value), never the value.

Wire form of the request body (``application/octet-stream``)::

    u32be manifest_length || manifest (UTF-8 JSON) || the envelopes, in manifest order
    manifest = {"lookup_value": base64(32 bytes), "reporter_public_key": base64(32 bytes),
                "parts": [["body", size], ["identity", size]?, ["attachment-1", size], ...]}

An attachment part may name a resumable upload instead (``["attachment-1", size,
"<upload id>"]``, source_app/services/resumable_uploads.py): its envelope is then not in
the body but already in the blob store, and joins the report in the report's commit.
"""

import json
import secrets
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import IO, Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crypto.contents import AttachmentRecord
from crypto.encoding import b64decode
from crypto.envelope import CHUNK_SIZE
from crypto.envelope_framing import FramingChecker
from crypto.errors import CryptoError, EnvelopeError
from crypto.keys import key_id
from crypto.receipt import lookup_hash
from crypto.recipients import RecipientSet
from source_app.models import Reply, Reporter, Submission
from source_app.services.clock import current_hour
from source_app.services.resumable_uploads import (
    ClaimedUpload,
    FinishedUpload,
    forget_in_transaction,
)
from source_app.services.status import find_reporter_by_lookup_value
from source_app.services.submission import _store_submission, attachment_blob_name
from source_app.storage import BlobRef, BlobStore, BlobUpload

MAX_MANIFEST_BYTES: Final = 16 * 1024
# A body or identity envelope is a small JSON document; files go as attachments.
MAX_DOCUMENT_ENVELOPE_BYTES: Final = 1024 * 1024
_U32 = struct.Struct(">I")


class SealedSubmissionError(ValueError):
    """The request is not a well-formed browser-sealed report: nothing was kept."""


@dataclass(frozen=True)
class SealedManifest:
    """What precedes the envelopes in the request body."""

    lookup_value: bytes
    reporter_public_key: bytes
    parts: tuple[tuple[str, int], ...]
    encoded_bytes: int = 0  # the length prefix and the manifest, as read
    uploads: tuple[tuple[str, str], ...] = ()  # (part name, upload id) sent apart

    @property
    def attachment_count(self) -> int:
        return sum(1 for name, _size in self.parts if name.startswith("attachment-"))

    @property
    def body_length(self) -> int:
        """The whole request body's length this manifest announces."""
        apart = {name for name, _id in self.uploads}
        return self.encoded_bytes + sum(size for name, size in self.parts if name not in apart)

    def upload_sizes(self) -> list[tuple[str, int]]:
        """(upload id, declared size) of each part sent as a resumable upload."""
        sizes = dict(self.parts)
        return [(upload_id, sizes[name]) for name, upload_id in self.uploads]


def parse_manifest(raw: bytes, max_attachments: int) -> SealedManifest:
    """Parse and check the manifest; :class:`SealedSubmissionError` if it is not valid."""
    try:
        document = json.loads(raw.decode("utf-8"))
        lookup_value = b64decode(document["lookup_value"], length=32)
        public_key = b64decode(document["reporter_public_key"], length=32)
        parts = tuple((str(part[0]), part[1]) for part in document["parts"])
        uploads = tuple((str(part[0]), part[2]) for part in document["parts"] if len(part) == 3)
        if any(len(part) not in (2, 3) for part in document["parts"]):
            raise ValueError("a part is [name, size] or [name, size, upload id]")
        if any(not isinstance(upload_id, str) or len(upload_id) > 64 for _n, upload_id in uploads):
            raise ValueError("an upload id is a short string")
    except (ValueError, UnicodeDecodeError, KeyError, TypeError, CryptoError) as exc:
        raise SealedSubmissionError("the manifest is not valid") from exc
    names = [name for name, _size in parts]
    with_identity = names[1:2] == ["identity"]
    attachments = names[2:] if with_identity else names[1:]
    expected = [attachment_blob_name(n) for n in range(1, len(attachments) + 1)]
    if names[:1] != ["body"] or attachments != expected or len(attachments) > max_attachments:
        raise SealedSubmissionError("the parts are not body, identity?, attachment-1…N")
    for _name, size in parts:
        if not isinstance(size, int) or isinstance(size, bool) or size < 1:
            raise SealedSubmissionError("a part size is not a positive integer")
    for name, size in parts[: 2 if with_identity else 1]:
        if size > MAX_DOCUMENT_ENVELOPE_BYTES:
            raise SealedSubmissionError(f"the {name} envelope is too large")
    if any(not name.startswith("attachment-") for name, _id in uploads) or len(
        {upload_id for _n, upload_id in uploads}
    ) != len(uploads):
        raise SealedSubmissionError("only attachments go apart, each in its own upload")
    return SealedManifest(lookup_value, public_key, parts, uploads=uploads)


def read_manifest(stream: IO[bytes], max_attachments: int) -> SealedManifest:
    """Read the length-prefixed manifest at the start of the body."""
    prefix = _read_exactly(stream, 4)
    (length,) = _U32.unpack(prefix)
    if not 1 <= length <= MAX_MANIFEST_BYTES:
        raise SealedSubmissionError("the manifest length is not valid")
    manifest = parse_manifest(_read_exactly(stream, length), max_attachments)
    return replace(manifest, encoded_bytes=4 + length)


def _read_exactly(stream: IO[bytes], size: int) -> bytes:
    data = stream.read(size)
    if len(data) != size:
        raise SealedSubmissionError("the request ended early")
    return data


class _CheckedUpload:
    """An attachment envelope streamed into an uncommitted blob, framing checked."""

    def __init__(self, upload: BlobUpload | FinishedUpload) -> None:
        self.upload = upload

    def commit(self) -> BlobRef:
        return self.upload.commit()

    def discard(self) -> None:
        self.upload.discard()

    def finish(self, blob_name: str) -> AttachmentRecord:
        # The browser sealed it and listed it in the body: the host has nothing to add.
        raise SealedSubmissionError("a browser-sealed attachment is already finished")


def _copy_checked(
    stream: IO[bytes], size: int, checker: FramingChecker, sink: BlobUpload | bytearray
) -> None:
    remaining = size
    while remaining:
        piece = stream.read(min(CHUNK_SIZE, remaining))
        if not piece:
            raise SealedSubmissionError("the request ended early")
        remaining -= len(piece)
        checker.feed(piece)
        if isinstance(sink, bytearray):
            sink.extend(piece)
        else:
            sink.write(piece)
    checker.finish()


def submit_sealed_report(
    session: Session,
    store: BlobStore,
    recipients: RecipientSet,
    manifest: SealedManifest,
    stream: IO[bytes],
    uploaded: Mapping[str, FinishedUpload] | None = None,
    claimed: Sequence[ClaimedUpload] = (),
) -> str:
    """Check, store and commit a browser-sealed report; returns the submission id.

    Raises :class:`SealedSubmissionError` (with nothing kept) when an envelope's framing
    or stanzas are not what an honest browser writes to this recipient set. The parts
    sent as resumable uploads come ``uploaded`` (already finished and checked); their
    ``claimed`` rows are deleted in the commit that stores the report.
    """
    uploaded = uploaded or {}
    report_ids = [key_id(bytes(k)) for k in recipients.public_keys()]
    identity_ids = [key_id(bytes(k)) for k in recipients.identity_public_keys()]
    documents: dict[str, bytes] = {}
    attachments: list[_CheckedUpload] = []
    try:
        for name, size in manifest.parts:
            checker = FramingChecker(identity_ids if name == "identity" else report_ids)
            if name in uploaded:
                attachments.append(_CheckedUpload(uploaded[name]))
            elif name in ("body", "identity"):
                buffer = bytearray()
                _copy_checked(stream, size, checker, buffer)
                documents[name] = bytes(buffer)
            else:
                upload = store.new_blob()
                attachments.append(_CheckedUpload(upload))
                _copy_checked(stream, size, checker, upload)
        if stream.read(1):
            raise SealedSubmissionError("data after the last envelope")
    except EnvelopeError as exc:
        _discard(attachments)
        raise SealedSubmissionError(str(exc)) from exc
    except BaseException:
        _discard(attachments)
        raise
    forget_in_transaction(session, claimed)
    reporter = Reporter(
        id=secrets.token_hex(16),
        lookup_hash=lookup_hash(manifest.lookup_value),
        public_key=manifest.reporter_public_key,
        created_hour=current_hour(),
    )
    submission = _store_submission(
        session, store, reporter, "report", documents, attachments, new_reporter=True
    )
    return submission.id


def already_committed(session: Session, lookup_value: bytes) -> bool:
    """Whether a report with this lookup value is stored: the same request sent again.

    Only the browser that drew the code knows the lookup value, and the reporter's row
    is committed with the report, so a yes means this report is safely stored: the page,
    whose first POST lost its answer to a cut, may show the code (invariant 4).
    """
    found = session.scalar(
        select(Reporter.id).where(Reporter.lookup_hash == lookup_hash(lookup_value))
    )
    session.rollback()
    return found is not None


def _discard(attachments: Sequence[_CheckedUpload]) -> None:
    for attachment in attachments:
        attachment.discard()


@dataclass(frozen=True)
class SealedStatus:
    """What the status page's script needs: the replies as stored, still sealed."""

    awaiting_pickup: int
    replies: tuple[tuple[str, bytes], ...]  # (received hour, ISO 8601; the envelope)


def read_sealed_status(session: Session, store: BlobStore, lookup_value: bytes) -> SealedStatus:
    """The replies of the reporter ``lookup_value`` finds, unopened; UnknownCode if none.

    The host never derives or sees the reporter's key here: the page opens the replies
    with the key it derived from the typed code (source_app/static/js/status_page.js).
    """
    reporter = find_reporter_by_lookup_value(session, lookup_value)
    awaiting = session.scalar(
        select(func.count()).select_from(Submission).where(Submission.reporter_id == reporter.id)
    )
    replies = []
    for reply in session.scalars(
        select(Reply).where(Reply.reporter_id == reporter.id).order_by(Reply.seq)
    ):
        with store.open(reply.blob_key) as blob:
            replies.append((reply.received_hour.strftime("%Y-%m-%dT%H:00:00Z"), blob.read()))
    return SealedStatus(awaiting_pickup=awaiting or 0, replies=tuple(replies))
