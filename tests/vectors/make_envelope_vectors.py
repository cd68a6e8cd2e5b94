"""Generate tests/vectors/envelope_v1.json, the envelope v1 test vectors.

Run by hand from the repository root when the vectors need to change:

    .venv/bin/python tests/vectors/make_envelope_vectors.py

Sealing is randomised (fresh file key, ephemeral sealed-box keys, secretstream nonce),
so every run writes different envelopes: the vectors are decrypt-only, as in age's
testkit. The recipient keys are fixed, so a reader only needs the private key given in
each vector. Negative vectors are made by damaging a good envelope (flips, truncation,
dropped or reordered chunks) or by building one by hand that is authentic but breaks a
rule of docs/envelope.md; the low-level builder below follows the spec, not
crypto/envelope.py, so the positive vectors it makes also check the two agree.

Before writing, every vector is checked against crypto.envelope.open_bytes.
"""

import base64
import hashlib
import json
import struct
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import nacl.bindings as sodium
from nacl.public import PrivateKey, PublicKey, SealedBox

from crypto.envelope import (
    CHUNK_SIZE,
    MAX_METADATA_BYTES,
    EnvelopeMetadata,
    open_bytes,
    seal_bytes,
)
from crypto.errors import EnvelopeError
from crypto.keys import key_id

OUTPUT = Path(__file__).with_name("envelope_v1.json")
# Content up to this size is given in full; larger content only by size and SHA-256.
INLINE_CONTENT_MAX = 1024

MAGIC = b"IBLAGH/1"
STANZA_BYTES = 96
STREAM_HEADER_BYTES = 24
TAG_MESSAGE = sodium.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
TAG_PUSH = sodium.crypto_secretstream_xchacha20poly1305_TAG_PUSH
TAG_FINAL = sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL


def fixed_key(label: str) -> PrivateKey:
    """A recipient key that stays the same from one run to the next."""
    return PrivateKey.from_seed(hashlib.sha256(f"iblagh test vector key {label}".encode()).digest())


RECIPIENT_A = fixed_key("A")
RECIPIENT_B = fixed_key("B")
STRANGER = fixed_key("C")


def pseudo_random(size: int) -> bytes:
    return hashlib.shake_256(f"iblagh test vector content {size}".encode()).digest(size)


# --- Building envelopes by hand -------------------------------------------------------


def stanza(named: PublicKey, sealed_to: PublicKey, file_key: bytes) -> bytes:
    return key_id(bytes(named)) + SealedBox(sealed_to).encrypt(file_key)


def trailer(content: bytes) -> bytes:
    return struct.pack(">Q", len(content)) + hashlib.sha256(content).digest()


def craft(
    messages: Sequence[tuple[bytes, int]],
    *,
    recipients: Sequence[PublicKey] = (RECIPIENT_A.public_key,),
    stanzas: Sequence[bytes] | None = None,
    file_key: bytes | None = None,
    bind_header: bool = True,
) -> bytes:
    """An envelope whose secretstream messages are exactly ``messages`` (plaintext, tag)."""
    if file_key is None:
        file_key = sodium.crypto_secretstream_xchacha20poly1305_keygen()
    if stanzas is None:
        stanzas = [stanza(pk, pk, file_key) for pk in recipients]
    header = MAGIC + bytes([len(stanzas)]) + b"".join(stanzas)
    state = sodium.crypto_secretstream_xchacha20poly1305_state()
    out = [header, sodium.crypto_secretstream_xchacha20poly1305_init_push(state, file_key)]
    for index, (plaintext, tag) in enumerate(messages):
        ad = header if index == 0 and bind_header else None
        ciphertext = sodium.crypto_secretstream_xchacha20poly1305_push(state, plaintext, ad, tag)
        out.append(struct.pack(">I", len(ciphertext)) + ciphertext)
    return b"".join(out)


def metadata_json(**members: object) -> bytes:
    return json.dumps(members, sort_keys=True, ensure_ascii=False).encode("utf-8")


REPORT_METADATA = metadata_json(kind="report", name="", type="text/plain; charset=utf-8")


