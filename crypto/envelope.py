"""Envelope v1: the one format for report bodies, identity sections, attachments and replies.

The sections below mirror docs/envelope.md; read the spec first.

    envelope = header payload
    header   = "IBLAGH/1" || u8 count || count * stanza
    stanza   = key_id[16] || crypto_box_seal(file_key)[80]
    payload  = secretstream_header[24] || chunk*
    chunk    = u32be length || ciphertext[length]

The secretstream messages are, in order: the metadata (JSON, authenticated together
with the header as additional data), the content in pieces of at most 64 KiB, and a
trailer (u64be size || SHA-256 of the content) tagged FINAL. Memory use is bounded by
one chunk whatever the size of the content.
"""

import hashlib
import io
import json
import os
import struct
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from typing import BinaryIO, Final, Protocol

import nacl.bindings as sodium
import nacl.exceptions
import nacl.utils
from nacl.public import PrivateKey, PublicKey, SealedBox

from crypto.errors import EnvelopeError, NoMatchingRecipient
from crypto.keys import KEY_ID_BYTES, key_id

MAGIC: Final = b"IBLAGH/1"
CHUNK_SIZE: Final = 64 * 1024
MAX_RECIPIENTS: Final = 16
MAX_METADATA_BYTES: Final = 16 * 1024
FILE_KEY_BYTES: Final = sodium.crypto_secretstream_xchacha20poly1305_KEYBYTES
SEALED_KEY_BYTES: Final = FILE_KEY_BYTES + sodium.crypto_box_SEALBYTES
STANZA_BYTES: Final = KEY_ID_BYTES + SEALED_KEY_BYTES
STREAM_HEADER_BYTES: Final = sodium.crypto_secretstream_xchacha20poly1305_HEADERBYTES
ABYTES: Final = sodium.crypto_secretstream_xchacha20poly1305_ABYTES
MAX_CHUNK_CIPHERTEXT: Final = CHUNK_SIZE + ABYTES
_TRAILER = struct.Struct(">Q32s")
_LENGTH = struct.Struct(">I")
_TAG_MESSAGE: Final = sodium.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
_TAG_FINAL: Final = sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL

KINDS: Final = frozenset({"report", "identity", "attachment", "followup", "reply"})


class Writable(Protocol):
    def write(self, data: bytes, /) -> object: ...


@dataclass(frozen=True)
class EnvelopeMetadata:
    """What travels inside the ciphertext besides the content itself."""

    kind: str
    name: str = ""
    content_type: str = "application/octet-stream"

    def to_json(self) -> bytes:
        return json.dumps(
            {"kind": self.kind, "name": self.name, "type": self.content_type},
            sort_keys=True,
            ensure_ascii=False,
        ).encode("utf-8")

    @classmethod
    def from_json(cls, raw: bytes) -> "EnvelopeMetadata":
        try:
            value = json.loads(raw.decode("utf-8"))
        # Anyone can seal to the unit: deeply nested JSON must be a typed error too.
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise EnvelopeError("metadata is not JSON") from exc
        if not isinstance(value, dict):
            raise EnvelopeError("metadata is not a JSON object")
        kind, name, content_type = value.get("kind"), value.get("name"), value.get("type")
        if not isinstance(kind, str) or kind not in KINDS:
            raise EnvelopeError("metadata has an unknown kind")
        if not isinstance(name, str) or not isinstance(content_type, str):
            raise EnvelopeError("metadata lacks kind, name or type")
        return cls(kind=kind, name=name, content_type=content_type)


@dataclass(frozen=True)
class Digest:
    """Size and SHA-256 of an envelope's content, as carried in its trailer."""

    size: int
    sha256: bytes


@dataclass(frozen=True)
class OpenedEnvelope:
    """The result of opening an envelope whose content went to a writable."""

    metadata: EnvelopeMetadata
    digest: Digest


# --- Header ---------------------------------------------------------------------------


def _build_header(recipients: Sequence[PublicKey], file_key: bytes) -> bytes:
    if not 1 <= len(recipients) <= MAX_RECIPIENTS:
        raise EnvelopeError(f"an envelope has 1 to {MAX_RECIPIENTS} recipients")
    parts = [MAGIC, bytes([len(recipients)])]
    for recipient in recipients:
        parts.append(key_id(bytes(recipient)))
        parts.append(SealedBox(recipient).encrypt(file_key))
    return b"".join(parts)


