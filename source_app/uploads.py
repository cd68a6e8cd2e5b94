"""Attachments sealed while the request is read: no plaintext byte reaches the disk.

Werkzeug's multipart parser asks the request for a writable per file part
(``Request._get_file_stream``) and would spool anything over 500 KB to a temporary
file. Here each file part gets a :class:`SealingFile`: its first 64 KiB are held in
memory to sniff the type, then every byte goes through ``crypto.envelope.
EnvelopeWriter`` into a blob upload in the store's ``.incoming`` folder. Memory stays
at about one envelope chunk per file whatever its size.

Nothing is final while the request is read. Text fields may come after the files, and
the form may turn out invalid, so a sealed attachment waits, uncommitted, until the
view has validated everything and the submission service commits it with the rest
(source_app/services/submission.py). Any other ending — an invalid form, a refused
CSRF token, a client that disconnects, a body shorter than its Content-Length, a limit
crossed — discards every upload of the request in :meth:`NoDiskRequest.close`, which
Flask calls at the end of every request.
"""

import errno
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any, BinaryIO, Final
from urllib.parse import parse_qsl

from flask import Request, current_app, request
from nacl.public import PublicKey
from werkzeug.datastructures import FileStorage, Headers, MultiDict, iter_multi_items
from werkzeug.exceptions import (
    BadRequest,
    HTTPException,
    RequestEntityTooLarge,
    UnsupportedMediaType,
)
from werkzeug.formparser import FormDataParser, MultiPartParser
from werkzeug.http import parse_options_header

from crypto.contents import AttachmentRecord
from crypto.envelope import EnvelopeMetadata, EnvelopeWriter
from source_app.attachments import (
    SNIFF_BYTES,
    numbered_file_name,
    sanitise_file_name,
    sniff_media_type,
)
from source_app.host import current_host
from source_app.storage import BlobRef, BlobStore, BlobUpload

ATTACHMENT_FIELD: Final = "attachments"
# Set by source_app/admission.py on a form POST without a session: read, seal no file.
SEAL_NO_FILE: Final = "iblagh.seal_no_file"
# A box sent before the files: name them attachment-1.jpg… (source_app/forms.py).
RENAME_FILES_FIELD: Final = "rename_files"
# Room for the text fields and multipart framing around the files.
FORM_OVERHEAD_BYTES: Final = 2 * 1024 * 1024
# How often a long upload re-checks the free space (bytes written between checks).
FREE_SPACE_CHECK_BYTES: Final = 32 * 1024 * 1024
# Bytes read from the request body at a time while parsing a form (StreamingFormParser).
READ_BYTES: Final = 512 * 1024
MIN_READ_BYTES: Final = 64 * 1024


class TooManyAttachments(RequestEntityTooLarge):
    """More files than one submission may carry."""


class UploadsTooLarge(RequestEntityTooLarge):
    """The files together exceed the upload limit."""


class LowDiskSpace(HTTPException):
    """The blob store is under its free-space watermark: files are refused for now."""

    code = 507
    description = "Insufficient storage"


@dataclass
class UploadPolicy:
    """What one request may upload; shared by all its file parts."""

    store: BlobStore
    recipients: Sequence[PublicKey]
    max_files: int
    max_bytes: int
    min_free_bytes: int
    files: int = 0
    received: int = 0
    since_space_check: int = 0
    # A limit crossed: the rest of the body is still read (so that the text fields after
    # the files reach the form sent back, issue 10, item 11), but no byte more is sealed.
    refusal: RequestEntityTooLarge | LowDiskSpace | None = None
    # A POST without a session (source_app/admission.py): its form comes back with its
    # answers, but none of its files is sealed; ``dropped`` counts what was not kept.
    seal_nothing: bool = False
    dropped: int = 0

    def charge(self, size: int, first: bool) -> None:
        """Count bytes (and a new file on its first bytes) against the limits."""
        if first:
            self.files += 1
            if self.files > self.max_files:
                raise TooManyAttachments()
        self.received += size
        if self.received > self.max_bytes:
            raise UploadsTooLarge()
        self.since_space_check += size
        if first or self.since_space_check >= FREE_SPACE_CHECK_BYTES:
            self.since_space_check = 0
            if self.store.free_bytes() < self.min_free_bytes:
                raise LowDiskSpace()