def crafted_report(content: bytes, *, meta: bytes = REPORT_METADATA) -> list[tuple[bytes, int]]:
    """The messages of a well-formed envelope, to be altered by the caller."""
    return [(meta, TAG_MESSAGE), (content, TAG_MESSAGE), (trailer(content), TAG_FINAL)]


def metadata_of_size(size: int) -> bytes:
    """Report metadata padded through its name to exactly ``size`` bytes of JSON."""
    empty = metadata_json(kind="report", name="", type="text/plain")
    meta = metadata_json(kind="report", name="a" * (size - len(empty)), type="text/plain")
    assert len(meta) == size
    return meta


# --- Taking envelopes apart -----------------------------------------------------------


@dataclass(frozen=True)
class Layout:
    """Where the parts of a well-formed envelope lie, for damaging it precisely."""

    header: bytes
    stream_header: bytes
    chunks: list[bytes]  # each with its 4-byte length prefix

    @property
    def header_end(self) -> int:
        return len(self.header)

    def chunk_start(self, index: int) -> int:
        start = len(self.header) + STREAM_HEADER_BYTES
        return start + sum(len(chunk) for chunk in self.chunks[:index])

    def join(self, chunks: Sequence[bytes], header: bytes | None = None) -> bytes:
        return (header or self.header) + self.stream_header + b"".join(chunks)


def layout(envelope: bytes) -> Layout:
    header_end = len(MAGIC) + 1 + envelope[len(MAGIC)] * STANZA_BYTES
    offset = header_end + STREAM_HEADER_BYTES
    chunks = []
    while offset < len(envelope):
        (length,) = struct.unpack(">I", envelope[offset : offset + 4])
        chunks.append(envelope[offset : offset + 4 + length])
        offset += 4 + length
    return Layout(envelope[:header_end], envelope[header_end : header_end + 24], chunks)


def flip(envelope: bytes, offset: int, mask: int = 0x01) -> bytes:
    damaged = bytearray(envelope)
    damaged[offset] ^= mask
    return bytes(damaged)


def set_byte(envelope: bytes, offset: int, value: int) -> bytes:
    damaged = bytearray(envelope)
    damaged[offset] = value
    return bytes(damaged)


# --- Vectors --------------------------------------------------------------------------


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def good(
    description: str,
    key: PrivateKey,
    envelope: bytes,
    metadata: bytes | EnvelopeMetadata,
    content: bytes,
) -> dict[str, object]:
    if isinstance(metadata, bytes):
        parsed = json.loads(metadata)
        kind, name, content_type = parsed["kind"], parsed["name"], parsed["type"]
    else:
        kind, name, content_type = metadata.kind, metadata.name, metadata.content_type
    result: dict[str, object] = {
        "kind": kind,
        "name": name,
        "type": content_type,
        "content_size": len(content),
        "content_sha256": hashlib.sha256(content).hexdigest(),
    }
    if len(content) <= INLINE_CONTENT_MAX:
        result["content"] = b64(content)
    return {
        "description": description,
        "recipient_private_key": b64(bytes(key)),
        "envelope": b64(envelope),
        "result": result,
    }


def bad(
    description: str, envelope: bytes, error: str = "EnvelopeError", key: PrivateKey = RECIPIENT_A
) -> dict[str, object]:
    return {
        "description": description,
        "recipient_private_key": b64(bytes(key)),
        "envelope": b64(envelope),
        "error": error,
    }


def sealed(content: bytes, metadata: EnvelopeMetadata, *keys: PrivateKey) -> bytes:
    return seal_bytes(content, [key.public_key for key in keys or (RECIPIENT_A,)], metadata)