def read_header(src: BinaryIO) -> tuple[bytes, list[bytes]]:
    """Read the header; return its raw bytes and the recipients' key ids in order."""
    magic = _read_exact(src, len(MAGIC), "magic")
    if magic != MAGIC:
        raise EnvelopeError("not an Iblagh v1 envelope")
    count_byte = _read_exact(src, 1, "recipient count")
    count = count_byte[0]
    if not 1 <= count <= MAX_RECIPIENTS:
        raise EnvelopeError("invalid recipient count")
    stanzas = _read_exact(src, count * STANZA_BYTES, "recipient stanzas")
    key_ids = [stanzas[i * STANZA_BYTES : i * STANZA_BYTES + KEY_ID_BYTES] for i in range(count)]
    return magic + count_byte + stanzas, key_ids


def _unseal_file_key(header: bytes, identities: Sequence[PrivateKey]) -> bytes:
    count = header[len(MAGIC)]
    offset = len(MAGIC) + 1
    by_id = {key_id(bytes(identity.public_key)): identity for identity in identities}
    for index in range(count):
        start = offset + index * STANZA_BYTES
        identity = by_id.get(header[start : start + KEY_ID_BYTES])
        if identity is None:
            continue
        sealed = header[start + KEY_ID_BYTES : start + STANZA_BYTES]
        try:
            file_key = SealedBox(identity).decrypt(sealed)
        except nacl.exceptions.CryptoError as exc:
            raise EnvelopeError("a recipient stanza for this key does not open") from exc
        if len(file_key) != FILE_KEY_BYTES:
            raise EnvelopeError("file key has the wrong length")
        return file_key
    raise NoMatchingRecipient("none of these keys is a recipient of the envelope")


# --- Payload: writing -----------------------------------------------------------------


class EnvelopeWriter:
    """Seal content pushed piece by piece; for uploads that arrive as a stream.

    Use as ``w = EnvelopeWriter(dst, recipients, metadata); w.write(...); w.close()``.
    Nothing is final until :meth:`close` writes the trailer: a writer abandoned
    half-way leaves an envelope that every reader rejects as truncated.
    """

    def __init__(
        self, dst: Writable, recipients: Sequence[PublicKey], metadata: EnvelopeMetadata
    ) -> None:
        metadata_bytes = metadata.to_json()
        if len(metadata_bytes) > MAX_METADATA_BYTES:
            raise EnvelopeError("metadata too large")
        file_key = nacl.utils.random(FILE_KEY_BYTES)
        header = _build_header(recipients, file_key)
        self._dst = dst
        self._state = sodium.crypto_secretstream_xchacha20poly1305_state()
        stream_header = sodium.crypto_secretstream_xchacha20poly1305_init_push(
            self._state, file_key
        )
        dst.write(header)
        dst.write(stream_header)
        self._push(metadata_bytes, ad=header)
        self._buffer = bytearray()
        self._hash = hashlib.sha256()
        self._size = 0
        self._closed = False

    def _push(self, message: bytes, ad: bytes | None = None, tag: int = _TAG_MESSAGE) -> None:
        ciphertext = sodium.crypto_secretstream_xchacha20poly1305_push(
            self._state, message, ad, tag
        )
        self._dst.write(_LENGTH.pack(len(ciphertext)))
        self._dst.write(ciphertext)

    def write(self, data: bytes) -> None:
        """Add content; full 64 KiB chunks are sealed and written at once."""
        if self._closed:
            raise EnvelopeError("envelope already closed")
        self._hash.update(data)
        self._size += len(data)
        self._buffer += data
        while len(self._buffer) >= CHUNK_SIZE:
            self._push(bytes(self._buffer[:CHUNK_SIZE]))
            del self._buffer[:CHUNK_SIZE]

    def close(self) -> Digest:
        """Seal what is buffered and the trailer; returns the content's size and SHA-256."""
        if self._closed:
            raise EnvelopeError("envelope already closed")
        if self._buffer:
            self._push(bytes(self._buffer))
            self._buffer.clear()
        digest = Digest(size=self._size, sha256=self._hash.digest())
        self._push(_TRAILER.pack(digest.size, digest.sha256), tag=_TAG_FINAL)
        self._closed = True
        return digest


def seal_stream(
    src: BinaryIO, dst: Writable, recipients: Sequence[PublicKey], metadata: EnvelopeMetadata
) -> Digest:
    """Seal everything readable from ``src`` into ``dst``, in constant memory."""
    writer = EnvelopeWriter(dst, recipients, metadata)
    while piece := src.read(CHUNK_SIZE):
        writer.write(piece)
    return writer.close()


