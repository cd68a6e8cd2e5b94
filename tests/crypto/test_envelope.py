"""Envelope v1 (docs/envelope.md): round trips, streaming, and every way to damage one."""

import hashlib
import io
import itertools
import json
import os
import struct
import tracemalloc
from collections.abc import Sequence
from typing import BinaryIO, cast

import nacl.bindings as sodium
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nacl.public import PrivateKey, PublicKey, SealedBox

from crypto.envelope import (
    CHUNK_SIZE,
    KINDS,
    MAGIC,
    MAX_METADATA_BYTES,
    MAX_RECIPIENTS,
    STANZA_BYTES,
    STREAM_HEADER_BYTES,
    Digest,
    EnvelopeMetadata,
    EnvelopeWriter,
    open_bytes,
    open_stream,
    open_to_path,
    read_header,
    seal_bytes,
    seal_stream,
)
from crypto.errors import EnvelopeError, NoMatchingRecipient
from crypto.keys import key_id

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Damage tests are cheap (most fail in the header or the first chunk): look harder.
DAMAGE_SETTINGS = settings(SETTINGS, max_examples=300)
REPORT = EnvelopeMetadata("report", "", "text/plain; charset=utf-8")
ATTACHMENT = EnvelopeMetadata("attachment", "لقطة شاشة.png", "image/png")
# Around every chunk boundary, and three content chunks.
BOUNDARY_SIZES = [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 2 * CHUNK_SIZE + 7]
TAG_MESSAGE = sodium.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
TAG_FINAL = sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL


def pattern(size: int, seed: int = 0) -> bytes:
    """Deterministic content of any size, different for each seed."""
    return hashlib.shake_256(b"content %d" % seed).digest(size)


def split(envelope: bytes) -> tuple[bytes, list[bytes]]:
    """Header and stream header, then each chunk with its length prefix."""
    start = len(MAGIC) + 1 + envelope[len(MAGIC)] * STANZA_BYTES + STREAM_HEADER_BYTES
    chunks, offset = [], start
    while offset < len(envelope):
        (length,) = struct.unpack(">I", envelope[offset : offset + 4])
        chunks.append(envelope[offset : offset + 4 + length])
        offset += 4 + length
    assert offset == len(envelope)
    return envelope[:start], chunks


def craft(recipient: PublicKey, messages: Sequence[tuple[bytes, int]]) -> bytes:
    """An authentic envelope carrying exactly ``messages`` (plaintext, tag), per the spec."""
    file_key = sodium.crypto_secretstream_xchacha20poly1305_keygen()
    header = MAGIC + b"\x01" + key_id(bytes(recipient)) + SealedBox(recipient).encrypt(file_key)
    state = sodium.crypto_secretstream_xchacha20poly1305_state()
    out = [header, sodium.crypto_secretstream_xchacha20poly1305_init_push(state, file_key)]
    for index, (plaintext, tag) in enumerate(messages):
        ad = header if index == 0 else None
        ciphertext = sodium.crypto_secretstream_xchacha20poly1305_push(state, plaintext, ad, tag)
        out.append(struct.pack(">I", len(ciphertext)) + ciphertext)
    return b"".join(out)


def trailer(content: bytes) -> bytes:
    return struct.pack(">Q", len(content)) + hashlib.sha256(content).digest()


def as_binary(source: object) -> BinaryIO:
    """The envelope functions only ever call ``read(n)`` on their source."""
    return cast(BinaryIO, source)


class Sink:
    """A writable that keeps what it receives, as an upload target or a socket would."""

    def __init__(self) -> None:
        self.pieces: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.pieces.append(bytes(data))

    @property
    def data(self) -> bytes:
        return b"".join(self.pieces)


@pytest.fixture(scope="module")
def small_envelope(intake_key: PrivateKey, recovery_key: PrivateKey) -> bytes:
    keys = [intake_key.public_key, recovery_key.public_key]
    return seal_bytes("بلاغ عن محتوى يحرض على العنف".encode(), keys, REPORT)


@pytest.fixture(scope="module")
def chunked_envelope(intake_key: PrivateKey) -> bytes:
    """Three content chunks: 65536, 65536 and 7 bytes."""
    return seal_bytes(pattern(2 * CHUNK_SIZE + 7), [intake_key.public_key], ATTACHMENT)


