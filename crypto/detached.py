"""Detached Ed25519 signatures over whole files (a partner's hash list, for example).

The signature file holds the base64 of the 64-byte signature; the signer's verify key
is given as the base64 of its 32 bytes, pinned by the unit out of band.
"""

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from crypto.encoding import b64decode, b64encode
from crypto.errors import CryptoError, SignatureError

SIGNATURE_BYTES = 64


def sign_file(data: bytes, signing_key: SigningKey) -> str:
    """The base64 detached signature of ``data``."""
    return b64encode(signing_key.sign(data).signature)


def verify_file(data: bytes, signature_text: str, verify_key_text: str) -> bytes:
    """Check a detached signature; returns the verify key's 32 bytes, or raises
    :class:`~crypto.errors.SignatureError` (also for a malformed key or signature)."""
    try:
        key = b64decode(verify_key_text.strip(), length=32)
        signature = b64decode(signature_text.strip(), length=SIGNATURE_BYTES)
        VerifyKey(key).verify(data, signature)
    except (CryptoError, BadSignatureError, ValueError) as exc:
        raise SignatureError("the signature does not match the file and the key") from exc
    return key