def seal_bytes(data: bytes, recipients: Sequence[PublicKey], metadata: EnvelopeMetadata) -> bytes:
    """Seal a small in-memory content (a text report, a reply) and return the envelope."""
    out = bytearray()

    class _Sink:
        def write(self, piece: bytes) -> None:
            out.extend(piece)

    writer = EnvelopeWriter(_Sink(), recipients, metadata)
    writer.write(data)
    writer.close()
    return bytes(out)


# --- Payload: reading -----------------------------------------------------------------


def _read_exact(src: BinaryIO, size: int, what: str) -> bytes:
    data = bytearray()
    while len(data) < size:
        piece = src.read(size - len(data))
        if not piece:
            raise EnvelopeError(f"envelope truncated in {what}")
        data += piece
    return bytes(data)


def _read_chunk(src: BinaryIO) -> bytes:
    length = _LENGTH.unpack(_read_exact(src, _LENGTH.size, "chunk length"))[0]
    if not ABYTES <= length <= MAX_CHUNK_CIPHERTEXT:
        raise EnvelopeError("invalid chunk length")
    return _read_exact(src, length, "chunk")


def open_stream(src: BinaryIO, dst: Writable, identities: Sequence[PrivateKey]) -> OpenedEnvelope:
    """Open an envelope from ``src``, writing its content to ``dst`` chunk by chunk.

    Each chunk is authenticated before it is written, but a stream can only be found
    truncated at its end: on :class:`EnvelopeError` the caller must discard what
    ``dst`` received. :func:`open_bytes` and :func:`open_to_path` do that for you.
    """
    header, _ = read_header(src)
    file_key = _unseal_file_key(header, identities)
    state = sodium.crypto_secretstream_xchacha20poly1305_state()
    try:
        sodium.crypto_secretstream_xchacha20poly1305_init_pull(
            state, _read_exact(src, STREAM_HEADER_BYTES, "stream header"), file_key
        )

        def pull(ad: bytes | None = None) -> tuple[bytes, int]:
            message, tag = sodium.crypto_secretstream_xchacha20poly1305_pull(
                state, _read_chunk(src), ad
            )
            return bytes(message), int(tag)

        raw_metadata, tag = pull(ad=header)
        if tag != _TAG_MESSAGE or len(raw_metadata) > MAX_METADATA_BYTES:
            raise EnvelopeError("invalid metadata chunk")
        metadata = EnvelopeMetadata.from_json(raw_metadata)
        content_hash = hashlib.sha256()
        size = 0
        while True:
            message, tag = pull()
            if tag == _TAG_FINAL:
                break
            if tag != _TAG_MESSAGE or not message:
                raise EnvelopeError("invalid content chunk")
            content_hash.update(message)
            size += len(message)
            dst.write(message)
    except nacl.exceptions.CryptoError as exc:
        raise EnvelopeError("envelope is corrupt, tampered with or reordered") from exc
    if len(message) != _TRAILER.size:
        raise EnvelopeError("invalid trailer")
    claimed_size, claimed_sha256 = _TRAILER.unpack(message)
    if claimed_size != size or claimed_sha256 != content_hash.digest():
        raise EnvelopeError("content does not match the trailer's size and SHA-256")
    if src.read(1):
        raise EnvelopeError("data after the final chunk")
    return OpenedEnvelope(metadata=metadata, digest=Digest(size=size, sha256=claimed_sha256))


def open_bytes(envelope: bytes, identities: Sequence[PrivateKey]) -> tuple[EnvelopeMetadata, bytes]:
    """Open a whole envelope held in memory; returns nothing unless all of it verifies."""
    out = io.BytesIO()
    opened = open_stream(io.BytesIO(envelope), out, identities)
    return opened.metadata, out.getvalue()


def open_to_path(
    src: BinaryIO, path: str | os.PathLike[str], identities: Sequence[PrivateKey]
) -> OpenedEnvelope:
    """Open an envelope into the file ``path``, which appears only if all of it verifies."""
    directory = os.path.dirname(os.fspath(path)) or "."
    fd, temporary = tempfile.mkstemp(dir=directory, prefix=".opening-")
    try:
        with os.fdopen(fd, "wb") as out:
            opened = open_stream(src, out, identities)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise
    return opened