class SealingFile:
    """The writable Werkzeug fills with one file part; it writes only ciphertext."""

    def __init__(
        self, policy: UploadPolicy, raw_file_name: str | None, number: int | None = None
    ) -> None:
        # ``number``: the reporter asked not to send the file's name (issue 10, item 10).
        self.file_name = (
            sanitise_file_name(raw_file_name)
            if number is None
            else numbered_file_name(number, raw_file_name)
        )
        self.content_type = ""
        self.complete = False
        self._policy = policy
        self._head = bytearray()
        self._upload: BlobUpload | None = None
        self._writer: EnvelopeWriter | None = None
        self._record: AttachmentRecord | None = None
        self._done = False

    @property
    def empty(self) -> bool:
        """No byte arrived: a file input left empty sends a part like this."""
        return self._upload is None and not self._head

    def write(self, data: bytes) -> int:
        if self._done:
            raise ValueError("write after the upload ended")
        if not data:
            return 0
        if self._policy.refusal is not None or self._policy.seal_nothing:
            self._policy.dropped += len(data)
            return len(data)
        try:
            self._policy.charge(len(data), first=self.empty)
            with _disk_full_is_507():
                if self._writer is not None:
                    self._writer.write(data)
                    return len(data)
                self._head += data
                if len(self._head) >= SNIFF_BYTES:
                    self._start()
        except (RequestEntityTooLarge, LowDiskSpace) as refusal:
            self._policy.refusal = refusal
            self._policy.dropped += len(data)
            self.discard()
            self._done = False  # the part goes on arriving; it is dropped as it comes
        return len(data)

    def _start(self) -> None:
        """Sniff the type from what is held, open the envelope and pour the head in."""
        self.content_type = sniff_media_type(bytes(self._head))
        self._upload = self._policy.store.new_blob()
        metadata = EnvelopeMetadata(
            kind="attachment", name=self.file_name, content_type=self.content_type
        )
        self._writer = EnvelopeWriter(self._upload, self._policy.recipients, metadata)
        self._writer.write(bytes(self._head))
        self._head = bytearray()

    def seek(self, offset: int, whence: int = 0) -> int:
        """Werkzeug rewinds a finished part; an envelope has nothing to rewind."""
        return 0

    def finish(self, blob_name: str) -> AttachmentRecord:
        """Seal the trailer (the part is complete); the blob stays uncommitted."""
        if self._record is not None:
            return self._record
        with _disk_full_is_507():
            if self._writer is None:
                self._start()
            assert self._writer is not None
            digest = self._writer.close()
        self._record = AttachmentRecord(
            blob=blob_name,
            name=self.file_name,
            content_type=self.content_type,
            size=digest.size,
            sha256=digest.sha256.hex(),
        )
        return self._record

    def commit(self) -> BlobRef:
        """Make the sealed blob durable and visible; only after :meth:`finish`."""
        if self._record is None or self._upload is None:
            raise RuntimeError("an attachment is committed only once finished")
        self._done = True
        with _disk_full_is_507():
            return self._upload.commit()

    def discard(self) -> None:
        """Drop whatever was written, unless committed; safe to call at any time."""
        self._done = True
        self._head = bytearray()
        if self._upload is not None:
            self._upload.discard()

    # Werkzeug closes every FileStorage at the end of the request.
    close = discard

    def read(self, _size: int = -1) -> bytes:
        return b""  # the plaintext is gone: nothing of it can be read back


