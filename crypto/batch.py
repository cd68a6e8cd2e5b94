"""Batch v1: the signed file that carries the sync across an air gap.

The sections below mirror docs/batch.md; read the spec first.

    batch      = magic header entry* trailer
    magic      = "IBLAGH-BATCH/1" LF
    header     = u32be length || JSON object
    entry      = "E" || u32be length || descriptor JSON || u64be length || content
    trailer    = "T" || u64be count || digest[32] || signature[64]
    digest     = SHA-256 of every byte from the magic through count
    signature  = Ed25519(signer, "iblagh-batch/1 signature" LF || digest)

A reader streams the file once, in constant memory apart from one small descriptor per
entry: content goes to staging files, and the staged entries are handed out only once
the digest and the signature have verified. A failed read deletes what it staged.
"""

import hashlib
import io
import json
import re
import secrets
import shutil
import struct
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO, Final, Literal, Protocol

import nacl.exceptions
from nacl.signing import SigningKey, VerifyKey

from crypto.encoding import canonical_json
from crypto.errors import (
    BatchError,
    ForgedBatch,
    MalformedBatch,
    MisdirectedBatch,
    ReorderedBatch,
    ReplayedBatch,
    TruncatedBatch,
)
from crypto.keys import key_id_hex

MAGIC: Final = b"IBLAGH-BATCH/1\n"
SIGNATURE_DOMAIN: Final = b"iblagh-batch/1 signature\n"
ENTRY_MARK: Final = b"E"
TRAILER_MARK: Final = b"T"
MAX_JSON_BYTES: Final = 64 * 1024
MAX_ENTRIES: Final = 1_000_000
MAX_CONTENT_BYTES: Final = 2**63 - 1
MAX_SEQUENCE: Final = 2**53
SIGNATURE_BYTES: Final = 64
DIGEST_BYTES: Final = 32
DIRECTIONS: Final = ("inbound", "outbound")
_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")
_COPY_CHUNK = 64 * 1024
_HEX32 = re.compile(r"[0-9a-f]{32}")
_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")
_HEADER_MEMBERS: Final = frozenset({"direction", "batch_id", "sequence", "created_at", "signer"})

Direction = Literal["inbound", "outbound"]
Progress = Callable[[int], None]


class Writable(Protocol):
    def write(self, data: bytes, /) -> object: ...


# --- Header ---------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchHeader:
    """Who wrote a batch, which way it travels, and where it stands in its sequence."""

    direction: Direction
    batch_id: str
    sequence: int
    created_at: str
    signer: str

    @classmethod
    def new(
        cls,
        direction: Direction,
        sequence: int,
        signing_key: SigningKey,
        now: float | None = None,
    ) -> "BatchHeader":
        """A header with a fresh random batch id, stamped with the current UTC second."""
        moment = time.gmtime(time.time() if now is None else now)
        header = cls(
            direction=direction,
            batch_id=secrets.token_hex(16),
            sequence=sequence,
            created_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", moment),
            signer=key_id_hex(bytes(signing_key.verify_key)),
        )
        header.check()
        return header

    def check(self) -> None:
        """Refuse a header the spec does not allow, as :class:`MalformedBatch`."""
        if self.direction not in DIRECTIONS:
            raise MalformedBatch("the batch direction is neither inbound nor outbound")
        if not _HEX32.fullmatch(self.batch_id) or not _HEX32.fullmatch(self.signer):
            raise MalformedBatch("the batch id or signer is not 32 hex digits")
        if not 1 <= self.sequence <= MAX_SEQUENCE:
            raise MalformedBatch("the batch sequence number is out of range")
        if not _TIME.fullmatch(self.created_at):
            raise MalformedBatch("the batch creation time is not YYYY-MM-DDTHH:MM:SSZ")

    def to_json(self) -> bytes:
        """The header JSON as the reference writer emits it (canonical form)."""
        return canonical_json(
            {
                "direction": self.direction,
                "batch_id": self.batch_id,
                "sequence": self.sequence,
                "created_at": self.created_at,
                "signer": self.signer,
            }
        )

    @classmethod
    def from_json(cls, raw: bytes) -> "BatchHeader":
        """Parse and check a header; :class:`MalformedBatch` for anything off the spec."""
        document = _load_object(raw, "header")
        if set(document) != _HEADER_MEMBERS:
            raise MalformedBatch("the batch header does not have exactly the v1 members")
        direction, sequence = document["direction"], document["sequence"]
        if direction not in DIRECTIONS:
            raise MalformedBatch("the batch direction is neither inbound nor outbound")
        if not isinstance(sequence, int) or isinstance(sequence, bool):
            raise MalformedBatch("the batch sequence number is not an integer")
        for name in ("batch_id", "created_at", "signer"):
            if not isinstance(document[name], str):
                raise MalformedBatch(f"the batch header's {name} is not a string")
        header = cls(
            direction="inbound" if direction == "inbound" else "outbound",
            batch_id=document["batch_id"],
            sequence=sequence,
            created_at=document["created_at"],
            signer=document["signer"],
        )
        header.check()
        return header


