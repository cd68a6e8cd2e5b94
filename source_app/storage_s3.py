"""The blob store on an S3-compatible object store (``IBLAGH_BLOB_URL=s3://bucket/prefix``).

The same interface as :class:`source_app.storage.LocalBlobStore`, for replicas that
share one bucket. A blob is written as a multipart upload with one part in memory at a
time, so an upload of any size holds at most ``part_size`` bytes; the object appears
under its key only when the upload completes, as the local store's rename does. The
object store acknowledges a completed upload once it is durable, which is what the
local store's fsync gives: the caller commits the row only after :meth:`commit`
returns (docs/invariants.md, 4). An upload abandoned by a dead worker stays an
unfinished multipart upload, invisible, until :meth:`S3BlobStore.sweep_incoming`
aborts it.

Server-side encryption is off unless asked for: the blobs are already envelopes.
"""

import contextlib
import hashlib
import secrets
import sys
import time
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any, BinaryIO, cast
from urllib.parse import urlsplit

from source_app.config import SourceConfig
from source_app.storage import (
    RESUMABLE_PART_BYTES,
    BlobRef,
    BlobStore,
    BlobUpload,
    LocalBlobStore,
)

# S3's smallest part but the last; 8 MiB keeps requests few and memory bounded.
DEFAULT_PART_SIZE = 8 * 1024 * 1024
_MIN_PART_SIZE = 5 * 1024 * 1024


@dataclass(frozen=True)
class S3Location:
    """Where blobs live: a bucket and a key prefix (empty, or ending in ``/``)."""

    bucket: str
    prefix: str

    @classmethod
    def parse(cls, url: str) -> "S3Location":
        """``s3://bucket/some/prefix`` → bucket ``bucket``, prefix ``some/prefix/``."""
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc or parts.query or parts.fragment:
            raise ValueError("expected s3://bucket or s3://bucket/prefix")
        prefix = parts.path.strip("/")
        return cls(bucket=parts.netloc, prefix=f"{prefix}/" if prefix else "")


def s3_client(endpoint_url: str | None, region: str | None) -> Any:
    """A boto3 S3 client; credentials come from boto3's usual chain (AWS_* variables)."""
    import boto3  # only hosts configured for S3 pay for the import
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=endpoint_url or None,
        region_name=region or None,
        config=Config(
            retries={"max_attempts": 5, "mode": "standard"},
            # Path-style: MinIO, Ceph and other self-hosted stores expect it.
            s3={"addressing_style": "path"},
        ),
    )


class _S3Upload:
    """Parts of ``part_size`` go out as they fill; the object exists only after commit."""

    def __init__(self, store: "S3BlobStore", key: str | None = None) -> None:
        self._store = store
        self._key = key or secrets.token_hex(16)
        self._hash = hashlib.sha256()
        self._size = 0
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []
        self._ref: BlobRef | None = None
        self._discarded = False

    def __enter__(self) -> "_S3Upload":
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc_type is not None:
            self.discard()
            return
        self.commit()

    def write(self, data: bytes) -> int:
        if self._discarded or self._ref is not None:
            raise RuntimeError("blob already committed or discarded")
        self._hash.update(data)
        self._size += len(data)
        rest = memoryview(data)
        try:
            while rest:
                room = self._store.part_size - len(self._buffer)
                self._buffer += rest[:room]
                rest = rest[room:]
                if len(self._buffer) == self._store.part_size:
                    # A fresh buffer per part: never one that grows and is trimmed.
                    part, self._buffer = bytes(self._buffer), bytearray()
                    self._send_part(part)
                    del part
        except BaseException:
            self.discard()
            raise
        return len(data)

    def _send_part(self, part: bytes) -> None:
        store = self._store
        if self._upload_id is None:
            started = store.client.create_multipart_upload(
                Bucket=store.location.bucket, Key=store.object_key(self._key), **store.sse_args
            )
            self._upload_id = started["UploadId"]
        number = len(self._parts) + 1
        sent = store.client.upload_part(
            Bucket=store.location.bucket,
            Key=store.object_key(self._key),
            UploadId=self._upload_id,
            PartNumber=number,
            Body=part,
        )
        self._parts.append({"ETag": sent["ETag"], "PartNumber": number})

    def commit(self) -> BlobRef:
        """Send what is left and complete the upload; the blob is visible only from here."""
        if self._ref is not None:
            return self._ref
        if self._discarded:
            raise RuntimeError("blob discarded")
        store = self._store
        try:
            if self._upload_id is None:
                # Small blobs (most reports) in one request.
                store.client.put_object(
                    Bucket=store.location.bucket,
                    Key=store.object_key(self._key),
                    Body=bytes(self._buffer),
                    **store.sse_args,
                )
            else:
                if self._buffer or not self._parts:
                    self._send_part(bytes(self._buffer))
                store.client.complete_multipart_upload(
                    Bucket=store.location.bucket,
                    Key=store.object_key(self._key),
                    UploadId=self._upload_id,
                    MultipartUpload={"Parts": self._parts},
                )
        except BaseException:
            self.discard()
            raise
        self._buffer = bytearray()
        self._ref = BlobRef(key=self._key, size=self._size, sha256=self._hash.hexdigest())
        return self._ref

    def discard(self) -> None:
        """Forget an uncommitted write: the multipart upload is aborted, nothing is left."""
        if self._ref is not None or self._discarded:
            return
        self._discarded = True
        self._buffer = bytearray()
        if self._upload_id is not None:
            store = self._store
            store.client.abort_multipart_upload(
                Bucket=store.location.bucket,
                Key=store.object_key(self._key),
                UploadId=self._upload_id,
            )

    @property
    def ref(self) -> BlobRef:
        if self._ref is None:
            raise RuntimeError("blob not committed")
        return self._ref


