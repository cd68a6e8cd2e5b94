"""The backup folder: files under one root, listed in ``manifest.json`` with their SHA-256.

The manifest is written last, so a folder without one is a backup that did not finish.
Reading a backup checks every byte of every listed file against it, and refuses a file
missing, changed or not listed, before the caller restores anything: a damaged copy is
refused whole, never half-restored. The manifest guards against damage (a bad medium, a
truncated copy), not against someone who can rewrite it too: the command prints the
manifest's own SHA-256 for the operator to note apart from the copy.
"""

import hashlib
import io
import json
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

MANIFEST = "manifest.json"
FORMAT = "iblagh-backup/1"
_CHUNK = 1024 * 1024
_RELATIVE = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]*(/[A-Za-z0-9_-][A-Za-z0-9._-]*)*$")


class BackupError(Exception):
    """A backup cannot be made, read or restored; the message says what to do."""


@dataclass(frozen=True)
class Entry:
    """One file of a backup, as the manifest lists it."""

    sha256: str
    size: int


def check_relative(relative: str) -> str:
    """A path inside a backup: plain names below the root, never ``..`` or absolute."""
    if not _RELATIVE.match(relative) or relative == MANIFEST:
        raise BackupError(f"{relative!r} is not a name a backup may hold")
    return relative