def _load_object(raw: bytes, what: str) -> dict[str, Any]:
    def refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result = dict(pairs)
        if len(result) != len(pairs):
            raise MalformedBatch(f"a member is repeated in a batch {what}")
        return result

    try:
        value = json.loads(raw.decode("utf-8"), object_pairs_hook=refuse_duplicates)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise MalformedBatch(f"the batch {what} is not JSON") from exc
    if not isinstance(value, dict):
        raise MalformedBatch(f"the batch {what} is not a JSON object")
    return value


# --- Writing --------------------------------------------------------------------------


class BatchWriter:
    """Write a batch entry by entry; nothing is valid until :meth:`close` signs it.

    Use as ``w = BatchWriter(dst, key, header); w.add("blob", {...}, content, size);
    w.close()``. A writer abandoned half-way leaves a file every reader refuses as
    truncated. The content of an entry is streamed: memory use does not grow with it.
    """

    def __init__(self, dst: Writable, signing_key: SigningKey, header: BatchHeader) -> None:
        header.check()
        if header.signer != key_id_hex(bytes(signing_key.verify_key)):
            raise BatchError("the header names another signer than this key")
        header_json = header.to_json()
        self._dst = dst
        self._key = signing_key
        self._hash = hashlib.sha256()
        self._count = 0
        self._closed = False
        self._emit(MAGIC + _U32.pack(len(header_json)) + header_json)

    def _emit(self, data: bytes) -> None:
        self._hash.update(data)
        self._dst.write(data)

    def add(
        self,
        entry_type: str,
        fields: Mapping[str, Any] | None = None,
        content: bytes | BinaryIO = b"",
        size: int | None = None,
    ) -> int:
        """Append one entry; returns its index. ``size`` is required for a stream."""
        if self._closed:
            raise BatchError("batch already closed")
        fields = dict(fields or {})
        if "index" in fields or "type" in fields:
            raise BatchError("'index' and 'type' are set by the writer")
        if not entry_type:
            raise BatchError("an entry needs a type")
        if self._count >= MAX_ENTRIES:
            raise BatchError(f"a batch holds at most {MAX_ENTRIES} entries")
        descriptor = canonical_json({**fields, "index": self._count, "type": entry_type})
        if len(descriptor) > MAX_JSON_BYTES:
            raise BatchError("entry descriptor too large")
        if isinstance(content, bytes):
            size = len(content) if size is None else size
            if size != len(content):
                raise BatchError("size differs from the content given")
            stream: BinaryIO = io.BytesIO(content)
        else:
            if size is None:
                raise BatchError("the size of streamed content must be given")
            stream = content
        if not 0 <= size <= MAX_CONTENT_BYTES:
            raise BatchError("content size out of range")
        self._emit(ENTRY_MARK + _U32.pack(len(descriptor)) + descriptor + _U64.pack(size))
        remaining = size
        while remaining:
            piece = stream.read(min(_COPY_CHUNK, remaining))
            if not piece:
                raise BatchError("the content ended before its declared size")
            self._emit(piece)
            remaining -= len(piece)
        self._count += 1
        return self._count - 1

    def close(self) -> bytes:
        """Write the trailer (count, digest, signature); returns the digest."""
        if self._closed:
            raise BatchError("batch already closed")
        self._emit(TRAILER_MARK + _U64.pack(self._count))
        digest = self._hash.digest()
        signature = self._key.sign(SIGNATURE_DOMAIN + digest).signature
        self._dst.write(digest + signature)
        self._closed = True
        return digest

    @property
    def count(self) -> int:
        """How many entries have been added so far."""
        return self._count