class FieldNoticingParser(MultiPartParser):
    """Werkzeug's multipart parser, telling ``on_field`` the name of each text field as it
    completes: a file part can then depend on a box ticked before it in the form."""

    def __init__(self, *args: Any, on_field: Callable[[str], None], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._on_field = on_field

    def get_part_charset(self, headers: Headers) -> str:
        # Werkzeug asks this of a text field's headers once its value is complete.
        name = parse_options_header(headers.get("content-disposition"))[1].get("name")
        if name:
            self._on_field(name)
        return super().get_part_charset(headers)


class StreamingFormParser(FormDataParser):
    """Werkzeug's form parser, reading multipart bodies in pieces of up to 512 KiB.

    Its default of 64 KiB per read makes gunicorn copy the rest of its 1 MiB read-ahead
    buffer at every read: a large upload then spends more time copying than sealing.
    A piece plus what the decoder still holds must stay under ``max_form_memory_size``
    (Werkzeug checks each piece against it, file parts included), hence at most half.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Names of the text fields read so far, in the request (NoDiskRequest shares it).
        self.fields_seen: set[str] = set()

    def _parse_multipart(
        self,
        stream: IO[bytes],
        mimetype: str,
        content_length: int | None,
        options: dict[str, str],
    ) -> tuple[IO[bytes], MultiDict[str, str], MultiDict[str, FileStorage]]:
        parser = FieldNoticingParser(
            on_field=self.fields_seen.add,
            stream_factory=self.stream_factory,
            max_form_memory_size=self.max_form_memory_size,
            max_form_parts=self.max_form_parts,
            cls=self.cls,
            buffer_size=max(MIN_READ_BYTES, min(READ_BYTES, (self.max_form_memory_size or 0) // 2)),
        )
        boundary = options.get("boundary", "").encode("ascii")
        if not boundary:
            raise ValueError("Missing boundary")
        form, files = parser.parse(stream, boundary, content_length)
        # Werkzeug decodes a text part with errors="replace": bytes that are not UTF-8 would
        # reach the envelope as U+FFFD, silently changed. Refuse them instead.
        if any("\ufffd" in value for _, value in iter_multi_items(form)):
            raise BadRequest("a form field is not valid UTF-8")
        return stream, form, files

    def _parse_urlencoded(
        self,
        stream: IO[bytes],
        mimetype: str,
        content_length: int | None,
        options: dict[str, str],
    ) -> tuple[IO[bytes], MultiDict[str, str], MultiDict[str, FileStorage]]:
        # Werkzeug re-quotes undecodable bytes as "%FF" text; refuse them instead.
        try:
            text = stream.read().decode("utf-8")
            items = parse_qsl(text, keep_blank_values=True, errors="strict")
        except UnicodeDecodeError as exc:
            raise BadRequest("a form field is not valid UTF-8") from exc
        return stream, self.cls(items), self.cls()


class NoDiskRequest(Request):
    """A request that never spools an upload to disk.

    Views marked with :func:`accepts_uploads` get each file part sealed into an
    envelope as it arrives (:class:`SealingFile`); anywhere else a file part is
    refused outright (415), as is any file field other than ``attachments``.
    """

    form_data_parser_class = StreamingFormParser

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sealing_files: list[SealingFile] = []
        self._upload_policy: UploadPolicy | None = None
        self.fields_seen: set[str] = set()

    def make_form_data_parser(self) -> FormDataParser:
        parser = super().make_form_data_parser()
        if isinstance(parser, StreamingFormParser):
            parser.fields_seen = self.fields_seen
        return parser

    def _get_file_stream(
        self,
        total_content_length: int | None,
        content_type: str | None,
        filename: str | None = None,
        content_length: int | None = None,
    ) -> BinaryIO:
        # The parser does not say which field a part belongs to: parts of any other
        # field than ``attachments`` are sealed too, then refused once parsed.
        number = len(self.sealing_files) + 1 if RENAME_FILES_FIELD in self.fields_seen else None
        sink = SealingFile(self._policy(), filename, number)
        self.sealing_files.append(sink)
        return sink  # type: ignore[return-value]

    def _policy(self) -> UploadPolicy:
        if self._upload_policy is None:
            view = current_app.view_functions.get(self.endpoint or "")
            if not getattr(view, "accepts_uploads", False):
                raise UnsupportedMediaType()
            host = current_host()
            self._upload_policy = UploadPolicy(
                store=host.store,
                recipients=host.recipient_set.public_keys(),
                max_files=host.config.max_attachments,
                max_bytes=host.config.max_upload_bytes,
                min_free_bytes=host.config.min_free_bytes,
                seal_nothing=bool(self.environ.get(SEAL_NO_FILE)),
            )
        return self._upload_policy

    def dropped_upload_bytes(self) -> int:
        """File bytes read but not kept (a limit crossed, or no session)."""
        return self._upload_policy.dropped if self._upload_policy is not None else 0

    def _load_form_data(self) -> None:
        try:
            super()._load_form_data()
        except BaseException:
            self.discard_uploads()
            raise
        files = self.__dict__.get("files")
        parsed = {id(storage.stream) for _name, storage in _items(files)}
        for name, storage in _items(files):
            if name != ATTACHMENT_FIELD and isinstance(storage.stream, SealingFile):
                self.discard_uploads()
                raise BadRequest()
        for sink in self.sealing_files:
            # A part the parser never finished (truncated body, bad framing) is dropped
            # at once; Werkzeug then gives an empty form and the CSRF check refuses it.
            sink.complete = id(sink) in parsed
            if not sink.complete:
                sink.discard()

    def sealed_attachments(self) -> list[SealingFile]:
        """The complete, non-empty attachments, in the order they arrived; raises the
        413 of a limit crossed or the 507 of the free-space watermark (every upload then
        discarded, the text fields kept)."""
        self._load_form_data()
        if self._upload_policy is not None and self._upload_policy.refusal is not None:
            self.discard_uploads()
            raise self._upload_policy.refusal
        kept = []
        for sink in self.sealing_files:
            if sink.complete and not sink.empty:
                kept.append(sink)
            else:
                sink.discard()
        return kept

    def discard_uploads(self) -> None:
        for sink in self.sealing_files:
            sink.discard()

    def close(self) -> None:
        try:
            self.discard_uploads()
        finally:
            super().close()


@contextmanager
def _disk_full_is_507() -> Iterator[None]:
    """A full disk while sealing is the 507 of the watermark, not a crash."""
    try:
        yield
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise LowDiskSpace() from exc
        raise


def _items(files: Any) -> list[tuple[str, Any]]:
    return list(iter_multi_items(files)) if files else []


def accepts_uploads(view: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a view whose form may carry attachments (sealed as they arrive)."""
    view.accepts_uploads = True  # type: ignore[attr-defined]
    return view


def sealed_attachments() -> list[SealingFile]:
    """The current request's complete attachments (see :class:`NoDiskRequest`)."""
    current = request._get_current_object()  # type: ignore[attr-defined]
    if not isinstance(current, NoDiskRequest):
        raise UnsupportedMediaType()
    return current.sealed_attachments()


def dropped_upload_bytes() -> int:
    """The current request's file bytes read but not kept (see :class:`UploadPolicy`)."""
    current = request._get_current_object()  # type: ignore[attr-defined]
    return current.dropped_upload_bytes() if isinstance(current, NoDiskRequest) else 0