# --- Round trips ----------------------------------------------------------------------


@pytest.mark.parametrize("size", BOUNDARY_SIZES)
def test_round_trip_at_chunk_boundaries(intake_key: PrivateKey, size: int) -> None:
    content = pattern(size)
    envelope = seal_bytes(content, [intake_key.public_key], ATTACHMENT)
    assert open_bytes(envelope, [intake_key]) == (ATTACHMENT, content)
    _, chunks = split(envelope)
    # Metadata, full chunks and the rest, trailer: the writer fills every chunk but the last.
    assert len(chunks) == 2 + -(-size // CHUNK_SIZE)


contents = st.one_of(
    st.binary(max_size=300),
    st.builds(pattern, st.sampled_from(BOUNDARY_SIZES), st.integers(0, 1000)),
)


@SETTINGS
@given(content=contents)
def test_any_content_round_trips(intake_key: PrivateKey, content: bytes) -> None:
    envelope = seal_bytes(content, [intake_key.public_key], REPORT)
    metadata, opened = open_bytes(envelope, [intake_key])
    assert (metadata, opened) == (REPORT, content)


write_sizes = st.one_of(
    st.integers(0, 100), st.integers(CHUNK_SIZE - 2, CHUNK_SIZE + 2), st.integers(0, 2 * CHUNK_SIZE)
)


@SETTINGS
@given(writes=st.lists(write_sizes, max_size=6))
def test_streaming_seal_with_any_write_split_opens_to_the_same_content(
    intake_key: PrivateKey, writes: list[int]
) -> None:
    content = pattern(sum(writes))
    sink = Sink()
    writer = EnvelopeWriter(sink, [intake_key.public_key], ATTACHMENT)
    offset = 0
    for size in writes:
        writer.write(content[offset : offset + size])
        offset += size
    digest = writer.close()

    assert digest == Digest(len(content), hashlib.sha256(content).digest())
    assert open_bytes(sink.data, [intake_key]) == (ATTACHMENT, content)
    # The chunking does not depend on how the content was pushed.
    whole = seal_bytes(content, [intake_key.public_key], ATTACHMENT)
    assert [len(c) for c in split(sink.data)[1]] == [len(c) for c in split(whole)[1]]


class ShortReads(io.RawIOBase):
    """A source that returns fewer bytes than asked for, as a socket does."""

    def __init__(self, data: bytes, most: int) -> None:
        self._data, self._offset, self._most = data, 0, most

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        size = self._most if size < 0 else min(size, self._most)
        piece = self._data[self._offset : self._offset + size]
        self._offset += len(piece)
        return piece


@SETTINGS
@given(size=st.sampled_from(BOUNDARY_SIZES), most=st.integers(1, 2 * CHUNK_SIZE))
def test_seal_stream_and_open_stream_accept_short_reads(
    intake_key: PrivateKey, size: int, most: int
) -> None:
    content = pattern(size)
    sealed = io.BytesIO()
    digest = seal_stream(
        as_binary(ShortReads(content, most)), sealed, [intake_key.public_key], ATTACHMENT
    )
    sink = Sink()
    opened = open_stream(as_binary(ShortReads(sealed.getvalue(), most)), sink, [intake_key])
    assert sink.data == content
    assert opened.metadata == ATTACHMENT
    assert opened.digest == digest == Digest(size, hashlib.sha256(content).digest())
    assert all(0 < len(piece) <= CHUNK_SIZE for piece in sink.pieces)


# --- Damage ---------------------------------------------------------------------------


def indices(length: int) -> st.SearchStrategy[int]:
    """Any offset, with extra weight on the header and the end where the structure is."""
    return st.one_of(
        st.integers(0, min(length, 400) - 1),
        st.integers(0, length - 1),
        st.integers(max(0, length - 120), length - 1),
    )


@DAMAGE_SETTINGS
@given(data=st.data(), mask=st.integers(1, 255))
def test_any_flipped_byte_is_rejected(
    intake_key: PrivateKey,
    small_envelope: bytes,
    chunked_envelope: bytes,
    data: st.DataObject,
    mask: int,
) -> None:
    envelope = data.draw(st.sampled_from([small_envelope, chunked_envelope]))
    index = data.draw(indices(len(envelope)))
    damaged = bytearray(envelope)
    damaged[index] ^= mask
    with pytest.raises(EnvelopeError):
        open_bytes(bytes(damaged), [intake_key])


@DAMAGE_SETTINGS
@given(data=st.data())
def test_flipped_byte_in_the_other_recipients_stanza_is_rejected(
    intake_key: PrivateKey, small_envelope: bytes, data: st.DataObject
) -> None:
    # The intake key never reads the recovery stanza: only the header binding catches this.
    index = data.draw(st.integers(9 + STANZA_BYTES, 9 + 2 * STANZA_BYTES - 1))
    damaged = bytearray(small_envelope)
    damaged[index] ^= data.draw(st.integers(1, 255))
    with pytest.raises(EnvelopeError) as caught:
        open_bytes(bytes(damaged), [intake_key])
    assert not isinstance(caught.value, NoMatchingRecipient)


def test_every_truncation_of_a_small_envelope_is_rejected(
    intake_key: PrivateKey, small_envelope: bytes
) -> None:
    for cut in range(len(small_envelope)):
        with pytest.raises(EnvelopeError):
            open_bytes(small_envelope[:cut], [intake_key])


@DAMAGE_SETTINGS
@given(data=st.data())
def test_any_truncation_of_a_chunked_envelope_is_rejected(
    intake_key: PrivateKey, chunked_envelope: bytes, data: st.DataObject
) -> None:
    prefix, chunks = split(chunked_envelope)
    boundaries = list(itertools.accumulate([len(prefix)] + [len(c) for c in chunks[:-1]]))
    cut = data.draw(
        st.one_of(st.sampled_from(boundaries), indices(len(chunked_envelope))), label="cut"
    )
    with pytest.raises(EnvelopeError):
        open_bytes(chunked_envelope[:cut], [intake_key])


@pytest.mark.parametrize("extra", [b"\x00", b"\x00\x00\x00\x11" + bytes(17)])
def test_data_after_the_final_chunk_is_rejected(
    intake_key: PrivateKey, small_envelope: bytes, extra: bytes
) -> None:
    with pytest.raises(EnvelopeError, match="after the final chunk"):
        open_bytes(small_envelope + extra, [intake_key])


@pytest.mark.parametrize("dropped", range(5), ids=["metadata", "c1", "c2", "c3", "trailer"])
def test_dropping_any_chunk_is_rejected(
    intake_key: PrivateKey, chunked_envelope: bytes, dropped: int
) -> None:
    prefix, chunks = split(chunked_envelope)
    assert len(chunks) == 5
    del chunks[dropped]
    with pytest.raises(EnvelopeError):
        open_bytes(prefix + b"".join(chunks), [intake_key])


@pytest.mark.parametrize("order", list(itertools.permutations(range(3)))[1:])
def test_reordering_content_chunks_is_rejected(
    intake_key: PrivateKey, chunked_envelope: bytes, order: tuple[int, ...]
) -> None:
    prefix, (metadata, *content, final) = split(chunked_envelope)
    reordered = [metadata, *(content[i] for i in order), final]
    with pytest.raises(EnvelopeError):
        open_bytes(prefix + b"".join(reordered), [intake_key])


def test_repeating_a_content_chunk_is_rejected(
    intake_key: PrivateKey, chunked_envelope: bytes
) -> None:
    prefix, (metadata, first, *rest) = split(chunked_envelope)
    with pytest.raises(EnvelopeError):
        open_bytes(prefix + b"".join([metadata, first, first, *rest]), [intake_key])


def test_chunks_of_another_envelope_to_the_same_key_are_rejected(
    intake_key: PrivateKey, small_envelope: bytes
) -> None:
    other = seal_bytes(b"other", [intake_key.public_key], REPORT)
    prefix, chunks = split(small_envelope)
    _, other_chunks = split(other)
    with pytest.raises(EnvelopeError):
        open_bytes(prefix + b"".join([chunks[0], other_chunks[1], chunks[2]]), [intake_key])


def test_removing_a_stanza_breaks_the_envelope_for_the_remaining_recipient(
    intake_key: PrivateKey, small_envelope: bytes
) -> None:
    # Whoever stores envelopes cannot quietly drop the recovery key from one.
    prefix, chunks = split(small_envelope)
    stream_header = prefix[-STREAM_HEADER_BYTES:]
    intake_stanza = prefix[9 : 9 + STANZA_BYTES]
    stripped = MAGIC + b"\x01" + intake_stanza + stream_header + b"".join(chunks)
    with pytest.raises(EnvelopeError):
        open_bytes(stripped, [intake_key])


def test_streaming_reader_may_emit_content_before_failing_but_open_bytes_returns_none(
    intake_key: PrivateKey, chunked_envelope: bytes
) -> None:
    damaged = bytearray(chunked_envelope)
    damaged[-1] ^= 1  # in the trailer's MAC, after all the content
    sink = Sink()
    with pytest.raises(EnvelopeError):
        open_stream(io.BytesIO(bytes(damaged)), sink, [intake_key])
    assert len(sink.data) == 2 * CHUNK_SIZE + 7  # authenticated, yet not to be used

    result = None
    with pytest.raises(EnvelopeError):
        result = open_bytes(bytes(damaged), [intake_key])
    assert result is None


# --- Recipients -----------------------------------------------------------------------


def test_wrong_key_raises_no_matching_recipient(
    stranger_key: PrivateKey, small_envelope: bytes
) -> None:
    with pytest.raises(NoMatchingRecipient):
        open_bytes(small_envelope, [stranger_key])


def test_each_of_two_recipients_can_open(
    intake_key: PrivateKey, recovery_key: PrivateKey, stranger_key: PrivateKey
) -> None:
    content = pattern(CHUNK_SIZE + 1)
    envelope = seal_bytes(content, [intake_key.public_key, recovery_key.public_key], REPORT)
    for keys in ([intake_key], [recovery_key], [stranger_key, recovery_key]):
        assert open_bytes(envelope, keys) == (REPORT, content)


def test_read_header_lists_the_key_ids_in_order(
    intake_key: PrivateKey, recovery_key: PrivateKey, small_envelope: bytes
) -> None:
    header, key_ids = read_header(io.BytesIO(small_envelope))
    assert len(header) == len(MAGIC) + 1 + 2 * STANZA_BYTES
    assert key_ids == [
        key_id(bytes(intake_key.public_key)),
        key_id(bytes(recovery_key.public_key)),
    ]


def test_recipient_count_is_one_to_sixteen(intake_key: PrivateKey) -> None:
    keys = [PrivateKey.generate() for _ in range(MAX_RECIPIENTS)]
    envelope = seal_bytes(b"x", [k.public_key for k in keys], REPORT)
    assert open_bytes(envelope, [keys[-1]]) == (REPORT, b"x")
    for count in (0, MAX_RECIPIENTS + 1):
        with pytest.raises(EnvelopeError, match="recipients"):
            seal_bytes(b"x", [intake_key.public_key] * count, REPORT)


# --- open_to_path ---------------------------------------------------------------------


def test_open_to_path_writes_the_content_and_nothing_else(
    intake_key: PrivateKey, chunked_envelope: bytes, tmp_path: os.PathLike[str]
) -> None:
    target = os.path.join(tmp_path, "attachment")
    opened = open_to_path(io.BytesIO(chunked_envelope), target, [intake_key])
    with open(target, "rb") as f:
        assert f.read() == pattern(2 * CHUNK_SIZE + 7)
    assert opened.metadata == ATTACHMENT
    assert os.listdir(tmp_path) == ["attachment"]


def _damaged(envelope: bytes, how: str) -> bytes:
    if how == "flipped trailer":
        return envelope[:-1] + bytes([envelope[-1] ^ 1])
    if how == "truncated":
        return envelope[: len(envelope) // 2]
    if how == "appended":
        return envelope + b"\x00"
    return envelope


@pytest.mark.parametrize("how", ["flipped trailer", "truncated", "appended", "wrong key"])
def test_open_to_path_leaves_no_file_on_failure(
    intake_key: PrivateKey,
    stranger_key: PrivateKey,
    chunked_envelope: bytes,
    tmp_path: os.PathLike[str],
    how: str,
) -> None:
    key = stranger_key if how == "wrong key" else intake_key
    with pytest.raises(EnvelopeError):
        open_to_path(
            io.BytesIO(_damaged(chunked_envelope, how)), os.path.join(tmp_path, "out"), [key]
        )
    assert os.listdir(tmp_path) == []


def test_open_to_path_keeps_an_existing_file_on_failure(
    intake_key: PrivateKey, chunked_envelope: bytes, tmp_path: os.PathLike[str]
) -> None:
    target = os.path.join(tmp_path, "out")
    with open(target, "wb") as f:
        f.write(b"earlier")
    with pytest.raises(EnvelopeError):
        open_to_path(io.BytesIO(chunked_envelope[:-1]), target, [intake_key])
    with open(target, "rb") as f:
        assert f.read() == b"earlier"
    assert os.listdir(tmp_path) == ["out"]


# --- Message sequence, trailer and metadata -------------------------------------------


METADATA = REPORT.to_json()
CONTENT = b"Iblagh test.\n"


def test_hand_built_envelope_matches_the_writer(intake_key: PrivateKey) -> None:
    messages = [(METADATA, TAG_MESSAGE), (CONTENT, TAG_MESSAGE), (trailer(CONTENT), TAG_FINAL)]
    assert open_bytes(craft(intake_key.public_key, messages), [intake_key]) == (REPORT, CONTENT)


@pytest.mark.parametrize(
    "final",
    [
        struct.pack(">Q", len(CONTENT) + 1) + hashlib.sha256(CONTENT).digest(),
        struct.pack(">Q", len(CONTENT)) + hashlib.sha256(b"other").digest(),
        trailer(CONTENT)[:-1],
        trailer(CONTENT) + b"\x00",
        CONTENT,
    ],
    ids=["size", "sha256", "short", "long", "content-tagged-final"],
)
def test_trailer_must_match_the_content(intake_key: PrivateKey, final: bytes) -> None:
    messages = [(METADATA, TAG_MESSAGE), (CONTENT, TAG_MESSAGE), (final, TAG_FINAL)]
    with pytest.raises(EnvelopeError, match="trailer"):
        open_bytes(craft(intake_key.public_key, messages), [intake_key])


def test_chunk_longer_than_the_maximum_is_rejected(intake_key: PrivateKey) -> None:
    # Authentic, but a reader that accepted it could be made to buffer without bound.
    content = pattern(CHUNK_SIZE + 1)
    messages = [(METADATA, TAG_MESSAGE), (content, TAG_MESSAGE), (trailer(content), TAG_FINAL)]
    with pytest.raises(EnvelopeError, match="invalid chunk length"):
        open_bytes(craft(intake_key.public_key, messages), [intake_key])


@pytest.mark.parametrize("length", [0, 16, 0xFFFFFFFF])
def test_chunk_length_out_of_range_is_rejected_before_reading_on(
    intake_key: PrivateKey, small_envelope: bytes, length: int
) -> None:
    prefix, _ = split(small_envelope)
    envelope = prefix + struct.pack(">I", length) + bytes(64)
    with pytest.raises(EnvelopeError, match="invalid chunk length"):
        open_bytes(envelope, [intake_key])


@pytest.mark.parametrize(
    "messages",
    [
        [(METADATA, TAG_FINAL)],
        [(METADATA, TAG_MESSAGE), (b"", TAG_MESSAGE), (trailer(b""), TAG_FINAL)],
        [(METADATA, TAG_MESSAGE), (CONTENT, 1), (trailer(CONTENT), TAG_FINAL)],
        [(METADATA, TAG_MESSAGE), (CONTENT, TAG_MESSAGE), (trailer(CONTENT), TAG_MESSAGE)],
    ],
    ids=["metadata-final", "empty-content-chunk", "push-tag", "no-final"],
)
def test_wrong_tags_and_empty_chunks_are_rejected(
    intake_key: PrivateKey, messages: list[tuple[bytes, int]]
) -> None:
    with pytest.raises(EnvelopeError):
        open_bytes(craft(intake_key.public_key, messages), [intake_key])


@pytest.mark.parametrize(
    "raw",
    [
        b"\xff",
        b"[]",
        b'{"kind": "note", "name": "", "type": "text/plain"}',
        b'{"kind": "report", "name": 1, "type": "text/plain"}',
        b'{"kind": "report", "name": ""}',
        b"[" * 8000 + b"]" * 8000,
    ],
    ids=["not-utf8", "array", "unknown-kind", "name-not-string", "no-type", "deeply-nested"],
)
def test_invalid_metadata_is_rejected(intake_key: PrivateKey, raw: bytes) -> None:
    messages = [(raw, TAG_MESSAGE), (trailer(b""), TAG_FINAL)]
    with pytest.raises(EnvelopeError):
        open_bytes(craft(intake_key.public_key, messages), [intake_key])


arabic_names = st.sampled_from(
    ["تقرير الحادثة ٢٠٢٤.pdf", "لقطة-شاشة_١.png", "ⵜⴰⵎⴰⵣⵉⵖⵜ.txt", "report\u200f.pdf", ""]
)


@SETTINGS
@given(
    kind=st.sampled_from(sorted(KINDS)),
    name=st.one_of(arabic_names, st.text(max_size=120)),
    content_type=st.text(max_size=60),
)
def test_metadata_round_trips(
    intake_key: PrivateKey, kind: str, name: str, content_type: str
) -> None:
    metadata = EnvelopeMetadata(kind, name, content_type)
    envelope = seal_bytes(b"x", [intake_key.public_key], metadata)
    assert open_bytes(envelope, [intake_key]) == (metadata, b"x")
    assert json.loads(metadata.to_json()) == {"kind": kind, "name": name, "type": content_type}


def test_arabic_file_name_travels_as_utf8_inside_the_ciphertext(intake_key: PrivateKey) -> None:
    name = "تقرير الحادثة ٢٠٢٤.pdf"
    envelope = seal_bytes(b"%PDF", [intake_key.public_key], EnvelopeMetadata("attachment", name))
    assert name.encode() not in envelope
    metadata, _ = open_bytes(envelope, [intake_key])
    assert metadata.name == name
    assert metadata.content_type == "application/octet-stream"


def test_metadata_too_large_is_refused_before_anything_is_written(
    intake_key: PrivateKey,
) -> None:
    sink = Sink()
    with pytest.raises(EnvelopeError, match="metadata too large"):
        EnvelopeWriter(sink, [intake_key.public_key], EnvelopeMetadata("report", "a" * 16384))
    assert sink.pieces == []
    fits = "a" * (MAX_METADATA_BYTES - len(EnvelopeMetadata("report", "").to_json()))
    envelope = seal_bytes(b"", [intake_key.public_key], EnvelopeMetadata("report", fits))
    assert open_bytes(envelope, [intake_key])[0].name == fits


# --- Writer life cycle ----------------------------------------------------------------


def test_writer_refuses_writes_after_close(intake_key: PrivateKey) -> None:
    writer = EnvelopeWriter(Sink(), [intake_key.public_key], REPORT)
    writer.write(b"a")
    writer.close()
    with pytest.raises(EnvelopeError):
        writer.write(b"b")
    with pytest.raises(EnvelopeError):
        writer.close()


def test_abandoned_writer_leaves_an_envelope_every_reader_rejects(
    intake_key: PrivateKey,
) -> None:
    sink = Sink()
    writer = EnvelopeWriter(sink, [intake_key.public_key], REPORT)
    writer.write(pattern(3 * CHUNK_SIZE))
    with pytest.raises(EnvelopeError, match="truncated"):
        open_bytes(sink.data, [intake_key])


# --- Constant memory ------------------------------------------------------------------


class PatternReader:
    """A source of ``size`` bytes that never holds more than one block of them."""

    def __init__(self, size: int) -> None:
        self.remaining = size
        self._block = pattern(CHUNK_SIZE)
        self.hash = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        size = min(size if size >= 0 else CHUNK_SIZE, self.remaining, CHUNK_SIZE)
        self.remaining -= size
        self.hash.update(self._block[:size])
        return self._block[:size]


class HashingSink:
    def __init__(self) -> None:
        self.hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        self.hash.update(data)
        self.size += len(data)


def test_memory_stays_constant_for_a_large_stream(
    intake_key: PrivateKey, tmp_path: os.PathLike[str]
) -> None:
    size = 64 * 1024 * 1024
    source = PatternReader(size)
    path = os.path.join(tmp_path, "large.envelope")
    sink = HashingSink()
    tracemalloc.start()
    try:
        with open(path, "wb") as out:
            digest = seal_stream(as_binary(source), out, [intake_key.public_key], ATTACHMENT)
        with open(path, "rb") as src:
            opened = open_stream(src, sink, [intake_key])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert digest == opened.digest == Digest(size, source.hash.digest())
    assert sink.size == size and sink.hash.digest() == digest.sha256
    assert peak < 1024 * 1024, f"peak {peak} bytes"