# --- Reading --------------------------------------------------------------------------


@dataclass(frozen=True)
class StagedEntry:
    """One verified entry: its descriptor, and its content in a staging file."""

    index: int
    type: str
    descriptor: dict[str, Any] = field(repr=False)
    size: int
    sha256: bytes
    path: Path | None


class VerifiedBatch:
    """A batch whose digest and signature verified; its contents wait in a staging folder.

    The caller reads what it needs, then calls :meth:`discard` (or uses ``with``) to
    delete the staging folder.
    """

    def __init__(
        self,
        header: BatchHeader,
        entries: tuple[StagedEntry, ...],
        digest: bytes,
        stage: Path | None,
    ) -> None:
        self.header = header
        self.entries = entries
        self.digest = digest
        self._stage = stage

    def open_content(self, entry: StagedEntry) -> BinaryIO:
        """The entry's content, to read from the start."""
        if entry.path is None:
            return io.BytesIO(b"")
        return entry.path.open("rb")

    def discard(self) -> None:
        """Delete every staged content."""
        if self._stage is not None:
            shutil.rmtree(self._stage, ignore_errors=True)
            self._stage = None

    def __enter__(self) -> "VerifiedBatch":
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.discard()


class _HashingReader:
    """Reads exactly what is asked, hashing it, and says where a short read happened."""

    def __init__(self, src: BinaryIO, progress: Progress | None) -> None:
        self._src = src
        self._progress = progress
        self.hash = hashlib.sha256()

    def read_exact(self, size: int, what: str, *, hashed: bool = True) -> bytes:
        data = bytearray()
        while len(data) < size:
            piece = self._src.read(min(size - len(data), _COPY_CHUNK))
            if not piece:
                raise TruncatedBatch(f"the batch ends in {what}: it is truncated")
            data += piece
            if self._progress is not None:
                self._progress(len(piece))
        if hashed:
            self.hash.update(data)
        return bytes(data)

    def at_end(self) -> bool:
        return not self._src.read(1)


def read_batch(
    src: BinaryIO,
    trusted_keys: Sequence[VerifyKey],
    stage_root: Path | None,
    *,
    direction: Direction,
    progress: Progress | None = None,
) -> VerifiedBatch:
    """Verify a whole batch, staging its contents under ``stage_root``; raises a BatchError.

    Nothing is returned unless every check of docs/batch.md passes, so a caller can
    never act on an entry of an unverified batch. ``stage_root`` None verifies only
    (contents are hashed and dropped). ``progress`` is called with each count of bytes
    read.
    """
    stage: Path | None = None
    if stage_root is not None:
        stage_root.mkdir(mode=0o700, parents=True, exist_ok=True)
        stage = Path(tempfile.mkdtemp(dir=stage_root, prefix=".batch-"))
    try:
        header, entries, digest = _read(src, trusted_keys, stage, direction, progress)
    except BaseException:
        if stage is not None:
            shutil.rmtree(stage, ignore_errors=True)
        raise
    return VerifiedBatch(header, entries, digest, stage)


