"""Small, strict encodings shared by the wire formats."""

import base64
import binascii
import json
from typing import Any

from crypto.errors import CryptoError


def b64encode(data: bytes) -> str:
    """Standard base64 with padding, as ASCII text."""
    return base64.b64encode(data).decode("ascii")


def b64decode(text: str, *, length: int | None = None) -> bytes:
    """Decode strict standard base64, optionally of an exact decoded length."""
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, AttributeError) as exc:
        raise CryptoError("invalid base64") from exc
    if length is not None and len(data) != length:
        raise CryptoError(f"expected {length} bytes, got {len(data)}")
    return data


def canonical_json(value: Any) -> bytes:
    """The one byte form of a JSON value that is signed: sorted keys, no spaces, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )
