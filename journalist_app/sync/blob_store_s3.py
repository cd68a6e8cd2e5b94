"""The officer host's blobs in an S3-compatible bucket (``IBLAGH_BLOB_URL=s3://bucket/prefix``).

Objects are named ``<prefix>`` + the same relative path the local store uses
(``blobs/<submission id>/<name>``), so the database does not change with the store and
a folder moves into a bucket with a plain copy. A blob is a multipart upload holding one
part in memory; it appears only when the upload completes, which the object store
acknowledges once durable: the same guarantee as the local store's fsync and rename,
given before the row is committed and before the public host is told to delete its copy.
Server-side encryption is off unless asked for: the blobs are envelopes already.
"""

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, BinaryIO, cast
from urllib.parse import urlsplit

from crypto.sync_api import is_id
from journalist_app.config import OfficerConfig
from journalist_app.sync.blob_store import BlobStore, LocalBlobStore, relative_path

# S3's smallest part but the last is 5 MiB.
DEFAULT_PART_SIZE = 8 * 1024 * 1024
# An unfinished upload younger than this may belong to a live sync (CLI beside the web
# app); it stays, invisible, until a later run.
INCOMPLETE_GRACE = timedelta(hours=1)


@dataclass(frozen=True)
class S3Location:
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
            retries={"max_attempts": 5, "mode": "standard"}, s3={"addressing_style": "path"}
        ),
    )


class _PartWriter:
    """Sends a part each time ``part_size`` bytes have come; remembers what it sent."""

    def __init__(self, store: "S3BlobStore", key: str) -> None:
        self._store = store
        self._key = key
        self._buffer = bytearray()
        self.upload_id: str | None = None
        self.parts: list[dict[str, Any]] = []

    def write(self, data: bytes, /) -> int:
        rest = memoryview(data)
        while rest:
            room = self._store.part_size - len(self._buffer)
            self._buffer += rest[:room]
            rest = rest[room:]
            if len(self._buffer) == self._store.part_size:
                part, self._buffer = bytes(self._buffer), bytearray()
                self._send(part)
        return len(data)

    def _send(self, part: bytes) -> None:
        store = self._store
        if self.upload_id is None:
            started = store.client.create_multipart_upload(
                Bucket=store.location.bucket, Key=self._key, **store.sse_args
            )
            self.upload_id = started["UploadId"]
        number = len(self.parts) + 1
        sent = store.client.upload_part(
            Bucket=store.location.bucket,
            Key=self._key,
            UploadId=self.upload_id,
            PartNumber=number,
            Body=part,
        )
        self.parts.append({"ETag": sent["ETag"], "PartNumber": number})

    def complete(self) -> None:
        store = self._store
        if self.upload_id is None:
            store.client.put_object(
                Bucket=store.location.bucket,
                Key=self._key,
                Body=bytes(self._buffer),
                **store.sse_args,
            )
            return
        if self._buffer:
            self._send(bytes(self._buffer))
        store.client.complete_multipart_upload(
            Bucket=store.location.bucket,
            Key=self._key,
            UploadId=self.upload_id,
            MultipartUpload={"Parts": self.parts},
        )

    def abort(self) -> None:
        if self.upload_id is not None:
            self._store.client.abort_multipart_upload(
                Bucket=self._store.location.bucket, Key=self._key, UploadId=self.upload_id
            )


class S3BlobStore:
    """Blobs as objects ``<prefix>blobs/<submission id>/<name>`` in one bucket."""

    def __init__(
        self,
        client: Any,
        location: S3Location,
        *,
        part_size: int = DEFAULT_PART_SIZE,
        server_side_encryption: str = "",
    ) -> None:
        if part_size < 5 * 1024 * 1024:
            raise ValueError("S3 parts are at least 5 MiB")
        self.client = client
        self.location = location
        self.part_size = part_size
        self.sse_args: dict[str, str] = (
            {"ServerSideEncryption": server_side_encryption} if server_side_encryption else {}
        )

    def relative_path(self, submission_id: str, name: str) -> str:
        return relative_path(submission_id, name)

    def object_key(self, relative: str) -> str:
        """The object's key; refuses anything the local store would refuse."""
        folder, _, rest = relative.partition("/")
        submission_id, _, name = rest.partition("/")
        if folder != "blobs" or relative_path(submission_id, name) != relative:
            raise ValueError("blob path outside the blob store")
        return self.location.prefix + relative

    @contextmanager
    def writer(self, relative: str) -> Iterator[_PartWriter]:
        """A blob to fill; it exists at ``relative`` only if the block ends without error."""
        writer = _PartWriter(self, self.object_key(relative))
        try:
            yield writer
            writer.complete()
        except BaseException:
            writer.abort()
            raise

    def discard_incomplete(self, submission_id: str) -> int:
        """Abort what killed writers left for a submission (uploads over an hour old)."""
        if not is_id(submission_id):
            raise ValueError("not a submission id")
        prefix = f"{self.location.prefix}blobs/{submission_id}/"
        cutoff = datetime.now(UTC) - INCOMPLETE_GRACE
        removed = 0
        pages = self.client.get_paginator("list_multipart_uploads").paginate(
            Bucket=self.location.bucket, Prefix=prefix
        )
        for page in pages:
            for upload in page.get("Uploads", ()):
                if upload["Initiated"] <= cutoff:
                    self.client.abort_multipart_upload(
                        Bucket=self.location.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                    )
                    removed += 1
        return removed

    def open(self, relative: str) -> BinaryIO:
        """The object's bytes, streamed; a missing one raises ``FileNotFoundError``."""
        try:
            answer = self.client.get_object(
                Bucket=self.location.bucket, Key=self.object_key(relative)
            )
        except self.client.exceptions.NoSuchKey:
            raise FileNotFoundError(relative) from None
        return cast(BinaryIO, answer["Body"])

    def delete(self, relative: str) -> None:
        self.client.delete_object(Bucket=self.location.bucket, Key=self.object_key(relative))

    def free_space(self, relative: str) -> tuple[int, str]:
        """A bucket has no disk of ours to fill: the free-space guard never trips."""
        return sys.maxsize, f"s3://{self.location.bucket}/{self.location.prefix}"


def open_blob_store(config: OfficerConfig) -> BlobStore:
    """The store the configuration names: the bucket of IBLAGH_BLOB_URL, else the data dir."""
    if not config.blob_url:
        return LocalBlobStore(config.data_dir)
    return S3BlobStore(
        s3_client(config.blob_s3_endpoint, config.blob_s3_region),
        S3Location.parse(config.blob_url),
        server_side_encryption=config.blob_s3_sse,
    )
