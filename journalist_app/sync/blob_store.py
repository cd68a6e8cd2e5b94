"""Ciphertext files on the officer host, written so that a crash never leaves half a blob.

Paths are relative to the data dir and are built here from validated ids and names
only, never from raw input. The database records these relative paths whichever store
holds the bytes: the local folder here, or an S3-compatible bucket
(:mod:`journalist_app.sync.blob_store_s3`), both behind :class:`BlobStore`.
"""

import fcntl
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import BinaryIO, Protocol

from crypto.sync_api import is_blob_name, is_id

# A blob being written; its writer holds an exclusive flock on it until it is renamed.
INCOMPLETE_PREFIX = ".incoming-"


class BlobWriter(Protocol):
    def write(self, data: bytes, /) -> int: ...


class BlobStore(Protocol):
    """What the officer host needs of a blob store; a blob is whole once its writer ends."""

    def relative_path(self, submission_id: str, name: str) -> str: ...

    def writer(self, relative: str) -> AbstractContextManager[BlobWriter]: ...

    def discard_incomplete(self, submission_id: str) -> int: ...

    def open(self, relative: str) -> BinaryIO: ...

    def delete(self, relative: str) -> None: ...

    def free_space(self, relative: str) -> tuple[int, str]:
        """Bytes that may still be written where ``relative`` goes, and where that is."""
        ...


def relative_path(submission_id: str, name: str) -> str:
    """Where a blob lives, relative to the data dir; refuses anything but a known shape."""
    # The contract's grammar (crypto/sync_api.py), the same the public host serves.
    if not is_id(submission_id) or not is_blob_name(name):
        raise ValueError("not a submission id and blob name")
    return f"blobs/{submission_id}/{name}"


class LocalBlobStore:
    """Blobs under ``data_dir/blobs/<submission id>/<name>``."""

    def __init__(self, data_dir: Path) -> None:
        self._data_dir = data_dir

    def relative_path(self, submission_id: str, name: str) -> str:
        return relative_path(submission_id, name)

    def free_space(self, relative: str) -> tuple[int, str]:
        folder = self.absolute(relative).parent
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent
        return shutil.disk_usage(folder).free, str(folder)

    def absolute(self, relative: str) -> Path:
        path = (self._data_dir / relative).resolve()
        if not path.is_relative_to((self._data_dir / "blobs").resolve()):
            raise ValueError("blob path outside the blob store")
        return path

    @contextmanager
    def writer(self, relative: str) -> Iterator[BinaryIO]:
        """A file to fill; it appears at ``relative`` only if the block ends without error.

        Temp file, fsync, rename, fsync of the folder: once this returns, the blob
        survives a power cut, which is what allows acknowledging it.
        """
        path = self.absolute(relative)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        handle, temporary = _locked_temporary(path.parent)
        try:
            with handle:
                yield handle
                handle.flush()
                os.fsync(handle.fileno())
                # Renamed while still locked: a sweep never takes it for a dead writer's.
                os.replace(temporary, path)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        _fsync_directory(path.parent)
        _fsync_directory(path.parent.parent)

    def discard_incomplete(self, submission_id: str) -> int:
        """Remove what killed writers left in a submission's folder; returns how many.

        A process killed while writing a blob (SIGKILL, power cut) leaves its temporary
        file behind. A writer holds an exclusive ``flock`` on its file until the rename,
        and the kernel drops it when the process dies: a file whose lock can be taken
        has no live writer. A live one (another sync storing the same submission) is
        left alone.
        """
        if not is_id(submission_id):
            raise ValueError("not a submission id")
        folder = self.absolute(f"blobs/{submission_id}")
        try:
            candidates = [p for p in folder.iterdir() if p.name.startswith(INCOMPLETE_PREFIX)]
        except (FileNotFoundError, NotADirectoryError):
            return 0
        removed = 0
        for candidate in candidates:
            try:
                fd = os.open(candidate, os.O_RDONLY | os.O_NOFOLLOW)
            except OSError:
                continue  # renamed into place or removed meanwhile
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # its writer is alive
                try:
                    still_there = os.path.samestat(os.fstat(fd), os.lstat(candidate))
                except FileNotFoundError:
                    still_there = False
                if still_there:
                    candidate.unlink()
                    removed += 1
            finally:
                os.close(fd)
        if removed:
            _fsync_directory(folder)
        return removed

    def open(self, relative: str) -> BinaryIO:
        return self.absolute(relative).open("rb")

    def delete(self, relative: str) -> None:
        self.absolute(relative).unlink(missing_ok=True)


def _locked_temporary(folder: Path) -> tuple[BinaryIO, Path]:
    """A new temporary file in ``folder``, opened for writing and exclusively locked."""
    while True:
        fd, name = tempfile.mkstemp(dir=folder, prefix=INCOMPLETE_PREFIX)
        fcntl.flock(fd, fcntl.LOCK_EX)
        if os.fstat(fd).st_nlink:
            return os.fdopen(fd, "wb"), Path(name)
        # Swept between its creation and the lock (taken for a dead writer's): again.
        os.close(fd)


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
