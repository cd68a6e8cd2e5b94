"""Batch v1 (docs/batch.md): round trips, and every way to damage, forge or replay one."""

import hashlib
import io
import json
import struct
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nacl.signing import SigningKey

from crypto.batch import (
    MAGIC,
    SIGNATURE_DOMAIN,
    BatchHeader,
    BatchWriter,
    VerifiedBatch,
    check_not_replayed,
    read_batch,
)
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

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
DAMAGE_SETTINGS = settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
SIGNER = SigningKey(hashlib.sha256(b"iblagh batch test signer").digest())
STRANGER = SigningKey(hashlib.sha256(b"iblagh batch test stranger").digest())
FIXED_TIME = 1_795_000_000  # 2026-11-18T...Z

Entry = tuple[str, dict[str, Any], bytes]


def pattern(size: int, seed: int = 0) -> bytes:
    return hashlib.shake_256(b"batch content %d" % seed).digest(size)


def header(direction: str = "inbound", sequence: int = 1, key: SigningKey = SIGNER) -> BatchHeader:
    made = BatchHeader.new("inbound" if direction == "inbound" else "outbound", sequence, key)
    return made


def write(entries: list[Entry], head: BatchHeader | None = None, key: SigningKey = SIGNER) -> bytes:
    out = io.BytesIO()
    writer = BatchWriter(out, key, head or header(key=key))
    for entry_type, fields, content in entries:
        writer.add(entry_type, fields, content)
    writer.close()
    return out.getvalue()


def read(
    data: bytes, stage: Path | None = None, direction: str = "inbound", keys: Any = None
) -> VerifiedBatch:
    return read_batch(
        io.BytesIO(data),
        keys if keys is not None else [SIGNER.verify_key],
        stage,
        direction="inbound" if direction == "inbound" else "outbound",
    )


SAMPLE: list[Entry] = [
    ("submission", {"submission": {"id": "a" * 32}}, b""),
    ("blob", {"name": "body"}, pattern(300, 1)),
    ("blob", {"name": "attachment-1"}, pattern(70_000, 2)),
    ("receipt", {"batch_id": "b" * 32}, b'{"v": 1}'),
]


def entry_offsets(data: bytes) -> list[tuple[int, int]]:
    """(start, end) of each entry, from its mark to the end of its content."""
    header_length = struct.unpack(">I", data[len(MAGIC) : len(MAGIC) + 4])[0]
    offset = len(MAGIC) + 4 + header_length
    spans = []
    while data[offset : offset + 1] == b"E":
        start = offset
        descriptor_length = struct.unpack(">I", data[offset + 1 : offset + 5])[0]
        offset += 5 + descriptor_length
        content_length = struct.unpack(">Q", data[offset : offset + 8])[0]
        offset += 8 + content_length
        spans.append((start, offset))
    return spans


def staged_files(stage: Path) -> list[Path]:
    return [path for path in stage.rglob("*") if path.is_file()] if stage.exists() else []


# --- round trip -------------------------------------------------------------------------


def test_a_batch_round_trips_with_its_descriptors_and_contents(tmp_path: Path) -> None:
    data = write(SAMPLE)
    with read(data, tmp_path / "stage") as batch:
        assert batch.header.direction == "inbound"
        assert batch.header.signer == key_id_hex(bytes(SIGNER.verify_key))
        assert [e.type for e in batch.entries] == ["submission", "blob", "blob", "receipt"]
        for entry, (_, fields, content) in zip(batch.entries, SAMPLE, strict=True):
            assert entry.descriptor == {**fields, "index": entry.index, "type": entry.type}
            assert entry.size == len(content)
            assert entry.sha256 == hashlib.sha256(content).digest()
            with batch.open_content(entry) as staged:
                assert staged.read() == content
        assert batch.entries[0].path is None, "an empty content stages nothing"
    assert staged_files(tmp_path / "stage") == []