class BackupWriter:
    """Files go in one at a time, 0600 in 0700 folders; :meth:`finish` writes the manifest."""

    def __init__(self, root: Path, host: str) -> None:
        if root.exists() and (not root.is_dir() or any(root.iterdir())):
            raise BackupError(f"{root} exists and is not an empty folder: give a new one")
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.root = root
        self.host = host
        self._entries: dict[str, Entry] = {}

    def path_for(self, relative: str) -> Path:
        """Where a file another tool writes goes (a database dump); then :meth:`record`."""
        path = self.root / check_relative(relative)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        return path

    def add_stream(self, relative: str, source: BinaryIO) -> Entry:
        """Copy ``source`` into the backup as ``relative``, hashing as it goes."""
        path = self.path_for(relative)
        digest = hashlib.sha256()
        size = 0
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as sink:
            while chunk := source.read(_CHUNK):
                sink.write(chunk)
                digest.update(chunk)
                size += len(chunk)
            sink.flush()
            os.fsync(sink.fileno())
        entry = Entry(digest.hexdigest(), size)
        self._entries[relative] = entry
        return entry

    def add_bytes(self, relative: str, data: bytes) -> Entry:
        """A small file held in memory."""
        return self.add_stream(relative, io.BytesIO(data))

    def record(self, relative: str) -> Entry:
        """List a file written in place by :meth:`path_for`'s caller."""
        path = self.root / check_relative(relative)
        os.chmod(path, 0o600)
        with path.open("rb") as handle:
            os.fsync(handle.fileno())
        entry = hash_file(path)
        self._entries[relative] = entry
        return entry

    def abandon(self) -> None:
        """Remove what an unfinished backup wrote (the folder was new or empty)."""
        for path in sorted(self.root.rglob("*"), reverse=True):
            if path.is_dir():
                path.rmdir()
            else:
                path.unlink()

    def finish(self, details: Mapping[str, Any]) -> str:
        """Write the manifest last and return its SHA-256, for the operator to note."""
        manifest = {
            "format": FORMAT,
            "host": self.host,
            **details,
            "files": {
                name: {"sha256": entry.sha256, "size": entry.size}
                for name, entry in sorted(self._entries.items())
            },
        }
        data = json.dumps(manifest, indent=1, sort_keys=True).encode("utf-8") + b"\n"
        path = self.root / MANIFEST
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as sink:
            sink.write(data)
            sink.flush()
            os.fsync(sink.fileno())
        for folder in sorted({p.parent for p in self.root.rglob("*")}, reverse=True):
            _fsync_directory(folder)
        return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Backup:
    """A backup whose every file matched its manifest when it was opened."""

    root: Path
    details: Mapping[str, Any]
    entries: Mapping[str, Entry]

    @classmethod
    def open(cls, root: Path, host: str) -> "Backup":
        """Read the manifest and check every file; refuse anything missing, changed or extra."""
        manifest = _read_manifest(root)
        if manifest.get("host") != host:
            raise BackupError(
                f"{root} is a backup of the {manifest.get('host')!r} host, not of the {host} host"
            )
        listed = manifest.get("files")
        if not isinstance(listed, dict):
            raise BackupError(f"{root / MANIFEST} lists no files: the backup is damaged")
        entries = {check_relative(name): _entry(name, value) for name, value in listed.items()}
        present = {str(p.relative_to(root)) for p in root.rglob("*") if not p.is_dir()}
        present.discard(MANIFEST)
        if missing := sorted(set(entries) - present):
            raise BackupError(
                f"{len(missing)} file(s) of the backup are missing, first {missing[0]}: "
                "nothing was restored; use another copy"
            )
        if extra := sorted(present - set(entries)):
            raise BackupError(
                f"{len(extra)} file(s) in {root} are not in its manifest, first {extra[0]}: "
                "nothing was restored; use an untouched copy"
            )
        for name, entry in sorted(entries.items()):
            if hash_file(root / name) != entry:
                raise BackupError(
                    f"{name} does not match the manifest (damaged or altered): "
                    "nothing was restored; use another copy"
                )
        details = {k: v for k, v in manifest.items() if k != "files"}
        return cls(root=root, details=details, entries=entries)

    def has(self, relative: str) -> bool:
        return relative in self.entries

    def path(self, relative: str) -> Path:
        if relative not in self.entries:
            raise BackupError(f"{relative} is not in the backup")
        return self.root / relative

    def under(self, folder: str) -> Iterator[str]:
        """The listed files below ``folder``, sorted."""
        prefix = folder.rstrip("/") + "/"
        yield from sorted(name for name in self.entries if name.startswith(prefix))

    def copy_to(self, relative: str, sink: Any) -> None:
        """Write the file into ``sink`` and check it again on the way (raises at the end, so
        a store writer used as a context manager discards what it got)."""
        entry = self.entries[relative]
        digest = hashlib.sha256()
        with self.path(relative).open("rb") as source:
            while chunk := source.read(_CHUNK):
                sink.write(chunk)
                digest.update(chunk)
        if digest.hexdigest() != entry.sha256:
            raise BackupError(f"{relative} changed while it was restored: use another copy")

    def restore_file(self, relative: str, path: Path) -> None:
        """Put the file at ``path`` (0600), whole or not at all: written beside, renamed."""
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.restoring")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "wb") as sink:
                self.copy_to(relative, sink)
                sink.flush()
                os.fsync(sink.fileno())
            os.replace(temporary, path)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise


def hash_file(path: Path) -> Entry:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return Entry(digest.hexdigest(), size)


def _read_manifest(root: Path) -> dict[str, Any]:
    try:
        data = (root / MANIFEST).read_bytes()
    except FileNotFoundError:
        raise BackupError(
            f"{root} holds no {MANIFEST}: not a backup, or one that did not finish"
        ) from None
    try:
        manifest = json.loads(data)
    except ValueError:
        raise BackupError(f"{root / MANIFEST} is damaged: use another copy") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{root / MANIFEST} is not an {FORMAT} manifest")
    return manifest


def _entry(name: str, value: Any) -> Entry:
    if not isinstance(value, dict):
        raise BackupError(f"{MANIFEST}: the entry of {name} is damaged")
    sha256, size = value.get("sha256"), value.get("size")
    if not isinstance(sha256, str) or not isinstance(size, int):
        raise BackupError(f"{MANIFEST}: the entry of {name} is damaged")
    return Entry(sha256, size)


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
