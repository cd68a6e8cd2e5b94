"""The blob store: where envelopes rest until the officer host acknowledges them.

A small interface (``new_blob``, ``put``, ``open``, ``delete``, ``keys``) with a
local-folder implementation; an S3-compatible one plugs in behind the same methods.
A blob becomes visible under its key only once fully written and flushed to disk, so
a crash leaves either nothing or a whole envelope, never a torn one.

A resumable blob (``begin_resumable`` … ``finish_resumable``) is the same, written over
many requests: each part is durable when ``write_resumable`` returns, so the browser is
told only of bytes that survive a crash (docs/sync-api.md, "Resumable uploads"). It
stays an unfinished write, invisible, until finished; ``sweep_incoming`` spares the ones
named in ``keep`` (the uploads the database still holds open).
"""

import hashlib
import os
import secrets
import shutil
import time
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, Protocol

_INCOMING = ".incoming"
# Every part of a resumable blob is this long but the last: one S3 multipart part each.
RESUMABLE_PART_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class BlobRef:
    """A stored blob: its key, size and SHA-256 (of the ciphertext)."""

    key: str
    size: int
    sha256: str


class BlobUpload(Protocol):
    """A blob being written; committed when its ``with`` block ends without error.

    Uploads that outlive one block (an attachment sealed while a request is read,
    committed only once the whole form is valid) call :meth:`commit` or
    :meth:`discard` themselves; both are safe to call more than once.
    """

    def __enter__(self) -> "BlobUpload": ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...

    def write(self, data: bytes) -> int: ...

    def commit(self) -> BlobRef: ...

    def discard(self) -> None: ...

    @property
    def ref(self) -> BlobRef: ...


class BlobStore(Protocol):
    def new_blob(self) -> BlobUpload: ...

    def restore_blob(self, key: str) -> BlobUpload: ...

    def put(self, data: bytes) -> BlobRef: ...

    def open(self, key: str) -> BinaryIO: ...

    def delete(self, key: str) -> None: ...

    def keys(self) -> Iterator[tuple[str, float]]: ...

    def sweep_incoming(self, older_than: float, keep: Collection[str] = ()) -> int: ...

    def free_bytes(self) -> int: ...

    def begin_resumable(self) -> str: ...

    def write_resumable(self, handle: str, offset: int, pieces: Iterable[bytes]) -> int: ...

    def finish_resumable(self, handle: str, size: int) -> str: ...

    def abort_resumable(self, handle: str) -> None: ...


