"""Generate tests/vectors/batch_v1.json, the batch v1 test vectors (docs/batch.md).

Run by hand from the repository root when the vectors need to change:

    .venv/bin/python tests/vectors/make_batch_vectors.py

Unlike envelopes, batches are deterministic (canonical JSON, SHA-256, Ed25519), so the
good vector is a known answer: any implementation that writes the same header and
entries with the same key must produce exactly these bytes. The bad vectors are damaged
copies, each with the error class a reader must raise. Every vector is checked against
crypto.batch.read_batch before the file is written.
"""

import hashlib
import io
import json
import struct
import sys
from pathlib import Path

from nacl.signing import SigningKey

from crypto import errors
from crypto.batch import MAGIC, BatchHeader, BatchWriter, read_batch
from crypto.keys import key_id_hex

OUTPUT = Path(__file__).with_name("batch_v1.json")
SEED = bytes(range(32))
KEY = SigningKey(SEED)
STRANGER = SigningKey(bytes(range(1, 33)))


def known_batch(key: SigningKey = KEY, direction: str = "outbound") -> bytes:
    header = BatchHeader(
        direction="outbound" if direction == "outbound" else "inbound",
        batch_id="00112233445566778899aabbccddeeff",
        sequence=7,
        created_at="2026-11-28T18:04:00Z",
        signer=key_id_hex(bytes(key.verify_key)),
    )
    out = io.BytesIO()
    writer = BatchWriter(out, key, header)
    writer.add("ack", {"submission_id": "0123456789abcdef0123456789abcdef"})
    writer.add("reply", {"reply_id": "f" * 32, "reporter_id": "e" * 32}, b"envelope bytes")
    writer.close()
    return out.getvalue()


def entry_spans(data: bytes) -> list[tuple[int, int]]:
    length = struct.unpack(">I", data[len(MAGIC) : len(MAGIC) + 4])[0]
    offset = len(MAGIC) + 4 + length
    spans = []
    while data[offset : offset + 1] == b"E":
        start = offset
        offset += 5 + struct.unpack(">I", data[offset + 1 : offset + 5])[0]
        offset += 8 + struct.unpack(">Q", data[offset : offset + 8])[0]
        spans.append((start, offset))
    return spans


def flip(data: bytes, position: int) -> bytes:
    damaged = bytearray(data)
    damaged[position] ^= 0x01
    return bytes(damaged)


def main() -> int:
    good = known_batch()
    (a0, a1), (b0, b1) = entry_spans(good)
    bad = {
        "flipped bit in the magic": (flip(good, 0), "MalformedBatch"),
        "flipped bit in the reply content": (flip(good, b1 - 1), "ForgedBatch"),
        "flipped bit in the digest": (flip(good, len(good) - 70), "ForgedBatch"),
        "flipped bit in the signature": (flip(good, len(good) - 1), "ForgedBatch"),
        "truncated before the trailer": (good[:b1], "TruncatedBatch"),
        "truncated in the signature": (good[:-1], "TruncatedBatch"),
        "empty file": (b"", "TruncatedBatch"),
        "entries swapped": (good[:a0] + good[b0:b1] + good[a0:a1] + good[b1:], "ReorderedBatch"),
        "last entry dropped": (good[:b0] + good[b1:], "TruncatedBatch"),
        "signed by another key": (known_batch(STRANGER), "ForgedBatch"),
        "inbound where outbound is expected": (
            known_batch(direction="inbound"),
            "MisdirectedBatch",
        ),
        "data after the signature": (good + b"\n", "MalformedBatch"),
    }
    document = {
        "description": "batch v1 vectors; read every one as an outbound batch trusting the key",
        "signer_seed": SEED.hex(),
        "signer_verify_key": bytes(KEY.verify_key).hex(),
        "batch": good.hex(),
        "sha256": hashlib.sha256(good).hexdigest(),
        "bad": [
            {"description": description, "batch": data.hex(), "error": error}
            for description, (data, error) in bad.items()
        ],
    }
    read_batch(io.BytesIO(good), [KEY.verify_key], None, direction="outbound")
    for description, (data, error) in bad.items():
        try:
            read_batch(io.BytesIO(data), [KEY.verify_key], None, direction="outbound")
        except errors.BatchError as exc:
            if type(exc) is not getattr(errors, error):
                print(f"{description}: {type(exc).__name__}, not {error}", file=sys.stderr)
                return 1
        else:
            print(f"{description}: accepted", file=sys.stderr)
            return 1
    OUTPUT.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {OUTPUT}: 1 good and {len(bad)} bad vectors")
    return 0


if __name__ == "__main__":
    sys.exit(main())
