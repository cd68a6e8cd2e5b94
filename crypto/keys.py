"""Key identities and passphrase-wrapped secrets.

A private key never rests in the clear: it is wrapped with a key derived from a
passphrase by argon2id and sealed with secretbox (XSalsa20-Poly1305). The wrapped
form is a small JSON document so that it survives copying between hosts and says
which parameters opened it.
"""

import json
from dataclasses import dataclass
from typing import Any

import nacl.encoding
import nacl.exceptions
import nacl.hash
import nacl.pwhash.argon2id
import nacl.utils
from nacl.public import PrivateKey, PublicKey
from nacl.secret import SecretBox
from nacl.signing import SigningKey, VerifyKey

from crypto.encoding import b64decode, b64encode
from crypto.errors import CryptoError, WrappedKeyError, WrongPassphrase

KEY_ID_BYTES = 16
_KEY_ID_PREFIX = b"iblagh key id v1"
WRAP_VERSION = 1


def key_id(public_key: bytes) -> bytes:
    """The 16-byte identifier of a public key: BLAKE2b-128 of a fixed prefix and the key."""
    return nacl.hash.blake2b(
        _KEY_ID_PREFIX + public_key, digest_size=KEY_ID_BYTES, encoder=nacl.encoding.RawEncoder
    )


def key_id_hex(public_key: bytes) -> str:
    """The key id as 32 lowercase hex digits, for file names, logs and UIs."""
    return key_id(public_key).hex()


def generate_box_key() -> PrivateKey:
    """A new X25519 key pair (intake, recovery, officer or reporter key)."""
    return PrivateKey.generate()


def generate_signing_key() -> SigningKey:
    """A new Ed25519 signing key (unit signing key, officer-host sync key)."""
    return SigningKey.generate()


@dataclass(frozen=True)
class Argon2Params:
    """Cost of argon2id for wrapping secrets; stored beside every wrapped secret."""

    opslimit: int
    memlimit: int


# About 0.5 s and 256 MiB on the reference machine: once per officer login.
WRAP_PARAMS_DEFAULT = Argon2Params(
    opslimit=nacl.pwhash.argon2id.OPSLIMIT_MODERATE,
    memlimit=nacl.pwhash.argon2id.MEMLIMIT_MODERATE,
)
# For tests and benchmarks only: the minimum libsodium accepts.
WRAP_PARAMS_FAST = Argon2Params(
    opslimit=nacl.pwhash.argon2id.OPSLIMIT_MIN,
    memlimit=nacl.pwhash.argon2id.MEMLIMIT_MIN,
)


def _derive_wrap_key(passphrase: str, salt: bytes, params: Argon2Params) -> bytes:
    return nacl.pwhash.argon2id.kdf(
        SecretBox.KEY_SIZE,
        passphrase.encode("utf-8"),
        salt,
        opslimit=params.opslimit,
        memlimit=params.memlimit,
    )


def wrap_secret(
    secret: bytes, passphrase: str, params: Argon2Params = WRAP_PARAMS_DEFAULT
) -> bytes:
    """Wrap ``secret`` under ``passphrase``; returns the JSON document to store."""
    if not passphrase:
        raise CryptoError("a passphrase is required to wrap a secret")
    salt = nacl.utils.random(nacl.pwhash.argon2id.SALTBYTES)
    box = SecretBox(_derive_wrap_key(passphrase, salt, params))
    document = {
        "v": WRAP_VERSION,
        "kdf": "argon2id",
        "opslimit": params.opslimit,
        "memlimit": params.memlimit,
        "salt": b64encode(salt),
        "secretbox": b64encode(bytes(box.encrypt(secret))),
    }
    return json.dumps(document, sort_keys=True).encode("utf-8")


def unwrap_secret(wrapped: bytes, passphrase: str) -> bytes:
    """Open a document made by :func:`wrap_secret`; :class:`WrongPassphrase` if it fails."""
    document = _parse_wrapped(wrapped)
    params = Argon2Params(opslimit=document["opslimit"], memlimit=document["memlimit"])
    try:
        salt = b64decode(document["salt"], length=nacl.pwhash.argon2id.SALTBYTES)
        sealed = b64decode(document["secretbox"])
    except CryptoError as exc:
        raise WrappedKeyError("wrapped key has an invalid salt or ciphertext") from exc
    box = SecretBox(_derive_wrap_key(passphrase, salt, params))
    try:
        return box.decrypt(sealed)
    except nacl.exceptions.CryptoError as exc:
        raise WrongPassphrase("the passphrase does not open this key") from exc


def _parse_wrapped(wrapped: bytes) -> dict[str, Any]:
    try:
        parsed: Any = json.loads(wrapped)
    except (ValueError, UnicodeDecodeError) as exc:
        raise WrappedKeyError("not a wrapped key document") from exc
    if not isinstance(parsed, dict):
        raise WrappedKeyError("not a wrapped key document")
    document: dict[str, Any] = parsed
    version = document.get("v")
    if not isinstance(version, int) or isinstance(version, bool) or version != WRAP_VERSION:
        raise WrappedKeyError("unknown wrapped key version")
    if document.get("kdf") != "argon2id":
        raise WrappedKeyError("unknown key derivation")
    for field in ("opslimit", "memlimit"):
        if not isinstance(document.get(field), int) or isinstance(document.get(field), bool):
            raise WrappedKeyError(f"wrapped key lacks {field}")
    for field in ("salt", "secretbox"):
        if not isinstance(document.get(field), str):
            raise WrappedKeyError(f"wrapped key lacks {field}")
    # Refuse costs an attacker could use to exhaust memory on the officer host.
    if not (
        nacl.pwhash.argon2id.MEMLIMIT_MIN <= document["memlimit"] <= 4 * 1024**3
        and nacl.pwhash.argon2id.OPSLIMIT_MIN <= document["opslimit"] <= 64
    ):
        raise WrappedKeyError("wrapped key has out-of-range argon2id parameters")
    return document


def public_key_from_bytes(raw: bytes) -> PublicKey:
    """An X25519 public key from 32 raw bytes, with a typed error otherwise."""
    if len(raw) != PublicKey.SIZE:
        raise CryptoError("an X25519 public key is 32 bytes")
    return PublicKey(raw)


def verify_key_from_bytes(raw: bytes) -> VerifyKey:
    """An Ed25519 verify key from 32 raw bytes, with a typed error otherwise."""
    if len(raw) != 32:
        raise CryptoError("an Ed25519 verify key is 32 bytes")
    return VerifyKey(raw)