def make_vectors() -> list[dict[str, object]]:
    vectors: list[dict[str, object]] = []
    add = vectors.append

    # Good envelopes from the reference writer.
    report = EnvelopeMetadata("report", "", "text/plain; charset=utf-8")
    add(good("empty content", RECIPIENT_A, sealed(b"", report), report, b""))
    one = EnvelopeMetadata("attachment", "one-byte.bin", "application/octet-stream")
    add(good("one byte of content", RECIPIENT_A, sealed(b"*", one), one, b"*"))
    for size, label in [
        (CHUNK_SIZE, "exactly one full content chunk (65536 bytes)"),
        (CHUNK_SIZE + 1, "one full content chunk and a chunk of one byte (65537 bytes)"),
        (200_000, "several content chunks: 3 x 65536 + 3392 bytes (200000 bytes)"),
    ]:
        meta = EnvelopeMetadata("attachment", f"{size}.bin", "application/octet-stream")
        add(good(label, RECIPIENT_A, sealed(pseudo_random(size), meta), meta, pseudo_random(size)))
    arabic_name = EnvelopeMetadata("attachment", "لقطة شاشة ٢٠٢٤-٠٥-١٢.png", "image/png")
    png = b"\x89PNG\r\n\x1a\n" + pseudo_random(56)
    add(good("Arabic file name", RECIPIENT_A, sealed(png, arabic_name), arabic_name, png))
    body = "بلاغ: حساب ينشر محتوى يحرض على العنف ضد مجموعة من الناس.\n".encode()
    two = sealed(body, report, RECIPIENT_A, RECIPIENT_B)
    add(good("two recipients, opened by the first (intake)", RECIPIENT_A, two, report, body))
    add(good("two recipients, opened by the second (recovery)", RECIPIENT_B, two, report, body))
    identity = EnvelopeMetadata("identity", "", "application/json")
    person = json.dumps({"name": "مريم", "phone": "+000 00 00 00"}, ensure_ascii=False).encode()
    add(good("identity section", RECIPIENT_A, sealed(person, identity), identity, person))

    # Good envelopes built by hand: what every reader must accept besides the writer's output.
    uneven = [
        (REPORT_METADATA, TAG_MESSAGE),
        (b"abc", TAG_MESSAGE),
        (b"d", TAG_MESSAGE),
        (b"efghi", TAG_MESSAGE),
        (trailer(b"abcdefghi"), TAG_FINAL),
    ]
    add(
        good(
            "content in short chunks of 3, 1 and 5 bytes (readers accept 1 to 65536 bytes)",
            RECIPIENT_A,
            craft(uneven),
            REPORT_METADATA,
            b"abcdefghi",
        )
    )
    largest = metadata_of_size(MAX_METADATA_BYTES)
    add(
        good(
            "metadata of exactly 16384 bytes, the maximum",
            RECIPIENT_A,
            craft(crafted_report(b"x", meta=largest)),
            largest,
            b"x",
        )
    )
    extra = metadata_json(kind="reply", name="", type="text/plain", future=1)
    add(
        good(
            "metadata with an unknown member, which readers ignore",
            RECIPIENT_A,
            craft(crafted_report(b"reply", meta=extra)),
            extra,
            b"reply",
        )
    )

    # Damaged copies of a small envelope: header 105, stream header 24, then chunks.
    small = sealed(b"Iblagh test vector.\n", report)
    parts = layout(small)
    meta_at, content_at, trailer_at = (parts.chunk_start(i) for i in range(3))
    add(bad("magic IBLAGH/2", set_byte(small, 7, ord("2"))))
    add(bad("flipped bit in the first byte of the magic", flip(small, 0)))
    add(bad("recipient count 0", set_byte(small, 8, 0)))
    add(bad("recipient count 17", set_byte(small, 8, 17)))
    add(bad("recipient count 2 but one stanza", set_byte(small, 8, 2)))
    add(bad("flipped bit in the key id of the only stanza", flip(small, 9), "NoMatchingRecipient"))
    add(bad("flipped bit in the sealed file key (ephemeral key)", flip(small, 9 + 16)))
    add(bad("flipped bit in the sealed file key (last byte)", flip(small, 9 + 16 + 79)))
    add(bad("flipped bit in the stream header", flip(small, parts.header_end + 5)))
    add(bad("metadata chunk length one more", flip(small, meta_at + 3)))
    add(bad("metadata chunk length above the maximum", set_byte(small, meta_at, 1)))
    add(bad("flipped bit in the metadata chunk (encrypted tag)", flip(small, meta_at + 4)))
    add(bad("flipped bit in the metadata chunk (body)", flip(small, meta_at + 20)))
    add(bad("flipped bit in the metadata chunk (MAC)", flip(small, content_at - 1)))
    add(bad("flipped bit in the content chunk", flip(small, content_at + 10)))
    add(bad("flipped bit in the trailer chunk", flip(small, trailer_at + 30)))
    add(bad("flipped bit in the last byte", flip(small, len(small) - 1, 0x80)))
    for cut, where in [
        (0, "empty file"),
        (4, "inside the magic"),
        (8, "after the magic"),
        (9, "after the recipient count"),
        (60, "inside the stanza"),
        (parts.header_end, "after the header"),
        (parts.header_end + 10, "inside the stream header"),
        (meta_at, "after the stream header"),
        (meta_at + 2, "inside a chunk length"),
        (meta_at + 30, "inside the metadata chunk"),
        (content_at, "after the metadata chunk"),
        (content_at + 20, "inside the content chunk"),
        (trailer_at, "after the content chunk, no trailer"),
        (trailer_at + 40, "inside the trailer chunk"),
        (len(small) - 1, "last byte missing"),
    ]:
        add(bad(f"truncated: {where}", small[:cut]))
    add(bad("one zero byte appended", small + b"\x00"))
    add(bad("trailer chunk repeated", small + parts.chunks[-1]))
    add(bad("envelope repeated", small + small))
    add(bad("metadata chunk dropped", parts.join(parts.chunks[1:])))
    add(bad("wrong key", small, "NoMatchingRecipient", STRANGER))

    # The header is the additional data of the metadata chunk: any change to it is found
    # by every recipient, including changes to stanzas that are not theirs.
    two_parts = layout(two)
    stanza_a = two_parts.header[9 : 9 + STANZA_BYTES]
    stanza_b = two_parts.header[9 + STANZA_BYTES :]
    add(bad("two recipients, flipped bit in the other recipient's key id", flip(two, 9 + 96)))
    add(bad("two recipients, flipped bit in the other recipient's stanza", flip(two, 9 + 96 + 50)))
    add(
        bad(
            "two recipients, the other recipient's stanza removed",
            two_parts.join(two_parts.chunks, header=MAGIC + b"\x01" + stanza_a),
        )
    )
    add(
        bad(
            "two recipients, stanzas swapped",
            two_parts.join(two_parts.chunks, header=MAGIC + b"\x02" + stanza_b + stanza_a),
        )
    )
    add(bad("two recipients, opened by a third key", two, "NoMatchingRecipient", STRANGER))

    # Two content chunks (65536 + 1 bytes): drop or reorder them.
    big_meta = EnvelopeMetadata("attachment", "reorder.bin", "application/octet-stream")
    big = layout(sealed(pseudo_random(CHUNK_SIZE + 1), big_meta))
    metadata_chunk, first, second, last = big.chunks
    add(bad("first content chunk dropped", big.join([metadata_chunk, second, last])))
    add(bad("second content chunk dropped", big.join([metadata_chunk, first, last])))
    add(bad("content chunks swapped", big.join([metadata_chunk, second, first, last])))

    # Authentic envelopes that break a rule of the format.
    content = b"Iblagh test vector.\n"
    add(bad("metadata not bound to the header", craft(crafted_report(content), bind_header=False)))
    messages = crafted_report(content)
    add(bad("metadata tagged FINAL", craft([(REPORT_METADATA, TAG_FINAL)])))
    add(bad("empty content chunk", craft([messages[0], (b"", TAG_MESSAGE), *messages[1:]])))
    add(bad("content chunk tagged PUSH", craft([messages[0], (content, TAG_PUSH), messages[2]])))
    no_final = [*messages[:2], (trailer(content), TAG_MESSAGE)]
    add(bad("trailer tagged MESSAGE, no FINAL chunk", craft(no_final)))
    content_final = [messages[0], (content, TAG_FINAL)]
    add(bad("no trailer: the content chunk is tagged FINAL", craft(content_final)))
    wrong_size = struct.pack(">Q", len(content) + 1) + hashlib.sha256(content).digest()
    add(bad("trailer size one too many", craft([*messages[:2], (wrong_size, TAG_FINAL)])))
    wrong_hash = struct.pack(">Q", len(content)) + hashlib.sha256(b"other").digest()
    add(bad("trailer SHA-256 of other content", craft([*messages[:2], (wrong_hash, TAG_FINAL)])))
    add(bad("trailer of 39 bytes", craft([*messages[:2], (trailer(content)[:39], TAG_FINAL)])))
    add(bad("trailer of 41 bytes", craft([*messages[:2], (trailer(content) + b"\0", TAG_FINAL)])))
    after_final = craft([*messages, (b"more", TAG_MESSAGE)])
    add(bad("an authentic chunk after the FINAL chunk", after_final))
    oversized = pseudo_random(CHUNK_SIZE + 1)
    add(bad("content chunk of 65537 bytes", craft(crafted_report(oversized))))
    short_chunk = struct.pack(">I", 16) + bytes(16)
    add(bad("chunk length 16, below the minimum 17", parts.join([short_chunk])))
    for description, raw_metadata in [
        ("metadata not UTF-8", b"\xff\xfe"),
        ("metadata not JSON", b"kind=report"),
        ("metadata a JSON array", b'["report", "", "text/plain"]'),
        ("metadata of unknown kind", metadata_json(kind="note", name="", type="text/plain")),
        ("metadata without kind", metadata_json(name="", type="text/plain")),
        ("metadata without type", metadata_json(kind="report", name="")),
        ("metadata name not a string", metadata_json(kind="report", name=7, type="text/plain")),
        ("metadata of 16385 bytes", metadata_of_size(MAX_METADATA_BYTES + 1)),
        ("metadata nested 8000 deep", b"[" * 8000 + b"]" * 8000),
    ]:
        add(bad(description, craft(crafted_report(content, meta=raw_metadata))))
    file_key = sodium.crypto_secretstream_xchacha20poly1305_keygen()
    a, b = RECIPIENT_A.public_key, RECIPIENT_B.public_key
    misfiled = craft(crafted_report(content), stanzas=[stanza(a, b, file_key)], file_key=file_key)
    add(bad("stanza names the key but is sealed to another", misfiled))
    first_fails = craft(
        crafted_report(content),
        stanzas=[stanza(a, b, file_key), stanza(a, a, file_key)],
        file_key=file_key,
    )
    add(bad("first stanza naming the key does not open, a later one would", first_fails))
    return vectors


