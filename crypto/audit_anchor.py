"""Signed checkpoints of the officer host's audit chain (docs/invariants.md, 11).

A checkpoint names how many entries the chain had, the hash of the last one and when.
It is signed with an Ed25519 key sealed to the unit (the officer-host sync key), which
the database does not hold in the clear: someone who can write the database but holds
no unlocked key can rewrite entries and recompute every hash, but cannot sign a
checkpoint for the rewritten chain, and the checkpoints already made name the old hashes.

Document (UTF-8 JSON, what the public host keeps write-once and an air-gap batch carries)::

    {"v": 1, "count": 42, "head": "<64 hex>", "time": "2026-12-05T10:00:00Z",
     "key_id": "<32 hex>", "signature": "<base64 Ed25519 over the message below>"}

Signed message: ``"iblagh-audit-anchor/1" LF count LF head LF time`` (ASCII).
"""

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import nacl.exceptions
from nacl.signing import SigningKey, VerifyKey

from crypto.encoding import b64decode, b64encode
from crypto.errors import CryptoError, SignatureError
from crypto.keys import key_id_hex

ANCHOR_DOMAIN = b"iblagh-audit-anchor/1"
# A checkpoint document is small; anything larger is refused unread.
MAX_ANCHOR_BYTES = 1024
_HEAD = re.compile(r"[0-9a-f]{64}")
_KEY_ID = re.compile(r"[0-9a-f]{32}")
_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
_MEMBERS = {"v", "count", "head", "time", "key_id", "signature"}


@dataclass(frozen=True)
class Checkpoint:
    """The audit chain's length and head hash at ``time`` (UTC, to the second)."""

    count: int
    head: str
    time: str

    def message(self) -> bytes:
        """The bytes the signature covers."""
        return b"\n".join(
            [ANCHOR_DOMAIN, str(self.count).encode(), self.head.encode(), self.time.encode()]
        )


@dataclass(frozen=True)
class SignedCheckpoint:
    """A checkpoint, the id of the key that signed it, and its document as sent."""

    checkpoint: Checkpoint
    key_id: str
    document: bytes


def sign_checkpoint(checkpoint: Checkpoint, signing_key: SigningKey) -> bytes:
    """The checkpoint's document, signed with ``signing_key``."""
    _check_fields(checkpoint.count, checkpoint.head, checkpoint.time)
    signature = signing_key.sign(checkpoint.message()).signature
    document = {
        "v": 1,
        "count": checkpoint.count,
        "head": checkpoint.head,
        "time": checkpoint.time,
        "key_id": key_id_hex(bytes(signing_key.verify_key)),
        "signature": b64encode(signature),
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode("ascii")


def parse_checkpoint(document: bytes) -> tuple[Checkpoint, str, bytes]:
    """Checkpoint, key id and signature of a document, its form checked, not its signature.

    Raises :class:`CryptoError` on anything malformed.
    """
    if len(document) > MAX_ANCHOR_BYTES:
        raise CryptoError("the audit anchor is too large")
    try:
        value: Any = json.loads(document)
    except (ValueError, UnicodeDecodeError) as exc:
        raise CryptoError("the audit anchor is not JSON") from exc
    if not isinstance(value, dict) or set(value) != _MEMBERS or value["v"] != 1:
        raise CryptoError("the audit anchor does not have the members of version 1")
    count, head, time = value["count"], value["head"], value["time"]
    _check_fields(count, head, time)
    key_id, signature = value["key_id"], value["signature"]
    if not isinstance(key_id, str) or not _KEY_ID.fullmatch(key_id):
        raise CryptoError("the audit anchor's key id is malformed")
    try:
        raw_signature = b64decode(signature) if isinstance(signature, str) else b""
    except (ValueError, CryptoError) as exc:
        raise CryptoError("the audit anchor's signature is malformed") from exc
    if len(raw_signature) != 64:
        raise CryptoError("the audit anchor's signature is malformed")
    return Checkpoint(count, head, time), key_id, raw_signature


def verify_checkpoint(document: bytes, verify_keys: Iterable[VerifyKey]) -> SignedCheckpoint:
    """The checkpoint, if one of ``verify_keys`` signed it; :class:`SignatureError` if not."""
    checkpoint, key_id, signature = parse_checkpoint(document)
    for key in verify_keys:
        if key_id_hex(bytes(key)) != key_id:
            continue
        try:
            key.verify(checkpoint.message(), signature)
        except nacl.exceptions.BadSignatureError as exc:
            raise SignatureError("the audit anchor's signature does not verify") from exc
        return SignedCheckpoint(checkpoint, key_id, document)
    raise SignatureError("the audit anchor is signed by a key this unit does not know")


def _check_fields(count: object, head: object, time: object) -> None:
    if not isinstance(count, int) or isinstance(count, bool) or not 0 <= count < 2**53:
        raise CryptoError("the audit anchor's count is malformed")
    if not isinstance(head, str) or not _HEAD.fullmatch(head):
        raise CryptoError("the audit anchor's head is malformed")
    if not isinstance(time, str) or not _TIME.fullmatch(time):
        raise CryptoError("the audit anchor's time is malformed")