class _LocalUpload:
    """Bytes go to a hidden file in ``.incoming`` and are renamed into place on commit."""

    def __init__(self, store: "LocalBlobStore", key: str | None = None) -> None:
        self._store = store
        self._key = key or secrets.token_hex(16)
        self._temporary = store.root / _INCOMING / self._key
        self._hash = hashlib.sha256()
        self._size = 0
        self._ref: BlobRef | None = None
        fd = os.open(self._temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self._file = os.fdopen(fd, "wb")

    def __enter__(self) -> "_LocalUpload":
        return self

    def write(self, data: bytes) -> int:
        self._file.write(data)
        self._hash.update(data)
        self._size += len(data)
        return len(data)

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

    def commit(self) -> BlobRef:
        """Flush to disk and rename into place; the blob is visible only from here."""
        if self._ref is not None:
            return self._ref
        if self._file.closed:
            raise RuntimeError("blob discarded")
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            final = self._store.path_of(self._key)
            if not final.parent.exists():
                final.parent.mkdir(exist_ok=True, mode=0o700)
                _fsync_dir(final.parent.parent)  # the new fan-out folder's own entry
            os.replace(self._temporary, final)
            _fsync_dir(final.parent)
        except BaseException:
            self.discard()
            raise
        self._ref = BlobRef(key=self._key, size=self._size, sha256=self._hash.hexdigest())
        return self._ref

    def discard(self) -> None:
        """Forget an uncommitted write: the temporary file goes, nothing is left."""
        if self._ref is not None:
            return
        self._file.close()
        self._temporary.unlink(missing_ok=True)

    @property
    def ref(self) -> BlobRef:
        if self._ref is None:
            raise RuntimeError("blob not committed")
        return self._ref


class LocalBlobStore:
    """Blobs as files under one folder, named by random keys, fanned out by prefix."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        (self.root / _INCOMING).mkdir(parents=True, exist_ok=True, mode=0o700)

    def path_of(self, key: str) -> Path:
        if len(key) != 32 or not all(c in "0123456789abcdef" for c in key):
            raise KeyError(key)
        return self.root / key[:2] / key

    def new_blob(self) -> BlobUpload:
        """Start writing a blob; use it as a context manager."""
        return _LocalUpload(self)

    def restore_blob(self, key: str) -> BlobUpload:
        """Write a blob under the key a backup recorded (restore only: rows name it)."""
        self.path_of(key)
        return _LocalUpload(self, key)

    def put(self, data: bytes) -> BlobRef:
        """Store a whole blob held in memory."""
        with self.new_blob() as upload:
            upload.write(data)
        return upload.ref

    def open(self, key: str) -> BinaryIO:
        return self.path_of(key).open("rb")

    def delete(self, key: str) -> None:
        self.path_of(key).unlink(missing_ok=True)

    def keys(self) -> Iterator[tuple[str, float]]:
        """Every stored key with its modification time, for the orphan sweep."""
        for prefix in self.root.iterdir():
            if prefix.name == _INCOMING or not prefix.is_dir():
                continue
            for path in prefix.iterdir():
                yield path.name, path.stat().st_mtime

    def free_bytes(self) -> int:
        """Space left for blobs, as an unprivileged process may use it."""
        return shutil.disk_usage(self.root).free

    def incoming(self) -> list[Path]:
        """Unfinished writes, for tests and the operator: empty when the host is idle."""
        return sorted((self.root / _INCOMING).iterdir())

    def sweep_incoming(self, older_than: float, keep: Collection[str] = ()) -> int:
        """Remove unfinished writes (a crashed worker's) older than ``older_than`` seconds,
        but the resumable ones whose handle is in ``keep``."""
        removed = 0
        cutoff = time.time() - older_than
        for path in (self.root / _INCOMING).iterdir():
            if path.name not in keep and path.stat().st_mtime <= cutoff:
                path.unlink(missing_ok=True)
                removed += 1
        return removed

    # --- Resumable blobs: one file in .incoming, written at offsets, renamed at the end.

    def _resumable_path(self, handle: str) -> Path:
        self.path_of(handle)  # the same shape as a key: 32 hex digits
        return self.root / _INCOMING / handle

    def begin_resumable(self) -> str:
        """Start a blob written over many requests; returns its handle."""
        handle = secrets.token_hex(16)
        fd = os.open(self._resumable_path(handle), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.fsync(fd)
        os.close(fd)
        _fsync_dir(self.root / _INCOMING)
        return handle

    def write_resumable(self, handle: str, offset: int, pieces: Iterable[bytes]) -> int:
        """Write ``pieces`` from ``offset`` on, dropping whatever lay past it (a part cut
        mid-way); on disk when this returns. Returns the bytes written."""
        fd = os.open(self._resumable_path(handle), os.O_WRONLY)
        start = offset
        try:
            os.ftruncate(fd, offset)
            for piece in pieces:
                view = memoryview(piece)
                while view:
                    written = os.pwrite(fd, view, offset)
                    offset += written
                    view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        return offset - start

    def finish_resumable(self, handle: str, size: int) -> str:
        """Make the blob visible under its key (the handle), cut to ``size`` bytes."""
        path = self._resumable_path(handle)
        fd = os.open(path, os.O_WRONLY)
        try:
            os.ftruncate(fd, size)
            os.fsync(fd)
        finally:
            os.close(fd)
        # Its age counts from now for the orphan sweep's grace, not from its last part.
        os.utime(path)
        final = self.path_of(handle)
        if not final.parent.exists():
            final.parent.mkdir(exist_ok=True, mode=0o700)
            _fsync_dir(final.parent.parent)
        os.replace(path, final)
        _fsync_dir(final.parent)
        return handle

    def abort_resumable(self, handle: str) -> None:
        """Forget an unfinished resumable blob; nothing of it is left."""
        self._resumable_path(handle).unlink(missing_ok=True)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