def check(vector: dict[str, object]) -> None:
    """Refuse to write a vector that crypto.envelope does not answer as stated."""
    key = PrivateKey(base64.b64decode(str(vector["recipient_private_key"])))
    envelope = base64.b64decode(str(vector["envelope"]))
    try:
        metadata, content = open_bytes(envelope, [key])
    except EnvelopeError as exc:
        if type(exc).__name__ != vector.get("error"):
            raise SystemExit(f"{vector['description']}: {type(exc).__name__}: {exc}") from exc
        return
    result = vector.get("result")
    expected = {
        "kind": metadata.kind,
        "name": metadata.name,
        "type": metadata.content_type,
        "content_size": len(content),
        "content_sha256": hashlib.sha256(content).hexdigest(),
    }
    if len(content) <= INLINE_CONTENT_MAX:
        expected["content"] = b64(content)
    if result != expected:
        raise SystemExit(f"{vector['description']}: opened as {expected}, not {result}")


def main() -> None:
    vectors = make_vectors()
    descriptions = [str(vector["description"]) for vector in vectors]
    if len(set(descriptions)) != len(descriptions):
        raise SystemExit("two vectors share a description")
    for vector in vectors:
        check(vector)
    text = json.dumps(vectors, indent=2, ensure_ascii=False) + "\n"
    OUTPUT.write_text(text, encoding="utf-8")
    errors = sum("error" in vector for vector in vectors)
    print(
        f"wrote {len(vectors)} vectors ({len(vectors) - errors} good, {errors} bad), "
        f"{len(text.encode()) / 1024:.0f} KiB, to {OUTPUT}",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