@SETTINGS
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["submission", "blob", "ack", "reply", "receipt"]),
            st.dictionaries(
                st.text(min_size=1, max_size=10).filter(lambda k: k not in ("index", "type")),
                st.one_of(st.integers(), st.text(max_size=30), st.booleans(), st.none()),
                max_size=4,
            ),
            st.binary(max_size=3000),
        ),
        max_size=8,
    ),
    st.sampled_from(["inbound", "outbound"]),
    st.integers(min_value=1, max_value=2**53),
)
def test_any_entries_round_trip(entries: list[Entry], direction: str, sequence: int) -> None:
    data = write(entries, header(direction, sequence))
    batch = read(data, direction=direction)
    assert batch.header.sequence == sequence
    assert len(batch.entries) == len(entries)
    for entry, (entry_type, fields, content) in zip(batch.entries, entries, strict=True):
        assert entry.type == entry_type
        assert {k: v for k, v in entry.descriptor.items() if k not in ("index", "type")} == fields
        assert entry.sha256 == hashlib.sha256(content).digest()


def test_an_empty_batch_is_valid() -> None:
    batch = read(write([]))
    assert batch.entries == ()


def test_content_streams_through_writer_and_reader_in_constant_memory(tmp_path: Path) -> None:
    size = 24 * 1024 * 1024
    source = tmp_path / "big"
    with source.open("wb") as handle:
        for index in range(size // (1024 * 1024)):
            handle.write(pattern(1024 * 1024, index))
    batch_path = tmp_path / "big.batch"
    tracemalloc.start()
    try:
        with batch_path.open("wb") as out, source.open("rb") as content:
            writer = BatchWriter(out, SIGNER, header())
            writer.add("blob", {"name": "attachment-1"}, content, size)
            writer.close()
        with batch_path.open("rb") as src:
            batch = read_batch(src, [SIGNER.verify_key], tmp_path / "stage", direction="inbound")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    with batch:
        assert batch.entries[0].size == size
        assert batch.entries[0].path is not None
        assert batch.entries[0].path.stat().st_size == size
    assert peak < 2 * 1024 * 1024, f"peak {peak} bytes for a {size}-byte content"


# --- damage: nothing is handed out, nothing stays staged --------------------------------

GOOD = write(SAMPLE)


@DAMAGE_SETTINGS
@given(st.integers(min_value=0, max_value=len(GOOD) - 1), st.integers(min_value=0, max_value=7))
def test_any_flipped_bit_is_refused_and_stages_nothing(
    tmp_path: Path, position: int, bit: int
) -> None:
    damaged = bytearray(GOOD)
    damaged[position] ^= 1 << bit
    stage = tmp_path / f"stage-{position}-{bit}"
    with pytest.raises(BatchError):
        read(bytes(damaged), stage)
    assert staged_files(stage) == []


@DAMAGE_SETTINGS
@given(st.integers(min_value=0, max_value=len(GOOD) - 1))
def test_any_truncation_is_a_truncated_batch(tmp_path: Path, length: int) -> None:
    stage = tmp_path / f"stage-{length}"
    with pytest.raises(TruncatedBatch, match="truncated"):
        read(GOOD[:length], stage)
    assert staged_files(stage) == []


def test_truncation_inside_the_magic_is_truncated_but_garbage_is_not_a_batch() -> None:
    with pytest.raises(TruncatedBatch):
        read(MAGIC[:5])
    with pytest.raises(MalformedBatch, match="not an Iblagh batch"):
        read(b"PK\x03\x04" + GOOD[4:])


def test_swapped_entries_are_reordered() -> None:
    spans = entry_offsets(GOOD)
    (a_start, a_end), (b_start, b_end) = spans[1], spans[2]
    swapped = GOOD[:a_start] + GOOD[b_start:b_end] + GOOD[a_start:a_end] + GOOD[b_end:]
    with pytest.raises(ReorderedBatch, match="entry 2 is at position 1"):
        read(swapped)


def test_a_dropped_middle_entry_is_caught_by_its_successors_index() -> None:
    spans = entry_offsets(GOOD)
    start, end = spans[1]
    with pytest.raises(ReorderedBatch):
        read(GOOD[:start] + GOOD[end:])


def test_dropped_last_entries_are_missing_entries() -> None:
    spans = entry_offsets(GOOD)
    start, end = spans[-1][0], spans[-1][1]
    with pytest.raises(TruncatedBatch, match="entries were removed"):
        read(GOOD[:start] + GOOD[end:])


def test_an_entry_repeated_in_place_of_another_is_reordered() -> None:
    spans = entry_offsets(GOOD)
    (a_start, a_end), (b_start, b_end) = spans[1], spans[2]
    repeated = GOOD[:b_start] + GOOD[a_start:a_end] + GOOD[b_end:]
    with pytest.raises(ReorderedBatch):
        read(repeated)


def test_a_batch_from_an_untrusted_key_is_forged_before_its_entries_are_read(
    tmp_path: Path,
) -> None:
    stage = tmp_path / "stage"
    with pytest.raises(ForgedBatch, match="not trusted"):
        read(write(SAMPLE, key=STRANGER), stage)
    assert staged_files(stage) == []


def test_a_batch_naming_a_trusted_signer_but_signed_by_another_is_forged() -> None:
    data = bytearray(write(SAMPLE, key=STRANGER))
    header_length = struct.unpack(">I", data[len(MAGIC) : len(MAGIC) + 4])[0]
    start = len(MAGIC) + 4
    document = json.loads(data[start : start + header_length])
    document["signer"] = key_id_hex(bytes(SIGNER.verify_key))
    new_header = json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
    assert len(new_header) == header_length
    data[start : start + header_length] = new_header
    # Recompute the digest, as a forger can; only the signature then stands in the way.
    body = bytes(data[: len(data) - 96])
    data[len(data) - 96 : len(data) - 64] = hashlib.sha256(body).digest()
    with pytest.raises(ForgedBatch, match="signature does not verify"):
        read(bytes(data))


def test_changed_content_with_a_recomputed_digest_is_forged() -> None:
    data = bytearray(GOOD)
    spans = entry_offsets(GOOD)
    data[spans[1][1] - 1] ^= 0xFF
    body = bytes(data[: len(data) - 96])
    data[len(data) - 96 : len(data) - 64] = hashlib.sha256(body).digest()
    with pytest.raises(ForgedBatch, match="signature"):
        read(bytes(data))


def test_changed_content_alone_is_caught_by_the_digest() -> None:
    data = bytearray(GOOD)
    data[entry_offsets(GOOD)[2][1] - 10] ^= 1
    with pytest.raises(ForgedBatch, match="altered or damaged"):
        read(bytes(data))


def test_a_signature_is_over_the_domain_and_the_digest() -> None:
    digest, signature = GOOD[-96:-64], GOOD[-64:]
    assert digest == hashlib.sha256(GOOD[:-96]).digest()
    SIGNER.verify_key.verify(SIGNATURE_DOMAIN + digest, signature)


def test_a_batch_of_the_other_direction_is_misdirected() -> None:
    with pytest.raises(MisdirectedBatch, match="outbound batch, not an inbound"):
        read(write(SAMPLE, header("outbound")))


def test_data_after_the_signature_is_refused() -> None:
    with pytest.raises(MalformedBatch, match="follows the signature"):
        read(GOOD + b"\x00")
    with pytest.raises(MalformedBatch):
        read(GOOD + GOOD)


def test_a_repeated_json_member_is_malformed() -> None:
    head = header()
    raw = head.to_json()[:-1] + b',"sequence":7}'
    data = MAGIC + struct.pack(">I", len(raw)) + raw
    with pytest.raises(MalformedBatch, match="repeated"):
        read(data)


@pytest.mark.parametrize(
    "change",
    [
        {"direction": "sideways"},
        {"batch_id": "XYZ"},
        {"sequence": 0},
        {"sequence": True},
        {"created_at": "yesterday"},
        {"extra": 1},
    ],
)
def test_a_header_outside_the_spec_is_malformed(change: dict[str, Any]) -> None:
    document = json.loads(header().to_json())
    document.update(change)
    raw = json.dumps(document).encode()
    with pytest.raises(MalformedBatch):
        read(MAGIC + struct.pack(">I", len(raw)) + raw + b"T")


# --- writer ---------------------------------------------------------------------------


def test_the_writer_refuses_short_content_reserved_fields_and_a_foreign_header() -> None:
    writer = BatchWriter(io.BytesIO(), SIGNER, header())
    with pytest.raises(BatchError, match="ended before"):
        writer.add("blob", {}, io.BytesIO(b"abc"), 10)
    with pytest.raises(BatchError, match="set by the writer"):
        writer.add("blob", {"index": 3})
    with pytest.raises(BatchError, match="another signer"):
        BatchWriter(io.BytesIO(), STRANGER, header())


def test_an_abandoned_writer_leaves_a_truncated_batch() -> None:
    out = io.BytesIO()
    writer = BatchWriter(out, SIGNER, header())
    writer.add("blob", {}, b"half")
    with pytest.raises(TruncatedBatch):
        read(out.getvalue())


# --- replay -----------------------------------------------------------------------------


def test_replays_are_refused_by_id_and_by_sequence() -> None:
    head = header(sequence=5)
    check_not_replayed(head, already_imported=False, last_sequence=None)
    check_not_replayed(head, already_imported=False, last_sequence=4)
    with pytest.raises(ReplayedBatch, match="already imported"):
        check_not_replayed(head, already_imported=True, last_sequence=4)
    with pytest.raises(ReplayedBatch, match="not newer than number 5"):
        check_not_replayed(head, already_imported=False, last_sequence=5)


# --- known answer -----------------------------------------------------------------------

KNOWN_SEED = bytes(range(32))
KNOWN_HEADER = BatchHeader(
    direction="outbound",
    batch_id="00112233445566778899aabbccddeeff",
    sequence=7,
    created_at="2026-11-28T18:04:00Z",
    signer=key_id_hex(bytes(SigningKey(KNOWN_SEED).verify_key)),
)
KNOWN_ENTRIES: list[Entry] = [
    ("ack", {"submission_id": "0123456789abcdef0123456789abcdef"}, b""),
    ("reply", {"reply_id": "f" * 32, "reporter_id": "e" * 32}, b"envelope bytes"),
]


def test_the_known_answer_of_docs_batch_md() -> None:
    """Ed25519 and SHA-256 are deterministic: this batch is the same bytes everywhere."""
    data = write(KNOWN_ENTRIES, KNOWN_HEADER, SigningKey(KNOWN_SEED))
    vector = json.loads((Path(__file__).parents[1] / "vectors" / "batch_v1.json").read_text())
    assert data.hex() == vector["batch"]
    assert hashlib.sha256(data).hexdigest() == vector["sha256"]
    batch = read(data, direction="outbound", keys=[SigningKey(KNOWN_SEED).verify_key])
    assert [entry.type for entry in batch.entries] == ["ack", "reply"]


BATCH_VECTORS = json.loads(
    (Path(__file__).parents[1] / "vectors" / "batch_v1.json").read_text(encoding="utf-8")
)


@pytest.mark.parametrize(
    "vector", BATCH_VECTORS["bad"], ids=[vector["description"] for vector in BATCH_VECTORS["bad"]]
)
def test_bad_batch_vector(vector: dict[str, str], tmp_path: Path) -> None:
    from crypto import errors

    key = SigningKey(bytes.fromhex(BATCH_VECTORS["signer_seed"]))
    expected: type[BatchError] = getattr(errors, vector["error"])
    with pytest.raises(BatchError) as caught:
        read(bytes.fromhex(vector["batch"]), tmp_path / "stage", "outbound", [key.verify_key])
    assert type(caught.value) is expected
    assert staged_files(tmp_path / "stage") == []
