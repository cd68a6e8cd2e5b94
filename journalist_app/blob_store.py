"""Ciphertext files on the officer host, written so that a crash never leaves half a blob.

Paths are relative to the data dir and are built here from validated ids and names
only, never from raw input.
"""

import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

SUBMISSION_ID = re.compile(r"[0-9a-f]{32}")
BLOB_NAME = re.compile(r"body|identity|attachment-[0-9]{1,4}")


class LocalBlobStore:
    """Blobs under ``data_dir/blobs/<submission id>/<name>``."""

    def __init__(self, data_dir: Path) -> None:
        self._data_dir = data_dir

    def relative_path(self, submission_id: str, name: str) -> str:
        """Where a blob lives, relative to the data dir; refuses anything but a known shape."""
        if not SUBMISSION_ID.fullmatch(submission_id) or not BLOB_NAME.fullmatch(name):
            raise ValueError("not a submission id and blob name")
        return f"blobs/{submission_id}/{name}"

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
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as handle:
                yield handle
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        _fsync_directory(path.parent)
        _fsync_directory(path.parent.parent)

    def open(self, relative: str) -> BinaryIO:
        return self.absolute(relative).open("rb")

    def delete(self, relative: str) -> None:
        self.absolute(relative).unlink(missing_ok=True)


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
