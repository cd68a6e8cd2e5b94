"""Signed sync requests: how the officer host proves itself to the public host.

Every request carries a timestamp, a random nonce and an Ed25519 signature over

    "iblagh-sync/1" LF method LF path LF hex(sha256(body)) LF timestamp LF nonce

where ``path`` includes the query string. The public host checks the signature
against the sync keys of its verified recipient set, refuses timestamps outside a
window, and remembers nonces for that window so no request is accepted twice.
"""

import hashlib
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Protocol

import nacl.exceptions
from nacl.signing import SigningKey, VerifyKey

from crypto.encoding import b64decode, b64encode
from crypto.errors import CryptoError, SignatureError, StaleRequest, UnsignedRequest
from crypto.keys import key_id_hex

DOMAIN: Final = b"iblagh-sync/1"
HEADER_TIMESTAMP: Final = "X-Iblagh-Timestamp"
HEADER_NONCE: Final = "X-Iblagh-Nonce"
HEADER_SIGNATURE: Final = "X-Iblagh-Signature"
HEADER_KEY_ID: Final = "X-Iblagh-Key-Id"
MAX_SKEW_SECONDS: Final = 300
NONCE_BYTES: Final = 16


class HeaderLookup(Protocol):
    """Anything with ``get`` by header name: a dict, or Werkzeug's case-insensitive Headers."""

    def get(self, key: str, /) -> str | None: ...


@dataclass(frozen=True)
class VerifiedRequest:
    """What a verified request proved: which key signed it, when, with which nonce."""

    key_id: str
    timestamp: int
    nonce: str


def signing_message(
    method: str, path: str, body_sha256: bytes, timestamp: int, nonce: str
) -> bytes:
    """The exact bytes that are signed for a request."""
    if "\n" in method or "\n" in path or "\n" in nonce:
        raise CryptoError("line feed in a signed field")
    return b"\n".join(
        [
            DOMAIN,
            method.upper().encode("ascii"),
            path.encode("utf-8"),
            body_sha256.hex().encode("ascii"),
            str(timestamp).encode("ascii"),
            nonce.encode("ascii"),
        ]
    )


def sign_request(
    signing_key: SigningKey, method: str, path: str, body: bytes, now: float | None = None
) -> dict[str, str]:
    """The headers to add to a request so the public host accepts it."""
    timestamp = int(time.time() if now is None else now)
    nonce = secrets.token_hex(NONCE_BYTES)
    message = signing_message(method, path, hashlib.sha256(body).digest(), timestamp, nonce)
    return {
        HEADER_TIMESTAMP: str(timestamp),
        HEADER_NONCE: nonce,
        HEADER_KEY_ID: key_id_hex(bytes(signing_key.verify_key)),
        HEADER_SIGNATURE: b64encode(signing_key.sign(message).signature),
    }


def verify_request(
    verify_keys: Sequence[VerifyKey],
    method: str,
    path: str,
    body_sha256: bytes,
    headers: HeaderLookup,
    now: float | None = None,
    max_skew: int = MAX_SKEW_SECONDS,
) -> VerifiedRequest:
    """Check a request's signature and freshness; the caller checks the nonce for replay."""
    timestamp_text = headers.get(HEADER_TIMESTAMP)
    nonce = headers.get(HEADER_NONCE)
    signature_text = headers.get(HEADER_SIGNATURE)
    claimed_key_id = headers.get(HEADER_KEY_ID)
    if timestamp_text is None or nonce is None or signature_text is None or claimed_key_id is None:
        raise UnsignedRequest("request is not signed")
    if not (timestamp_text.isascii() and timestamp_text.isdigit() and len(timestamp_text) <= 12):
        raise UnsignedRequest("malformed timestamp")
    try:
        timestamp = int(timestamp_text)
        signature = b64decode(signature_text, length=64)
    except (ValueError, CryptoError) as exc:
        raise UnsignedRequest("malformed signature headers") from exc
    if len(nonce) != 2 * NONCE_BYTES or not all(c in "0123456789abcdef" for c in nonce):
        raise UnsignedRequest("malformed nonce")
    current = time.time() if now is None else now
    if abs(current - timestamp) > max_skew:
        raise StaleRequest("request timestamp outside the accepted window")
    try:
        message = signing_message(method, path, body_sha256, timestamp, nonce)
    except (CryptoError, UnicodeError) as exc:
        raise SignatureError("request cannot be signed as sent") from exc
    for verify_key in verify_keys:
        if key_id_hex(bytes(verify_key)) != claimed_key_id:
            continue
        try:
            verify_key.verify(message, signature)
        except nacl.exceptions.BadSignatureError as exc:
            raise SignatureError("bad request signature") from exc
        return VerifiedRequest(key_id=claimed_key_id, timestamp=timestamp, nonce=nonce)
    raise SignatureError("request signed by an unknown key")