def _read(
    src: BinaryIO,
    trusted_keys: Sequence[VerifyKey],
    stage: Path | None,
    direction: Direction,
    progress: Progress | None,
) -> tuple[BatchHeader, tuple[StagedEntry, ...], bytes]:
    reader = _HashingReader(src, progress)
    header = _read_header(reader)
    if header.direction != direction:
        raise MisdirectedBatch(f"this is an {header.direction} batch, not an {direction} one")
    # Fail early on a signer this host does not trust; the signature is checked at the end.
    by_id = {key_id_hex(bytes(key)): key for key in trusted_keys}
    verify_key = by_id.get(header.signer)
    if verify_key is None:
        raise ForgedBatch(f"the batch is signed by key {header.signer}, which is not trusted here")
    entries: list[StagedEntry] = []
    while True:
        where = f"entry {len(entries) - 1}" if entries else "the header"
        mark = reader.read_exact(1, f"what follows {where}")
        if mark == TRAILER_MARK:
            break
        if mark != ENTRY_MARK:
            raise MalformedBatch(f"unknown mark where entry {len(entries)} should start")
        if len(entries) >= MAX_ENTRIES:
            raise MalformedBatch(f"a batch holds at most {MAX_ENTRIES} entries")
        entries.append(_read_entry(reader, len(entries), stage))
    count = _U64.unpack(reader.read_exact(_U64.size, "the trailer"))[0]
    computed = reader.hash.digest()
    claimed = reader.read_exact(DIGEST_BYTES, "the trailer's digest", hashed=False)
    signature = reader.read_exact(SIGNATURE_BYTES, "the signature", hashed=False)
    if count > len(entries):
        raise TruncatedBatch(
            f"the trailer counts {count} entries but {len(entries)} are present: "
            "entries were removed"
        )
    if count < len(entries):
        raise ForgedBatch(f"the trailer counts {count} entries but {len(entries)} are present")
    if claimed != computed:
        raise ForgedBatch("the batch was altered or damaged after it was signed (digest mismatch)")
    try:
        verify_key.verify(SIGNATURE_DOMAIN + claimed, signature)
    except nacl.exceptions.BadSignatureError as exc:
        raise ForgedBatch(f"the signature does not verify with key {header.signer}") from exc
    if not reader.at_end():
        raise MalformedBatch("data follows the signature")
    return header, tuple(entries), computed


def _read_header(reader: _HashingReader) -> BatchHeader:
    magic = reader.read_exact(len(MAGIC), "the magic")
    if magic != MAGIC:
        raise MalformedBatch("not an Iblagh batch file (version 1)")
    length = _U32.unpack(reader.read_exact(_U32.size, "the header length"))[0]
    if not 1 <= length <= MAX_JSON_BYTES:
        raise MalformedBatch("invalid header length")
    return BatchHeader.from_json(reader.read_exact(length, "the header"))


def _read_entry(reader: _HashingReader, index: int, stage: Path | None) -> StagedEntry:
    where = f"entry {index}"
    length = _U32.unpack(reader.read_exact(_U32.size, f"{where}'s descriptor length"))[0]
    if not 1 <= length <= MAX_JSON_BYTES:
        raise MalformedBatch(f"invalid descriptor length in {where}")
    descriptor = _load_object(reader.read_exact(length, f"{where}'s descriptor"), "descriptor")
    claimed_index, entry_type = descriptor.get("index"), descriptor.get("type")
    if not isinstance(claimed_index, int) or isinstance(claimed_index, bool):
        raise MalformedBatch(f"{where} has no index")
    if claimed_index != index:
        raise ReorderedBatch(
            f"entry {claimed_index} is at position {index}: entries were reordered or dropped"
        )
    if not isinstance(entry_type, str) or not entry_type:
        raise MalformedBatch(f"{where} has no type")
    size = _U64.unpack(reader.read_exact(_U64.size, f"{where}'s content length"))[0]
    if size > MAX_CONTENT_BYTES:
        raise MalformedBatch(f"invalid content length in {where}")
    content_hash = hashlib.sha256()
    path: Path | None = None
    if size and stage is not None:
        path = stage / f"{index:07d}"
        with path.open("xb") as out:
            for piece in _pieces(reader, size, where):
                content_hash.update(piece)
                out.write(piece)
    else:
        for piece in _pieces(reader, size, where):
            content_hash.update(piece)
    return StagedEntry(
        index=index,
        type=entry_type,
        descriptor=descriptor,
        size=size,
        sha256=content_hash.digest(),
        path=path,
    )


def _pieces(reader: _HashingReader, size: int, where: str) -> Iterator[bytes]:
    remaining = size
    while remaining:
        piece = reader.read_exact(min(_COPY_CHUNK, remaining), f"{where}'s content")
        remaining -= len(piece)
        yield piece


# --- Replay ---------------------------------------------------------------------------


def check_not_replayed(
    header: BatchHeader, *, already_imported: bool, last_sequence: int | None
) -> None:
    """Refuse a batch already imported, or not newer than the last one of its direction."""
    if already_imported:
        raise ReplayedBatch(f"batch {header.batch_id} was already imported")
    if last_sequence is not None and header.sequence <= last_sequence:
        raise ReplayedBatch(
            f"batch number {header.sequence} is not newer than number {last_sequence}, "
            f"the last {header.direction} batch imported: write a new batch"
        )