class S3BlobStore:
    """Blobs as objects ``<prefix><key>`` in one bucket, named by random keys."""

    def __init__(
        self,
        client: Any,
        location: S3Location,
        *,
        part_size: int = DEFAULT_PART_SIZE,
        server_side_encryption: str = "",
    ) -> None:
        if part_size < _MIN_PART_SIZE:
            raise ValueError("S3 parts are at least 5 MiB")
        self.client = client
        self.location = location
        self.part_size = part_size
        self.sse_args: dict[str, str] = (
            {"ServerSideEncryption": server_side_encryption} if server_side_encryption else {}
        )

    def object_key(self, key: str) -> str:
        if len(key) != 32 or not all(c in "0123456789abcdef" for c in key):
            raise KeyError(key)
        return self.location.prefix + key

    def new_blob(self) -> BlobUpload:
        """Start writing a blob; use it as a context manager."""
        return _S3Upload(self)

    def restore_blob(self, key: str) -> BlobUpload:
        """Write a blob under the key a backup recorded (restore only: rows name it)."""
        self.object_key(key)
        return _S3Upload(self, key)

    def put(self, data: bytes) -> BlobRef:
        """Store a whole blob held in memory."""
        with self.new_blob() as upload:
            upload.write(data)
        return upload.ref

    def open(self, key: str) -> BinaryIO:
        """The object's bytes, streamed; a missing key raises ``FileNotFoundError``."""
        try:
            answer = self.client.get_object(Bucket=self.location.bucket, Key=self.object_key(key))
        except self.client.exceptions.NoSuchKey:
            raise FileNotFoundError(key) from None
        return cast(BinaryIO, answer["Body"])

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.location.bucket, Key=self.object_key(key))

    def keys(self) -> Iterator[tuple[str, float]]:
        """Every stored key with its modification time, for the orphan sweep."""
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.location.bucket, Prefix=self.location.prefix
        )
        for page in pages:
            for item in page.get("Contents", ()):
                key = item["Key"][len(self.location.prefix) :]
                if len(key) == 32 and "/" not in key:
                    yield key, item["LastModified"].timestamp()

    def incoming(self) -> list[str]:
        """Unfinished uploads' keys, for tests and the operator: empty when idle."""
        return [key for key, _started in self._unfinished()]

    def _unfinished(self) -> Iterator[tuple[str, dict[str, Any]]]:
        pages = self.client.get_paginator("list_multipart_uploads").paginate(
            Bucket=self.location.bucket, Prefix=self.location.prefix
        )
        for page in pages:
            for upload in page.get("Uploads", ()):
                yield upload["Key"], upload

    def sweep_incoming(self, older_than: float, keep: Collection[str] = ()) -> int:
        """Abort unfinished uploads (a crashed worker's) started over ``older_than`` s ago,
        but the resumable ones whose handle is in ``keep``."""
        cutoff = time.time() - older_than
        kept = {_split_handle(handle)[1] for handle in keep}
        removed = 0
        for key, upload in list(self._unfinished()):
            if upload["UploadId"] not in kept and upload["Initiated"].timestamp() <= cutoff:
                self.client.abort_multipart_upload(
                    Bucket=self.location.bucket, Key=key, UploadId=upload["UploadId"]
                )
                removed += 1
        return removed

    def free_bytes(self) -> int:
        """An object store has no disk of ours to fill: the free-space guard never trips."""
        return sys.maxsize

    # --- Resumable blobs: a multipart upload kept open across requests, one part per
    # RESUMABLE_PART_BYTES of the blob, completed at the end.

    def begin_resumable(self) -> str:
        """Start a blob written over many requests; returns its handle (key:upload id)."""
        key = secrets.token_hex(16)
        started = self.client.create_multipart_upload(
            Bucket=self.location.bucket, Key=self.object_key(key), **self.sse_args
        )
        return f"{key}:{started['UploadId']}"

    def write_resumable(self, handle: str, offset: int, pieces: Iterable[bytes]) -> int:
        """Send the part that starts at ``offset`` (again, if a cut left it unacknowledged);
        the store acknowledges it once durable. Returns the bytes sent."""
        key, upload_id = _split_handle(handle)
        # One part in memory: S3 takes a part whole (and its length first).
        data = b"".join(pieces)
        if offset % RESUMABLE_PART_BYTES or len(data) > RESUMABLE_PART_BYTES:
            raise ValueError("a resumable part starts at a part boundary")
        self.client.upload_part(
            Bucket=self.location.bucket,
            Key=self.object_key(key),
            UploadId=upload_id,
            PartNumber=offset // RESUMABLE_PART_BYTES + 1,
            Body=data,
        )
        return len(data)

    def finish_resumable(self, handle: str, size: int) -> str:
        """Complete the upload from its first ``size`` bytes; the blob is visible from here."""
        key, upload_id = _split_handle(handle)
        wanted = max(1, -(-size // RESUMABLE_PART_BYTES))
        parts: dict[int, str] = {}
        pages = self.client.get_paginator("list_parts").paginate(
            Bucket=self.location.bucket, Key=self.object_key(key), UploadId=upload_id
        )
        for page in pages:
            for part in page.get("Parts", ()):
                parts[part["PartNumber"]] = part["ETag"]
        if any(number not in parts for number in range(1, wanted + 1)):
            raise FileNotFoundError(f"{key}: a part is missing")
        self.client.complete_multipart_upload(
            Bucket=self.location.bucket,
            Key=self.object_key(key),
            UploadId=upload_id,
            MultipartUpload={
                "Parts": [{"ETag": parts[n], "PartNumber": n} for n in range(1, wanted + 1)]
            },
        )
        return key

    def abort_resumable(self, handle: str) -> None:
        """Forget an unfinished resumable blob: its upload is aborted, nothing is left."""
        key, upload_id = _split_handle(handle)
        with contextlib.suppress(self.client.exceptions.NoSuchUpload):
            self.client.abort_multipart_upload(
                Bucket=self.location.bucket, Key=self.object_key(key), UploadId=upload_id
            )


def _split_handle(handle: str) -> tuple[str, str]:
    key, _, upload_id = handle.partition(":")
    if not upload_id:
        raise KeyError(handle)
    return key, upload_id


def open_blob_store(config: SourceConfig) -> BlobStore:
    """The store the configuration names: the bucket of IBLAGH_BLOB_URL, else the folder."""
    if not config.blob_url:
        return LocalBlobStore(config.blob_dir)
    return S3BlobStore(
        s3_client(config.blob_s3_endpoint, config.blob_s3_region),
        S3Location.parse(config.blob_url),
        server_side_encryption=config.blob_s3_sse,
    )
